"""Orders the shop's server or its platform reports (``POST /api/v1/orders``, Shopify's
``orders/create`` and ``fulfillments/create``, WooCommerce's ``order.updated``): read here,
handed to the layer above through the order hook (``hooks.report_order``).

The tracking core only reads and checks an order: its id, the status it reached (placed, paid,
shipped, delivered, cancelled), where its own messages may go (a phone, an email address),
what it holds, the carrier's tracking link. Who the phone's contact is, and what may be sent
to it, is the opt-in layer's gate and the campaign layer's to decide. A paid order is also the
purchase: it is recorded by the one purchase path (``recording.record_batch``), as
``POST /api/v1/purchases`` records one; the platforms record theirs through
``platforms.orders.record_order``, which takes the same path.
"""

from __future__ import annotations

from typing import Any

from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone, parse_phone
from retargeting.tracking import hooks, schema
from retargeting.tracking.proofs import Proof
from retargeting.tracking.recording import Origin, already_bought, record_batch
from retargeting.tracking.schema import PayloadError

STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled")
MAX_ORDER_ITEMS = 100
PRODUCT_ID_LENGTH = 128


def read_order(body: dict[str, Any], *, site: Site) -> dict[str, Any]:
    """The order of a server API body (CONTRACT "HTTP"), checked; raises ``PayloadError``
    (answered 400, nothing changed). Links (the items' pages) must be on the site's domains;
    the tracking link may be anywhere, http(s)."""
    status = body.get("status")
    if status not in STATUSES:
        raise PayloadError("status", "one of " + ", ".join(STATUSES))
    order: dict[str, Any] = {
        "order_id": schema.string_field(
            body, "order_id", "", max_length=schema.ORDER_ID_LENGTH, allow_number=True
        ),
        "status": status,
        "phone": _phone(body, site.country),
        "email": schema.email(body, ""),
        "vid": schema.validate_vid(body["vid"]) if body.get("vid") is not None else None,
        "customer_id": schema.customer_id(body),
        "total": None,
        "currency": "",
        "tracking_url": schema._url(body, "tracking_url", "") or "",
        "items": _items(body.get("items"), site=site),
    }
    if body.get("total") is not None:
        order["total"] = str(schema._amount(body, "total", ""))
        order["currency"] = schema._currency(body, "")
    elif body.get("currency") is not None:
        order["currency"] = schema._currency(body, "")
    if status == "paid" and order["total"] is None:
        # A paid order is the purchase: its revenue is needed, as /api/v1/purchases needs it.
        raise PayloadError("total", "a number ≥ 0 (required with status paid)")
    return order


def _phone(body: dict[str, Any], country: str) -> str | None:
    raw = body.get("phone")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > schema.PHONE_LENGTH:
        raise PayloadError("phone", "a phone number string")
    try:
        return parse_phone(raw, default_region=country).e164
    except InvalidPhone as exc:
        raise PayloadError("phone", f"a mobile number ({exc})") from exc


def _items(value: Any, *, site: Site) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError("items", "a list")
    if len(value) > MAX_ORDER_ITEMS:
        raise PayloadError("items", f"at most {MAX_ORDER_ITEMS} items")
    items = []
    for index, raw in enumerate(value):
        path = f"items[{index}]"
        if not isinstance(raw, dict):
            raise PayloadError(path, "an object")
        item: dict[str, Any] = {
            "name": schema.string_field(raw, "name", path, max_length=schema.ITEM_NAME_LENGTH)
        }
        for key, length in (("id", PRODUCT_ID_LENGTH), ("sku", schema.SKU_LENGTH)):
            found = schema.string_field(
                raw, key, path, max_length=length, required=False, allow_number=True
            )
            if found:
                item[key] = found
        if raw.get("price") is not None:
            item["price"] = str(schema._amount(raw, "price", path))
        item["quantity"] = schema._quantity(raw.get("quantity", 1), f"{path}.quantity")
        url = schema._url(raw, "url", path)
        if url:
            if not site.owns_url(url):
                raise PayloadError(f"{path}.url", "an http(s) URL on one of the site's domains")
            item["url"] = url
        image = schema._url(raw, "image", path)
        if image:
            item["image"] = image
        items.append(item)
    return items


def record_server_order(*, site: Site, order: dict[str, Any], origin: Origin) -> None:
    """The shop's server's order (secret key): a paid order is recorded as the purchase first,
    exactly as ``POST /api/v1/purchases`` records one (its ``vid``, its ``phone``), then the
    order goes up the hook, vouched for."""
    # Reported again (a retry): the purchase was recorded the first time, nothing is added.
    if order["status"] == "paid" and not already_bought(site.pk, order["order_id"], visitor=None):
        event: dict[str, Any] = {
            "type": "purchase",
            "order_id": order["order_id"],
            "total": order["total"],
            "currency": order["currency"],
        }
        if order["phone"]:
            event["phone"] = order["phone"]
        record_batch(site_id=site.pk, vid=order["vid"], events=[event], origin=origin)
    elif order["vid"]:
        # The order's browser, as the server names it (its other statuses record no event).
        record_batch(site_id=site.pk, vid=order["vid"], events=[], origin=origin)
    hooks.report_order(site_id=site.pk, order=order, proof=Proof.SHOP_SERVER)


def platform_order(
    *,
    order_id: str,
    status: str,
    phone: str | None = None,
    email: str | None = None,
    vid: str | None = None,
    customer_id: str = "",
    total: str | None = None,
    currency: str = "",
    tracking_url: str = "",
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An order as a platform's webhook reports it, in the shape :func:`read_order` gives
    (the platform's reader has checked each value)."""
    return {
        "order_id": order_id[: schema.ORDER_ID_LENGTH],
        "status": status,
        "phone": phone,
        "email": email,
        "vid": vid,
        "customer_id": customer_id or None,
        "total": total,
        "currency": currency,
        "tracking_url": tracking_url if len(tracking_url) <= schema.URL_LENGTH else "",
        "items": items or [],
    }
