"""WooCommerce's webhooks: ``order.created`` and ``order.updated`` (WooCommerce → Settings →
Advanced → Webhooks), bodies as the REST API v3 Order (tests/fixtures/platforms/webhooks/).

- An order in ``processing`` or ``completed`` is the purchase. Its cart is found by what
  WooCommerce vouches for: the checkout left at payment of that order, else, for a logged-in
  customer (``customer_id``), the cart of the order's ``cart_hash`` among that customer's carts
  (the hash of the cart's contents, which the snippet reports from the shopper's
  ``woocommerce_cart_hash`` cookie: two shoppers with the same product share it), else the
  customer's open cart. Never by the billing phone: whoever checks out types it.
- An order still ``pending`` or ``failed`` is a checkout left at the payment: it is a cart of
  its own (id ``order-ID``) on the visitor of the shop's customer (else of the order itself),
  restored by the order's ``payment_url`` (WooCommerce's "pay for this order" page on the
  shop) when the body has one.
- ``billing.phone``, its first name and the consent field the shop named
  (``connect_platform --sms-consent-field``) are the shopper's claims, handed to the opt-in
  layer's gate as such (``origin.proof``): a ticked field starts the double opt-in of a number
  without a consent state, and ties the order's cart to it; nothing else changes a number.
- ``billing.email`` with the email consent field the shop named
  (``connect_platform --email-consent-field``) is the same claim for the address's email
  consent (never its SMS consent); without that field the order's address is not kept.
- Its status is also handed up for the order's own messages (:data:`ORDER_STATUSES`), with
  the billing phone and email as the buyer's claim (they receive the order's confirmation and
  shipping, nothing else).
"""

from __future__ import annotations

from typing import Any

from retargeting.platforms.models import PlatformConnection
from retargeting.platforms.orders import hand_order, order_items, record_order
from retargeting.platforms.payloads import (
    Unreadable,
    amount,
    first_email,
    first_phone,
    mapping,
    sequence,
    text,
)
from retargeting.sites.models import Site
from retargeting.tracking import schema
from retargeting.tracking.models import Cart
from retargeting.tracking.recording import Origin
from retargeting.tracking.server_carts import record_server_cart

TOPICS = ("order.created", "order.updated")
PAID = ("processing", "completed")
LEFT_AT_PAYMENT = ("pending", "failed")
TICKED = {"1", "yes", "on", "true", "checked", "oui"}
# The order's status for its own messages, from WooCommerce's (REST API v3 Order ``status``:
# pending, processing, on-hold, completed, cancelled, refunded, failed, trash). ``on-hold``
# awaits a payment the shop confirms by hand (a bank transfer): the order is placed;
# ``processing`` is paid; ``completed`` is "fulfilled and complete" (WooCommerce's words):
# shipped; refunded ends the order's messages as cancelled does. ``pending`` and ``failed``
# are a checkout left at the payment (a cart, below), not an order yet.
ORDER_STATUSES = {
    "on-hold": "placed",
    "processing": "paid",
    "completed": "shipped",
    "cancelled": "cancelled",
    "refunded": "cancelled",
}


def handle(
    *, connection: PlatformConnection, topic: str, payload: dict[str, Any], origin: Origin
) -> str:
    if topic not in TOPICS:
        return "ignored: topic not used"
    order_id = text(payload.get("id"))
    if not order_id:
        raise Unreadable("id", "the order's id")
    status = text(payload.get("status"))
    site = connection.site
    billing = mapping(payload.get("billing"))
    region = (text(billing.get("country")) or site.country).upper()[:2]
    phone = first_phone(
        [billing.get("phone"), mapping(payload.get("shipping")).get("phone")], region, site.country
    )
    customer_id = text(payload.get("customer_id"))
    customer_id = "" if customer_id in ("", "0") else customer_id
    _hand_order(site, payload, order_id, status, phone, customer_id)
    if status in PAID:
        return _purchase(site, payload, order_id, customer_id, origin)
    if status in LEFT_AT_PAYMENT and (phone or _email_claim(connection, payload)):
        return _left_at_payment(connection, payload, order_id, phone, customer_id, origin)
    return f"ignored: order {status or 'without a status'}"


def _ticked(payload: dict[str, Any], field: str) -> tuple[list[Any], list[Any]]:
    """The values of the order's meta ``field``, and those that say the box was ticked."""
    values = [
        meta.get("value")
        for meta in sequence(payload.get("meta_data"))
        if isinstance(meta, dict) and meta.get("key") == field
    ]
    return values, [value for value in values if value is True or text(value).lower() in TICKED]


def _email_claim(connection: PlatformConnection, payload: dict[str, Any]) -> dict[str, Any]:
    """The billing email with the consent the shop's named email field relays (a claim, kept
    with its proof); nothing without that field: an order's address alone is not kept."""
    field = connection.email_consent_field
    email = first_email([mapping(payload.get("billing")).get("email")])
    if not field or not email:
        return {}
    values, ticked = _ticked(payload, field)
    claim: dict[str, Any] = {
        "email": email,
        "email_proof": {"platform": "woocommerce", "field": field, "values": values[:3]},
    }
    if ticked:
        shown = text(ticked[0]) or "true"
        claim["email_consent"] = {
            "granted": True,
            "source": "woocommerce",
            "text": (connection.email_consent_text or f"WooCommerce checkout field {field}")
            + f" (order {text(payload.get('id'))}, {field}={shown})",
            "given_at": text(payload.get("date_created_gmt")) or None,
        }
    return claim


