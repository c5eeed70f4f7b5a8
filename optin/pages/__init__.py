"""The pages customers see: the hosted opt-in page and the confirmation link."""
