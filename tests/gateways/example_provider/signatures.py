"""Example signs each webhook: HMAC-SHA256 of the body with the account's API key."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def sign(body: bytes) -> str:
    return hmac.new(settings.EXAMPLE_API_KEY.encode(), body, hashlib.sha256).hexdigest()
