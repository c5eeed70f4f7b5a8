"""Shopify's webhooks: checkouts become carts, orders and finished checkouts purchases, orders
and fulfillments the statuses of the messages after the order.

The store's own webhooks (Settings → Notifications → Webhooks), topics ``checkouts/create``,
``checkouts/update``, ``orders/create``, ``fulfillments/create`` and ``fulfillments/update``,
bodies as the REST Admin API's Checkout, Order and Fulfillment objects
(tests/fixtures/platforms/webhooks/ keeps Shopify's documented examples).

- A checkout is a cart: its ``token`` is the cart id (or, when the snippet already reported the
  browser's cart under the checkout's ``cart_token``, that cart, so one person has one cart),
  ``abandoned_checkout_url`` the restore link, ``total_price``/``presentment_currency``,
  ``line_items``. Its ``cart_token`` (else its token) is kept as the cart's ``ref``: the order
  names both, so it finds its cart by either.
- Its number (``sms_marketing_phone``, ``phone``, the shipping then billing address's, the
  customer's), first name and consent fields are what the shopper typed: claims, handed to the
  opt-in layer's gate as such (``origin.proof``). Consent is read only from Shopify's own
  fields, ``buyer_accepts_sms_marketing`` (with ``sms_marketing_phone``) or
  ``customer.sms_marketing_consent.state == "subscribed"``, kept as the proof; the gate starts
  the double opt-in of a number without a consent state and only then ties the cart to it.
  ``"unsubscribed"`` there withdraws a live consent. No consent field: no consent, no SMS.
- Its email address is the same claim for the address's email consent, read only from
  ``buyer_accepts_marketing`` (with the checkout's ``email``) or
  ``customer.email_marketing_consent.state``; SMS consent never implies email consent, nor the
  reverse. No email consent field: the address is not kept.
- A checkout with ``completed_at``, or an order whose ``checkout_token`` or ``cart_token`` names
  a cart, is the purchase: the cart converts (its reminders stop) and the order is attributed as
  any purchase (order id: Shopify's order ``id``). The order's phone finds nothing.
- An order is also handed up for its own messages (``orders.hand_order``): placed, paid or
  cancelled from ``financial_status`` and ``cancelled_at``, its phone and email the buyer's
  claim (they receive the order's confirmation and shipping, nothing else). A fulfillment is
  the order shipped, with Shopify's tracking link, or delivered where its ``shipment_status``
  says so.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone

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

logger = logging.getLogger(__name__)

TOPICS = (
    "checkouts/create",
    "checkouts/update",
    "orders/create",
    "fulfillments/create",
    "fulfillments/update",
)


def handle(*, site: Site, topic: str, payload: dict[str, Any], origin: Origin) -> str:
    """Apply one verified webhook; return what it did (kept with the delivery)."""
    if topic in ("checkouts/create", "checkouts/update"):
        return _checkout(site, payload, origin)
    if topic == "orders/create":
        return _order(site, payload, origin)
    if topic in ("fulfillments/create", "fulfillments/update"):
        return _fulfillment(site, payload)
    return "ignored: topic not used"


def _cart_token(value: Any) -> str:
    """A cart token without the ``?key=`` the storefront's /cart.js adds to it."""
    return (text(value) or "").split("?", 1)[0]


