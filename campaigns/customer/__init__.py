"""The pages customers reach from our SMS: the short link back to the cart."""
