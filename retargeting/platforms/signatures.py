"""The platforms' webhook signatures: base64 of HMAC-SHA256 of the raw body, keyed with the
secret the shop shares with its platform.

- Shopify: ``X-Shopify-Hmac-Sha256`` (shopify.dev, "Deliver webhooks through HTTPS": verify
  the HMAC over the raw body before parsing it).
- WooCommerce: ``X-WC-Webhook-Signature`` (``WC_Webhook::generate_signature``:
  ``base64_encode(hash_hmac('sha256', $payload, $secret, true))``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, secret: str, signature: str | None) -> bool:
    """Whether ``signature`` is the body's, compared in constant time."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), signature.strip().encode())