def _checkout(site: Site, payload: dict[str, Any], origin: Origin) -> str:
    token = text(payload.get("token"))
    if not token:
        raise Unreadable("token", "the checkout's token")
    cart_token = _cart_token(payload.get("cart_token"))
    known = _snippet_cart(site, cart_token) if cart_token else None
    # The same checkout reported again (an update, its completion) stays on its browser,
    # whatever its customer id now says.
    known = known or _snippet_cart(site, token)
    cart_id = known.external_id if known is not None else token
    regions = (_region(payload) or site.country, site.country)
    phone = first_phone(
        [
            payload.get("sms_marketing_phone"),
            payload.get("phone"),
            mapping(payload.get("shipping_address")).get("phone"),
            mapping(payload.get("billing_address")).get("phone"),
            mapping(payload.get("customer")).get("phone"),
        ],
        *regions,
    )
    event = _cart_event(site, payload, cart_id=cart_id, ref=cart_token or token)
    identify = _identify(payload, regions=regions) if phone else None
    email_claim = _email_claim(payload)
    if email_claim:
        identify = {**(identify or {"type": "identify"}), **email_claim}
    customer = mapping(payload.get("customer"))
    customer_id = text(customer.get("id")) or f"checkout:{token}"
    vid = known.visitor.vid if known is not None else None
    if identify is not None and "phone" in identify:
        phone = identify["phone"]
    result = record_server_cart(
        site_id=site.pk,
        cart=event,
        origin=origin,
        vid=vid,
        customer_id=customer_id,
        phone=phone,
        identify=identify,
    )
    if payload.get("completed_at"):
        converted = _convert(site, cart_id=cart_id, vid=result.vid)
        return "checkout completed: cart converted" if converted else "checkout completed"
    return "cart recorded" + (" with consent" if _grants(identify) else "")


def _snippet_cart(site: Site, cart_token: str) -> Cart | None:
    return (
        Cart.objects.filter(site=site, external_id=cart_token)
        .select_related("visitor")
        .order_by("-last_change_at")
        .first()
    )


def _region(payload: dict[str, Any]) -> str | None:
    for key in ("shipping_address", "billing_address"):
        code = text(mapping(payload.get(key)).get("country_code"))
        if code and len(code) == 2:
            return code.upper()
    return None


def _cart_event(site: Site, payload: dict[str, Any], *, cart_id: str, ref: str) -> dict[str, Any]:
    items = []
    for line in sequence(payload.get("line_items")):
        line = mapping(line)
        name = text(line.get("title")) or text(line.get("presentment_title")) or "?"
        variant = text(line.get("variant_title"))
        items.append(
            {
                "sku": text(line.get("sku"))
                or text(line.get("variant_id"))
                or text(line.get("product_id"))
                or "?",
                "name": f"{name} – {variant}" if variant else name,
                "price": amount(line.get("price"), "line_items[].price"),
                "quantity": line.get("quantity", 1),
            }
        )
    url = text(payload.get("abandoned_checkout_url")) or None
    if url and not site.owns_url(url):
        logger.warning(
            "site %s: a Shopify checkout's recovery link is not on the site's domains (%s): "
            "kept without it; add the store's domain with connect_platform --shop-domain",
            site.pk,
            url.split("?", 1)[0],
        )
        url = None
    body = {
        "id": cart_id,
        "currency": text(payload.get("presentment_currency")) or text(payload.get("currency")),
        "total": amount(payload.get("total_price"), "total_price"),
        "url": url,
        "items": items,
        "ref": ref,
    }
    try:
        return schema.cart({"cart": body}, "")
    except schema.PayloadError as exc:
        raise Unreadable(exc.path, str(exc)) from None


