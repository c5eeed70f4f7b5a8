"""Site keys: the public key in the snippet and the secret key of the shop's server API.

The secret key is shown once and stored only as a SHA-256 digest: it is 32 random bytes, so
a plain digest cannot be reversed and lets the API find the site by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_BASE62 = string.digits + string.ascii_letters
PUBLIC_PREFIX = "pk_"
SECRET_PREFIX = "sk_"  # noqa: S105 - a prefix, not a secret


def _base62(length: int) -> str:
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def new_public_key() -> str:
    """A public site key, safe to print in a shop's HTML."""
    return PUBLIC_PREFIX + _base62(22)


def new_secret_key() -> str:
    """A secret site key for the shop's server (about 256 bits of randomness)."""
    return SECRET_PREFIX + _base62(43)


def hash_secret_key(secret_key: str) -> str:
    """The stored form of a secret key."""
    return hashlib.sha256(secret_key.encode()).hexdigest()


def secret_key_matches(*, secret_key: str, stored_hash: str) -> bool:
    """Compare a presented key with a stored digest in constant time."""
    return hmac.compare_digest(hash_secret_key(secret_key), stored_hash)
