"""Sites: the tenants. A site is one shop, with its keys, domains and sending policy."""