def _identify(payload: dict[str, Any], *, regions: tuple[str, str]) -> dict[str, Any] | None:
    """The checkout's number with what Shopify's consent fields say about it."""
    customer = mapping(payload.get("customer"))
    marketing = mapping(customer.get("sms_marketing_consent"))
    state = text(marketing.get("state"))
    sms_phone = first_phone([payload.get("sms_marketing_phone")], *regions)
    customer_phone = first_phone([customer.get("phone")], *regions)
    other = first_phone(
        [
            payload.get("phone"),
            mapping(payload.get("shipping_address")).get("phone"),
            mapping(payload.get("billing_address")).get("phone"),
        ],
        *regions,
    )
    first_name = text(customer.get("first_name")) or text(
        mapping(payload.get("billing_address")).get("first_name")
    )
    event: dict[str, Any] = {"type": "identify"}
    if first_name:
        event["first_name"] = first_name[:80]
    if payload.get("buyer_accepts_sms_marketing") is True and sms_phone:
        event["phone"] = sms_phone
        event["consent"] = {
            "granted": True,
            "source": "shopify",
            "text": "Shopify checkout: buyer_accepts_sms_marketing=true for "
            f"sms_marketing_phone {sms_phone} (checkout {text(payload.get('token'))}, "
            f"updated {text(payload.get('updated_at')) or '?'})",
            "given_at": text(payload.get("updated_at")) or text(payload.get("created_at")),
        }
    elif state == "subscribed" and (customer_phone or sms_phone):
        event["phone"] = customer_phone or sms_phone
        event["consent"] = {
            "granted": True,
            "source": "shopify",
            "text": "Shopify customer.sms_marketing_consent: state=subscribed, "
            f"opt_in_level={text(marketing.get('opt_in_level')) or '?'}, "
            f"consent_updated_at={text(marketing.get('consent_updated_at')) or '?'}, "
            f"consent_collected_from={text(marketing.get('consent_collected_from')) or '?'} "
            f"(customer {text(customer.get('id'))})",
            "given_at": text(marketing.get("consent_updated_at")),
        }
    elif state == "unsubscribed" and (customer_phone or sms_phone):
        event["phone"] = customer_phone or sms_phone
        event["consent"] = {
            "granted": False,
            "withdrawn": True,
            "source": "shopify",
            "text": "Shopify customer.sms_marketing_consent: state=unsubscribed, "
            f"consent_updated_at={text(marketing.get('consent_updated_at')) or '?'}",
        }
    else:
        phone = sms_phone or other or customer_phone
        if not phone:
            return None
        event["phone"] = phone
    event["proof"] = {
        "platform": "shopify",
        "buyer_accepts_sms_marketing": payload.get("buyer_accepts_sms_marketing"),
        "sms_marketing_phone": payload.get("sms_marketing_phone"),
        "customer_sms_marketing_consent": marketing or None,
    }
    return event


def _email_claim(payload: dict[str, Any]) -> dict[str, Any]:
    """The checkout's email address with what Shopify's email consent fields say about it
    (``buyer_accepts_marketing``, ``customer.email_marketing_consent``): the shopper's claim,
    kept with its proof. No consent field: the address is not kept."""
    customer = mapping(payload.get("customer"))
    marketing = mapping(customer.get("email_marketing_consent"))
    state = text(marketing.get("state"))
    checkout_email = first_email([payload.get("email")])
    customer_email = first_email([customer.get("email")])
    claim: dict[str, Any] = {}
    if payload.get("buyer_accepts_marketing") is True and checkout_email:
        claim["email"] = checkout_email
        claim["email_consent"] = {
            "granted": True,
            "source": "shopify",
            "text": f"Shopify checkout: buyer_accepts_marketing=true for email {checkout_email} "
            f"(checkout {text(payload.get('token'))}, "
            f"updated {text(payload.get('updated_at')) or '?'})",
            "given_at": text(payload.get("updated_at")) or text(payload.get("created_at")),
        }
    elif state == "subscribed" and (customer_email or checkout_email):
        claim["email"] = customer_email or checkout_email
        claim["email_consent"] = {
            "granted": True,
            "source": "shopify",
            "text": "Shopify customer.email_marketing_consent: state=subscribed, "
            f"opt_in_level={text(marketing.get('opt_in_level')) or '?'}, "
            f"consent_updated_at={text(marketing.get('consent_updated_at')) or '?'} "
            f"(customer {text(customer.get('id'))})",
            "given_at": text(marketing.get("consent_updated_at")),
        }
    elif state == "unsubscribed" and (customer_email or checkout_email):
        claim["email"] = customer_email or checkout_email
        claim["email_consent"] = {
            "granted": False,
            "withdrawn": True,
            "source": "shopify",
            "text": "Shopify customer.email_marketing_consent: state=unsubscribed, "
            f"consent_updated_at={text(marketing.get('consent_updated_at')) or '?'}",
        }
    else:
        return {}
    claim["email_proof"] = {
        "platform": "shopify",
        "buyer_accepts_marketing": payload.get("buyer_accepts_marketing"),
        "email": payload.get("email"),
        "customer_email_marketing_consent": marketing or None,
    }
    return claim


def _grants(identify: dict[str, Any] | None) -> bool:
    return bool(
        identify
        and (
            identify.get("consent", {}).get("granted")
            or identify.get("email_consent", {}).get("granted")
        )
    )


