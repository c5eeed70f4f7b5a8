"""Tracking: visitors, their carts and the events the snippet and the shop's server send."""
