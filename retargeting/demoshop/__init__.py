"""The demo shop of the embedded mode (``/demo/shop/``)."""