def _convert(site: Site, *, cart_id: str, vid: str) -> bool:
    """A finished checkout stops its cart's reminders at once; its order brings the revenue."""
    return bool(
        Cart.objects.filter(
            site=site, visitor__vid=vid, external_id=cart_id, status=Cart.Status.OPEN
        ).update(status=Cart.Status.CONVERTED, converted_at=timezone.now())
    )


def _order(site: Site, payload: dict[str, Any], origin: Origin) -> str:
    order_id = text(payload.get("id"))
    if not order_id:
        raise Unreadable("id", "the order's id")
    tokens = [
        token
        for token in (text(payload.get("checkout_token")), _cart_token(payload.get("cart_token")))
        if token
    ]
    cart = (
        Cart.objects.filter(Q(ref__in=tokens) | Q(external_id__in=tokens), site=site)
        .select_related("visitor")
        .order_by("-last_change_at")
        .first()
        if tokens
        else None
    )
    customer = mapping(payload.get("customer"))
    _hand_order(site, payload, order_id)
    recorded = record_order(
        site=site,
        order_id=order_id,
        total=payload.get("total_price"),
        total_field="total_price",
        currency=payload.get("currency"),
        cart=cart,
        customer_id=text(customer.get("id")),
        origin=origin,
    )
    if cart is not None:
        return "order recorded: its cart converted"
    if recorded.converted_cart_id is not None:
        return "order recorded: the customer's cart converted"
    return "order recorded (no cart of it known)"


# financial_status (REST Order, shopify.dev "Order" resource): pending, authorized,
# partially_paid, paid, partially_refunded, refunded, voided.
_PAID = ("paid", "partially_refunded", "refunded")
_VOIDED = ("voided",)


def _hand_order(site: Site, payload: dict[str, Any], order_id: str) -> None:
    """The order's status for its own messages: paid when Shopify says it was paid
    (``financial_status``), cancelled when it was (``cancelled_at``) or voided, else placed.
    Its phone and email (the order's, its addresses', its customer's) are the buyer's claim."""
    financial = text(payload.get("financial_status"))
    if payload.get("cancelled_at") or financial in _VOIDED:
        status = "cancelled"
    elif financial in _PAID:
        status = "paid"
    else:
        status = "placed"
    customer = mapping(payload.get("customer"))
    regions = (_region(payload) or site.country, site.country)
    hand_order(
        site=site,
        order_id=order_id,
        status=status,
        phone=first_phone(
            [
                payload.get("phone"),
                mapping(payload.get("shipping_address")).get("phone"),
                mapping(payload.get("billing_address")).get("phone"),
                customer.get("phone"),
            ],
            *regions,
        ),
        email=first_email(
            [payload.get("email"), payload.get("contact_email"), customer.get("email")]
        ),
        customer_id=text(customer.get("id")),
        total=payload.get("total_price"),
        currency=payload.get("currency"),
        items=order_items(sequence(payload.get("line_items"))),
    )


def _fulfillment(site: Site, payload: dict[str, Any]) -> str:
    """A fulfillment (REST Fulfillment resource: ``order_id``, ``status``, ``tracking_url``,
    ``tracking_urls``, ``shipment_status``) is the order shipped, or delivered where Shopify
    reports its ``shipment_status`` as ``delivered``. A cancelled or failed one ships nothing.
    Its tracking link is Shopify's own (signed): the shipping message may lead there."""
    order_id = text(payload.get("order_id"))
    if not order_id:
        raise Unreadable("order_id", "the fulfillment's order id")
    fulfillment_status = text(payload.get("status"))
    if fulfillment_status in ("cancelled", "error", "failure"):
        return f"fulfillment {fulfillment_status}: nothing shipped"
    delivered = text(payload.get("shipment_status")) == "delivered"
    links = [text(url) for url in sequence(payload.get("tracking_urls"))]
    links.append(text(payload.get("tracking_url")))
    tracking = next((url for url in links if url.lower().startswith("https://")), "")
    tracking = tracking or next((url for url in links if url), "")
    hand_order(
        site=site,
        order_id=order_id,
        status="delivered" if delivered else "shipped",
        tracking_url=tracking,
    )
    return f"order {order_id} {'delivered' if delivered else 'shipped'}"