def _identify(
    connection: PlatformConnection, payload: dict[str, Any], phone: str | None
) -> dict[str, Any] | None:
    event: dict[str, Any] = {"type": "identify", **_email_claim(connection, payload)}
    if not phone and "email" not in event:
        return None
    if phone:
        event["phone"] = phone
    first_name = text(mapping(payload.get("billing")).get("first_name"))
    if first_name:
        event["first_name"] = first_name[:80]
    field = connection.sms_consent_field
    if not field or not phone:
        return event
    values, ticked = _ticked(payload, field)
    event["proof"] = {"platform": "woocommerce", "field": field, "values": values[:3]}
    if ticked:
        shown = text(ticked[0]) or "true"
        event["consent"] = {
            "granted": True,
            "source": "woocommerce",
            "text": (connection.sms_consent_text or f"WooCommerce checkout field {field}")
            + f" (order {text(payload.get('id'))}, {field}={shown})",
            "given_at": text(payload.get("date_created_gmt")) or None,
        }
    return event


def _left_at_payment(
    connection: PlatformConnection,
    payload: dict[str, Any],
    order_id: str,
    phone: str | None,
    customer_id: str,
    origin: Origin,
) -> str:
    site = connection.site
    items = []
    for line in sequence(payload.get("line_items")):
        line = mapping(line)
        items.append(
            {
                "sku": text(line.get("sku")) or text(line.get("product_id")) or "?",
                "name": text(line.get("name")) or "?",
                "price": amount(line.get("price", 0), "line_items[].price"),
                "quantity": line.get("quantity", 1),
            }
        )
    url = text(payload.get("payment_url")) or None
    if url and not site.owns_url(url):
        url = None
    try:
        event = schema.cart(
            {
                "cart": {
                    "id": f"order-{order_id}",
                    "currency": text(payload.get("currency")),
                    "total": amount(payload.get("total"), "total"),
                    "url": url,
                    "items": items,
                    "ref": text(payload.get("cart_hash")) or None,
                }
            },
            "",
        )
    except schema.PayloadError as exc:
        raise Unreadable(exc.path, str(exc)) from None
    # The billing phone is what the buyer typed (a claim): it never picks a browser, so the
    # order's cart stays on the visitor of the shop's customer id, or of the order itself.
    result = record_server_cart(
        site_id=site.pk,
        cart=event,
        origin=origin,
        customer_id=customer_id or f"order:{order_id}",
        phone=phone,
        identify=_identify(connection, payload, phone),
    )
    return f"order left at payment: cart order-{order_id} of {result.vid}"


def _purchase(
    site: Site,
    payload: dict[str, Any],
    order_id: str,
    customer_id: str,
    origin: Origin,
) -> str:
    cart = _cart_of(site, payload, order_id, customer_id)
    recorded = record_order(
        site=site,
        order_id=order_id,
        total=payload.get("total"),
        total_field="total",
        currency=payload.get("currency"),
        cart=cart,
        customer_id=customer_id,
        origin=origin,
    )
    if cart is not None or recorded.converted_cart_id is not None:
        return "order paid: its cart converted"
    return "order paid (no cart of it known)"


def _cart_of(site: Site, payload: dict[str, Any], order_id: str, customer_id: str) -> Cart | None:
    """The order's own cart, by what WooCommerce vouches for (never by the typed billing phone):
    the checkout left at payment (kept on the visitor this webhook named after the order or its
    customer: a browser cannot name a visitor so), else, for the shop's logged-in customer, the
    cart of the order's hash among that customer's visitors, else the customer's open cart."""
    carts = Cart.objects.filter(site=site).select_related("visitor").order_by("-last_change_at")
    own_visitors = [name for name in (customer_id, f"order:{order_id}") if name]
    own = carts.filter(
        external_id=f"order-{order_id}", visitor__customer_id__in=own_visitors
    ).first()
    if own is not None:
        return own
    if not customer_id:
        return None
    customers = carts.filter(visitor__customer_id=customer_id)
    cart_hash = text(payload.get("cart_hash"))
    if cart_hash:
        by_hash = customers.filter(ref=cart_hash).exclude(status=Cart.Status.REPLACED).first()
        if by_hash is not None:
            return by_hash
    return customers.filter(status=Cart.Status.OPEN).first()


def _hand_order(
    site: Site,
    payload: dict[str, Any],
    order_id: str,
    status: str,
    phone: str | None,
    customer_id: str,
) -> None:
    """The order's status for its own messages (:data:`ORDER_STATUSES`); its billing phone and
    email are the buyer's claim."""
    if status not in ORDER_STATUSES:
        return
    hand_order(
        site=site,
        order_id=order_id,
        status=ORDER_STATUSES[status],
        phone=phone,
        email=first_email([mapping(payload.get("billing")).get("email")]),
        customer_id=customer_id,
        total=payload.get("total"),
        currency=payload.get("currency"),
        items=order_items(sequence(payload.get("line_items"))),
    )
