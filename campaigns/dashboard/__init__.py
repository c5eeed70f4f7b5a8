"""The marketer's pages: the dashboard, the sends and contacts, the installation page, and the
flow editor's preview and test sends. The engine (``campaigns``) never imports them."""
