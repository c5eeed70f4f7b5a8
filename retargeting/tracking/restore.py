"""A reminded cart, rebuilt on any device from the reminder's link.

A short link's redirect adds ``_rc`` to the landing URL: a signed token naming the cart the
message was about, valid as long as the link itself. The snippet reads it on landing, asks
``GET /t/cart`` for the cart's contents and hands them to the page's ``restore`` callback
(docs/install-snippet.md, "Restoring a reminded cart"), so a shop whose cart lives in the
browser (or whose server cannot find that cart from the link) rebuilds it on the phone or
computer that opened the link.

Trust boundary: the token reveals that cart's contents (the items, their prices, links and
pictures, the total) and nothing else: not the number, the name or the address of the person
it was sent to, not which browser it came from. Anyone holding the link sees what the message
itself pointed at, as with the platforms' restore links, which carry the items in clear.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core import signing
from django.utils import timezone

from retargeting.tracking.models import Cart

RESTORE_PARAM = "_rc"
_SALT = "relance.tracking.restore"
# What a page may read of an item: what the cart event carried, nothing of its owner.
_ITEM_FIELDS = ("sku", "name", "price", "quantity", "url", "image")


def make_restore_token(*, cart_id: int, site_id: int, expires_at: datetime) -> str:
    """The token of ``cart_id`` of ``site_id``, good until ``expires_at``."""
    value = f"{site_id}.{cart_id}.{int(expires_at.timestamp())}"
    return signing.Signer(salt=_SALT).sign(value)


def cart_for_token(*, token: str, site_id: int, now: datetime | None = None) -> Cart | None:
    """The cart ``token`` names, if it is genuine, of this site and not expired."""
    try:
        value = signing.Signer(salt=_SALT).unsign(token)
        token_site, cart_id, expires = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        return None
    if token_site != site_id or (now or timezone.now()).timestamp() > expires:
        return None
    # Only a cart still open: a cart bought since is not put back in the shopper's basket.
    return Cart.objects.filter(pk=cart_id, site_id=site_id, status=Cart.Status.OPEN).first()


def restored_cart(cart: Cart) -> dict[str, Any]:
    """What the page is given: the cart as the shop's ``cart`` call described it."""
    items = []
    for item in cart.items or []:
        if not isinstance(item, dict):
            continue
        line = {key: item[key] for key in _ITEM_FIELDS if key in item}
        if "price" in line:  # stored as its digits ("29.95"): a number, as the page sent it
            line["price"] = float(Decimal(str(line["price"])))
        items.append(line)
    return {
        "id": cart.external_id,
        "currency": cart.currency,
        "total": float(cart.total),
        "url": cart.url,
        "items": items,
    }
