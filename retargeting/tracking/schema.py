"""The shape of what the snippet, the pixel and the shop's server send.

Validation returns clean, normalised values or raises ``PayloadError`` naming the field and
what was expected (``events[1].cart.items[0].price: expected a number ≥ 0``). Unknown fields
are ignored so a newer snippet never breaks an older server; only known fields are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db.models import Model

from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.sites.domains import url_on_domains
from retargeting.sites.models import Site
from retargeting.tracking.models import VISITOR_ID_PATTERN, Cart, Event, Product, Visitor


def _column(model: type[Model], name: str) -> int:
    length = model._meta.get_field(name).max_length  # type: ignore[union-attr]
    assert isinstance(length, int)
    return length


# The longest value of each string field, the same for both collector servers and the server
# API (the OpenAPI description reads them too). A field stored in a column takes that column's
# length from the model, so the two cannot drift apart; the others are kept inside JSON.
# tests/retargeting/test_schema_lengths.py walks the description and the models and holds
# them equal (the first name's column is in optin/, a layer above: checked there).
SITE_KEY_LENGTH = _column(Site, "public_key")
CART_ID_LENGTH = _column(Cart, "external_id")
CART_REF_LENGTH = _column(Cart, "ref")
URL_LENGTH = _column(Cart, "url")
CURRENCY_LENGTH = _column(Cart, "currency")
ORDER_ID_LENGTH = _column(Event, "order_id")
PRODUCT_ID_LENGTH = _column(Product, "external_id")
CUSTOMER_ID_LENGTH = _column(Visitor, "customer_id")
PRODUCT_ID_LENGTH = _column(Product, "external_id")
PRODUCT_SKU_LENGTH = _column(Product, "sku")
PRODUCT_NAME_LENGTH = _column(Product, "name")
FIRST_NAME_LENGTH = 80  # optin.models.Contact.first_name
EMAIL_LENGTH = 254  # optin.models.Contact.email (and RFC 5321's limit)
# Kept inside JSON only (the event's payload, the cart's items): no column to match.
TITLE_LENGTH = 500
SKU_LENGTH = 128
ITEM_NAME_LENGTH = 256
CONSENT_TEXT_LENGTH = 2000
CONSENT_SOURCE_LENGTH = 64
TOKEN_LENGTH = 1024
PHONE_LENGTH = 64  # as typed; stored in E.164 (at most 16 characters) once read

MAX_EVENTS = 100
MAX_ITEMS = 200
# Every pattern is matched against the whole string (``fullmatch``): ``$`` after ``match``
# also matches before a final newline, and "…\n" then reached a column too short for it.
_VID = re.compile(VISITOR_ID_PATTERN)
_SITE_KEY = re.compile(rf"[A-Za-z0-9_-]{{1,{SITE_KEY_LENGTH}}}")
_AMOUNT_TEXT = re.compile(r"\s*[0-9]{1,10}(\.[0-9]+)?\s*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_AMOUNT = Decimal("9999999999.99")


class PayloadError(ValueError):
    """A payload that does not have the documented shape."""

    def __init__(self, path: str, expected: str) -> None:
        super().__init__(f"{path}: expected {expected}" if path else f"expected {expected}")
        self.path = path


@dataclass(frozen=True)
class Batch:
    site: str
    vid: str
    events: list[dict[str, Any]]


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(path, "an object")
    return value


def string_field(
    obj: dict[str, Any],
    key: str,
    path: str,
    *,
    max_length: int,
    required: bool = True,
    allow_number: bool = False,
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise PayloadError(_at(path, key), "a string (required)")
        return None
    if allow_number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PayloadError(_at(path, key), "a string")
    # NUL never belongs in a shop's text, and PostgreSQL cannot store it.
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise PayloadError(_at(path, key), "a non-empty string")
    if len(value) > max_length:
        raise PayloadError(_at(path, key), f"at most {max_length} characters")
    return value


def _url(obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = string_field(obj, key, path, max_length=URL_LENGTH, required=required)
    if value and not value.lower().startswith(("http://", "https://")):
        raise PayloadError(_at(path, key), "an http(s) URL")
    return value or None


def _amount(obj: dict[str, Any], key: str, path: str) -> Decimal:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(_at(path, key), "a number ≥ 0")
    if isinstance(value, str) and not _AMOUNT_TEXT.fullmatch(value):
        raise PayloadError(_at(path, key), "a number ≥ 0 (in a string: digits, a dot, decimals)")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise PayloadError(_at(path, key), "a number ≥ 0") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(_at(path, key), "a number ≥ 0")
    if not amount.is_finite() or amount < 0 or amount > _MAX_AMOUNT:
        raise PayloadError(_at(path, key), "a number ≥ 0")
    return amount.quantize(Decimal("0.01"))


def _currency(obj: dict[str, Any], path: str) -> str:
    value = obj.get("currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip().upper()):
        raise PayloadError(_at(path, "currency"), "a 3-letter ISO 4217 code such as EUR")
    return value.strip().upper()


def _quantity(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise PayloadError(path, "a whole number from 1 to 10000")
    if not 1 <= value <= 10_000:
        raise PayloadError(path, "a whole number from 1 to 10000")
    return int(value)


def is_vid(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _VID.fullmatch(value) is not None


def validate_vid(value: Any, path: str = "vid") -> str:
    if not is_vid(value):
        raise PayloadError(path, "16 to 64 characters from A-Z, a-z, 0-9, _ and -")
    return value


def _without_token(url: str) -> str:
    """A page's URL without the tokens a short link adds (``_rl``, the contact; ``_rc``, the
    cart to restore): never stored."""
    if "_rl=" not in url and "_rc=" not in url:
        return url
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("_rl", "_rc")
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def page_view(event: dict[str, Any], path: str) -> dict[str, Any]:
    url = _url(event, "url", path, required=True)
    clean: dict[str, Any] = {"type": "page_view", "url": _without_token(url or "")}
    title = string_field(event, "title", path, max_length=TITLE_LENGTH, required=False)
    if title:
        clean["title"] = title
    return clean


def cart(event: dict[str, Any], path: str) -> dict[str, Any]:
    cpath = _at(path, "cart")
    body = _object(event.get("cart"), cpath)
    items_value = body.get("items")
    if not isinstance(items_value, list):
        raise PayloadError(f"{cpath}.items", "a list (empty when the cart was emptied)")
    if len(items_value) > MAX_ITEMS:
        raise PayloadError(f"{cpath}.items", f"at most {MAX_ITEMS} items")
    items = []
    for index, raw in enumerate(items_value):
        ipath = f"{cpath}.items[{index}]"
        item = _object(raw, ipath)
        clean_item: dict[str, Any] = {
            "sku": string_field(item, "sku", ipath, max_length=SKU_LENGTH, allow_number=True),
            "name": string_field(item, "name", ipath, max_length=ITEM_NAME_LENGTH),
            "price": str(_amount(item, "price", ipath)),
            "quantity": _quantity(item.get("quantity", 1), f"{ipath}.quantity"),
        }
        for key in ("url", "image"):
            link = _url(item, key, ipath)
            if link:
                clean_item[key] = link
        items.append(clean_item)
    return {
        "type": "cart",
        "cart": {
            "id": string_field(body, "id", cpath, max_length=CART_ID_LENGTH, allow_number=True),
            "currency": _currency(body, cpath),
            "total": str(_amount(body, "total", cpath)),
            "url": _url(body, "url", cpath),
            "items": items,
            **_ref(body, cpath),
        },
    }


def _ref(body: dict[str, Any], path: str) -> dict[str, str]:
    """The platform's name for the cart's contents (WooCommerce's cart hash), kept only when
    given: an order of that platform finds its cart by it."""
    ref = string_field(body, "ref", path, max_length=CART_REF_LENGTH, required=False)
    return {"ref": ref} if ref else {}


def consent(value: Any, path: str) -> dict[str, Any]:
    body = _object(value, path)
    granted = body.get("granted")
    if not isinstance(granted, bool):
        raise PayloadError(f"{path}.granted", "true or false")
    text = string_field(body, "text", path, max_length=CONSENT_TEXT_LENGTH, required=granted) or ""
    source = (
        string_field(body, "source", path, max_length=CONSENT_SOURCE_LENGTH, required=False) or ""
    )
    return {"granted": granted, "text": text, "source": source}


def email(body: dict[str, Any], path: str) -> str | None:
    """The body's ``email``, normalised (``normalize_email``), or None when absent."""
    raw = string_field(body, "email", path, max_length=EMAIL_LENGTH, required=False)
    if not raw:
        return None
    try:
        return normalize_email(raw)
    except InvalidEmail as exc:
        raise PayloadError(_at(path, "email"), f"an email address ({exc})") from exc


def identify(event: dict[str, Any], path: str) -> dict[str, Any]:
    token = string_field(event, "token", path, max_length=TOKEN_LENGTH, required=False)
    if token:
        return {"type": "identify", "token": token}
    phone = string_field(event, "phone", path, max_length=PHONE_LENGTH, required=False)
    address = email(event, path)
    if not phone and not address:
        raise PayloadError(f"{path}.phone", "a phone number or an email address (or a token)")
    clean: dict[str, Any] = {"type": "identify"}
    if phone:
        clean["phone"] = phone
    if address:
        clean["email"] = address
        if event.get("email_consent") is not None:
            clean["email_consent"] = consent(event["email_consent"], f"{path}.email_consent")
    first_name = string_field(
        event, "first_name", path, max_length=FIRST_NAME_LENGTH, required=False
    )
    if first_name:
        clean["first_name"] = first_name
    if event.get("consent") is not None:
        clean["consent"] = consent(event["consent"], f"{path}.consent")
    return clean


def purchase(event: dict[str, Any], path: str) -> dict[str, Any]:
    return {
        "type": "purchase",
        "order_id": string_field(
            event, "order_id", path, max_length=ORDER_ID_LENGTH, allow_number=True
        ),
        "total": str(_amount(event, "total", path)),
        "currency": _currency(event, path),
    }


def email_cart(event: dict[str, Any], path: str) -> dict[str, Any]:
    """The bridge: the shopper asks for the current cart in their mailbox (no consent)."""
    address = email(event, path)
    if address is None:
        raise PayloadError(_at(path, "email"), "an email address (required)")
    return {"type": "email_cart", "email": address}


def back_in_stock(event: dict[str, Any], path: str) -> dict[str, Any]:
    """A shopper asks to be told once when a product returns, by SMS (``phone``) or by email
    (``email``): one of the two, with the exact wording shown (``consent``, granted). The
    product is named by the shop's id; its other fields are the page's and are not kept."""
    return stock_request(event, path, product_id=_product_id(event, path))


def _product_id(event: dict[str, Any], path: str) -> str:
    body = _object(event.get("product"), _at(path, "product"))
    product_id = string_field(
        body, "id", _at(path, "product"), max_length=PRODUCT_ID_LENGTH, allow_number=True
    )
    assert product_id is not None
    return product_id


def stock_request(body: dict[str, Any], path: str, *, product_id: str) -> dict[str, Any]:
    """The shape the snippet's ``back_in_stock`` and ``POST /api/v1/back_in_stock`` share."""
    phone = string_field(body, "phone", path, max_length=PHONE_LENGTH, required=False)
    address = email(body, path)
    if bool(phone) == bool(address):
        raise PayloadError(_at(path, "phone"), "a phone number or an email address (one of them)")
    if body.get("consent") is None:
        raise PayloadError(_at(path, "consent"), "an object {granted, text, source} (required)")
    given = consent(body["consent"], _at(path, "consent"))
    if not given["granted"]:
        raise PayloadError(_at(path, "consent.granted"), "true (the shopper's request)")
    clean: dict[str, Any] = {"type": "back_in_stock", "product": {"id": product_id}}
    clean["consent"] = given
    if phone:
        clean["phone"] = phone
    else:
        clean["email"] = address
    return clean


def product_view(event: dict[str, Any], path: str) -> dict[str, Any]:
    """A product page seen (the snippet's ``product_view`` call, or a platform reader's):
    the product as the page shows it. Its ``url`` must be on the site's domains
    (``check_links``): a browse reminder links to it."""
    ppath = _at(path, "product")
    body = _object(event.get("product"), ppath)
    product: dict[str, Any] = {
        "id": string_field(body, "id", ppath, max_length=PRODUCT_ID_LENGTH, allow_number=True),
        "name": string_field(body, "name", ppath, max_length=PRODUCT_NAME_LENGTH),
        "price": str(_amount(body, "price", ppath)),
        "currency": _currency(body, ppath),
        "url": _without_token(_url(body, "url", ppath, required=True) or ""),
    }
    sku = string_field(
        body, "sku", ppath, max_length=PRODUCT_SKU_LENGTH, required=False, allow_number=True
    )
    if sku:
        product["sku"] = sku
    image = _url(body, "image", ppath)
    if image:
        product["image"] = image
    available = body.get("available")
    if available is not None:
        if not isinstance(available, bool):
            raise PayloadError(_at(ppath, "available"), "true or false")
        product["available"] = available
    return {"type": "product_view", "product": product}


@dataclass(frozen=True)
class Kind:
    """What the collector does with one type of event: the one list every other reads
    (the buffer, the recorder, the OpenAPI description; the tests hold the snippet and the
    events table's choices to it)."""

    validate: Callable[[dict[str, Any], str], dict[str, Any]]
    buffered: bool = False
    """May wait in the collector's buffer (written later, in batches): it carries no consent,
    no identity and no purchase, which are written before the answer."""
    kept_as_event: bool = True
    """Written as a row of the events table. A product view is not (a shop's millions of
    views a day would grow it without bound): it becomes the product and the browser's one
    ``ProductView`` of the day. Nor is the bridge's request (the send it plans is its record)."""
    once_per_request: bool = False
    """At most one per request: what a shopper typed, which the snippet sends alone."""


KINDS: dict[str, Kind] = {
    "page_view": Kind(page_view, buffered=True),
    "cart": Kind(cart, buffered=True),
    "product_view": Kind(product_view, buffered=True, kept_as_event=False),
    "identify": Kind(identify, once_per_request=True),
    "purchase": Kind(purchase),
    "email_cart": Kind(email_cart, kept_as_event=False, once_per_request=True),
    "back_in_stock": Kind(back_in_stock, kept_as_event=False, once_per_request=True),
}
EVENT_TYPES = tuple(KINDS)
BUFFERED_TYPES = frozenset(name for name, kind in KINDS.items() if kind.buffered)
KEPT_AS_EVENTS = frozenset(name for name, kind in KINDS.items() if kind.kept_as_event)
ONCE_PER_REQUEST = tuple(name for name, kind in KINDS.items() if kind.once_per_request)


def validate_event(raw: Any, path: str) -> dict[str, Any]:
    event = _object(raw, path)
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in KINDS:
        raise PayloadError(f"{path}.type", "one of " + ", ".join(EVENT_TYPES))
    return KINDS[kind].validate(event, path)


def check_links(
    events: list[dict[str, Any]], domains: tuple[str, ...] | list[str], *, in_batch: bool = True
) -> None:
    """Refuse a cart whose link, or one of its items' links, or a viewed product's page, leaves
    the site's domains: those links end up in an SMS under the shop's name. Images may be on a
    CDN (never a link). ``in_batch``: the events are a batch's (``events[N].cart``), else one
    body's (``cart``)."""
    expected = "an http(s) URL on one of the site's domains"
    for index, event in enumerate(events):
        if event["type"] == "product_view":
            if not url_on_domains(event["product"]["url"], domains):
                at = f"events[{index}].product" if in_batch else "product"
                raise PayloadError(f"{at}.url", expected)
            continue
        if event["type"] != "cart":
            continue
        body = event["cart"]
        path = f"events[{index}].cart" if in_batch else "cart"
        if body["url"] and not url_on_domains(body["url"], domains):
            raise PayloadError(f"{path}.url", expected)
        for item_index, item in enumerate(body["items"]):
            if item.get("url") and not url_on_domains(item["url"], domains):
                raise PayloadError(f"{path}.items[{item_index}].url", expected)


def is_site_key(value: Any) -> TypeGuard[str]:
    """Whether ``value`` can be a public site key (its column's length, its alphabet): what
    cannot is never looked up (a NUL, say, is refused by PostgreSQL itself)."""
    return isinstance(value, str) and _SITE_KEY.fullmatch(value) is not None


def site_key(payload: Any) -> str:
    """The public site key of a batch, checked before anything else is read."""
    body = _object(payload, "")
    key = body.get("site")
    if not is_site_key(key):
        raise PayloadError("site", "the site's public key")
    return key


def customer_id(body: dict[str, Any]) -> str | None:
    """The shop's own customer or guest id (a string or a whole number), or None."""
    return (
        string_field(
            body,
            "customer_id",
            "",
            max_length=CUSTOMER_ID_LENGTH,
            required=False,
            allow_number=True,
        )
        or None
    )


def validate_batch(payload: dict[str, Any]) -> Batch:
    """A whole ``POST /t/e`` body."""
    vid = validate_vid(payload.get("vid"))
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        raise PayloadError("events", "a non-empty list")
    if len(events) > MAX_EVENTS:
        raise PayloadError("events", f"at most {MAX_EVENTS} events per request")
    for kind in ONCE_PER_REQUEST:
        found = [i for i, e in enumerate(events) if isinstance(e, dict) and e.get("type") == kind]
        if len(found) > 1:
            raise PayloadError(f"events[{found[1]}]", f"at most one {kind} per request")
    return Batch(
        site=site_key(payload),
        vid=vid,
        events=[validate_event(event, f"events[{i}]") for i, event in enumerate(events)],
    )
