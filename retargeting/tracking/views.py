"""The collector (``POST /t/e``), the pixel, the snippet and the shop's server API.

Every answer is the contract's: 204 stored; 400 malformed with ``{"error": ...}``; 403 unknown
site or origin; 413 too large; 429 over the rate limit; never a 500 on any input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from retargeting.sites.lookup import SiteInfo, any_site_allows, site_by_public_key
from retargeting.sites.lookup import clear as clear_site_lookup
from retargeting.sites.models import Site
from retargeting.sites.services import site_for_secret_key
from retargeting.sms.phones import InvalidPhone, parse_phone
from retargeting.tracking import (
    buffer,
    cart_emails,
    catalog,
    hooks,
    limits,
    restore,
    schema,
    server_orders,
)
from retargeting.tracking.models import Cart, Event
from retargeting.tracking.recording import Origin, record_batch
from retargeting.tracking.refusals import record_refusal
from retargeting.tracking.server_carts import record_server_cart
from retargeting.web import strict_json
from retargeting.web.privacy import client_ip, truncate_ip
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# The shop's server API: its bodies are read as the collector's (``read_body``).
API_PREFIX = "/api/v1/"
SNIPPET_PATH = Path(__file__).resolve().parent / "static" / "relance" / "t.js"
# The platforms whose cart the snippet reads in the page (data-platform), one file each.
PLATFORMS = ("shopify", "woocommerce", "prestashop")
PLATFORMS_PATH = SNIPPET_PATH.parent / "a"
# The bridge's ready-made form (``email_cart``), for the pages the shop chooses.
EMAIL_CART_FORM_PATH = SNIPPET_PATH.parent / "email-cart.js"
# The smallest transparent GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _not_allowed(methods: str) -> JsonResponse:
    response = _error("use POST", 405)
    response["Allow"] = methods
    return response


def _request_host(request: HttpRequest) -> str | None:
    """The host of the page that sent the request: Origin, else Referer."""
    for header in ("HTTP_ORIGIN", "HTTP_REFERER"):
        value: str = request.META.get(header, "")
        if value and value != "null":
            try:
                return urlsplit(value).hostname
            except ValueError:  # a malformed host ("http://[") is no origin: refused (403)
                return None
    return None


def framing_refused(transfer_encoding: str | None) -> JsonResponse | None:
    """The answer of both servers to a body sent with ``Transfer-Encoding`` (chunked), on
    every path: 411. Django reads a body by its ``Content-Length`` only, so the web server
    saw an empty body where the collector's server read the chunks: one answer each. Browsers
    (``sendBeacon``, ``fetch``) and the shops' servers send a length; the answer says how."""
    if transfer_encoding is None:
        return None
    response = _error("send the body with a Content-Length (chunked bodies are refused)", 411)
    response["Connection"] = "close"
    return response


def incomplete_body(status: int) -> JsonResponse:
    """A body shorter than its ``Content-Length``: the client stopped sending (408 after
    ``COLLECTOR_BODY_TIMEOUT`` seconds without a byte) or closed its side (400). Nothing
    of it is read as a batch; the connection is closed, as what follows is not a request."""
    if status == 408:
        message = f"the body did not arrive within {settings.COLLECTOR_BODY_TIMEOUT:g} s"
    else:
        message = "the body is shorter than its Content-Length"
    response = _error(message, status)
    response["Connection"] = "close"
    return response


def _cors(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        patch_vary_headers(response, ["Origin"])
    return response


def _rate_limited(site: SiteInfo, ip: str | None, vid: str | None) -> bool:
    try:
        if not allow(key=limits.client_key(site.id, ip), limit=settings.COLLECTOR_RATE_LIMIT):
            return True
        return vid is not None and not allow(
            key=limits.visitor_key(site.id, vid), limit=settings.COLLECTOR_VISITOR_RATE_LIMIT
        )
    except Exception as exc:
        # The shared counter (Redis) is away: events are still taken, unlimited meanwhile.
        buffer.warn_unavailable(exc)
        return False


def _normalise_phones(events: list[dict[str, Any]], site: SiteInfo | Site) -> None:
    """Read every identify's phone with the site's country; refuse the batch if one is bad or
    from a country the site does not enrol from its pages (the server API is not limited)."""
    countries = site.countries
    for index, event in enumerate(events):
        if event["type"] in ("identify", "back_in_stock") and "phone" in event:
            path = f"events[{index}].phone"
            try:
                phone = parse_phone(event["phone"], default_region=site.country)
            except InvalidPhone as exc:
                raise schema.PayloadError(path, f"a mobile number ({exc})") from exc
            if phone.region not in countries:
                raise schema.PayloadError(
                    path,
                    "a mobile number from " + ", ".join(countries) + " (this site's countries)",
                )
            event["phone"] = phone.e164


def _refused_identify(
    events: list[dict[str, Any]], site_id: int, vid: str | None, ip: str | None
) -> JsonResponse | None:
    """Ask the opt-in layer whether an identify (or a back-in-stock request, which may cost a
    confirmation too) may be stored (confirmation SMS limits)."""
    for event in events:
        if event["type"] in ("identify", "back_in_stock"):
            refusal = hooks.check_identify(site_id=site_id, vid=vid, event=event, client_ip=ip)
            if refusal is not None:
                return _error(refusal.error, refusal.status)
    return None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A batch the collector has checked and not yet stored."""

    key: str
    site: SiteInfo
    vid: str
    events: list[dict[str, Any]]
    origin: Origin
    ip: str | None

    def bufferable(self) -> bool:
        return buffer.enabled() and buffer.bufferable(self.events)

    def append_call(self) -> buffer.Call:
        """The buffer's append of this batch (``buffer.append``'s script and arguments)."""
        return buffer.append_call(
            site_id=self.site.id,
            vid=self.vid,
            events=self.events,
            source=self.origin.source,
            ip=self.origin.ip,
            client_ip=self.ip,
            user_agent=self.origin.user_agent,
        )


Lookup = Callable[[str], SiteInfo | None]


@csrf_exempt
def collect(request: HttpRequest) -> HttpResponse:
    """``POST /t/e``: a batch of events from the snippet."""
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method != "POST":
        return _not_allowed("OPTIONS, POST")
    checked = check_batch(request)
    if isinstance(checked, HttpResponse):
        return checked
    buffered = _buffer(checked)
    if buffered is not None:
        return accepted(buffered, request)
    return store_batch(request, checked)


def read_body(request: HttpRequest) -> bytes | JsonResponse:
    """The body of a collector or server API request, or the answer that refuses it, the same
    in both servers: 413 for a ``Content-Length`` over 64 KiB at once (the body is not waited
    for) or for what was read; 408 when no byte came for ``COLLECTOR_BODY_TIMEOUT`` seconds,
    400 when the client closed its side first (both shorter than the length claimed)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        return _error(f"the body is over {MAX_BODY // 1024} KiB", 413)
    try:
        body = request.read(MAX_BODY + 1)
    except OSError:  # the web server's socket: no byte for COLLECTOR_BODY_TIMEOUT seconds
        return incomplete_body(408)
    if len(body) > MAX_BODY:
        return _error(f"the body is over {MAX_BODY // 1024} KiB", 413)
    if len(body) < declared:  # the client closed its side before the end: not a request
        return incomplete_body(400)
    return body


def check_batch(
    request: HttpRequest, lookup: Lookup = site_by_public_key
) -> Accepted | HttpResponse:
    """A ``POST /t/e`` checked: its batch, or the answer that refuses it. ``lookup`` finds the
    site by its key (the collector's event loop passes one that only reads the cache)."""
    body = read_body(request)
    if isinstance(body, JsonResponse):
        return _cors(body, request)
    try:
        payload = strict_json.loads(body)
        key = schema.site_key(payload)
    except (schema.PayloadError, strict_json.InvalidJson) as exc:
        return _cors(_error(str(exc), 400), request)
    site = lookup(key)
    if site is None:
        return _cors(_error("unknown site key", 403), request)
    host = _request_host(request)
    if host is None or not site.allows(host):
        return _error("this origin is not allowed for this site", 403)
    ip = client_ip(request)
    try:
        batch = schema.validate_batch(payload)
        schema.check_links(batch.events, site.domains)
    except schema.PayloadError as exc:
        return _cors(_error(str(exc), 400), request)
    origin = Origin(
        source=Event.Source.SNIPPET,
        ip=truncate_ip(ip),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    )
    return Accepted(key, site, batch.vid, batch.events, origin, ip)


def store_batch(request: HttpRequest, checked: Accepted) -> HttpResponse:
    """Write a checked batch in the request (not bufferable, or the buffer off or down)."""
    site = checked.site
    if _rate_limited(site, checked.ip, checked.vid):
        return _cors(_error("too many requests; retry in a minute", 429), request)
    try:
        _normalise_phones(checked.events, site)
    except schema.PayloadError as exc:
        record_refusal(site_id=site.id, events=checked.events, error=str(exc))
        return _cors(_error(str(exc), 400), request)
    refused = _refused_identify(checked.events, site.id, checked.vid, checked.ip)
    if refused is not None:
        # The shop sees why on its installation page (the page that sent it, in the answer).
        error = strict_json.loads(refused.content)["error"]
        record_refusal(site_id=site.id, events=checked.events, error=error)
        return _cors(refused, request)
    # The bridge's request is not an event to keep (the send it plans is the record, and the
    # address stays out of the events table): limited, then handed up once the rest is stored.
    asked = [event for event in checked.events if event["type"] == "email_cart"]
    # A back-in-stock request is not an event either: its ``StockRequest`` is the record.
    waits = [event for event in checked.events if event["type"] == "back_in_stock"]
    events = [
        event for event in checked.events if event["type"] not in ("email_cart", "back_in_stock")
    ]
    decision = None
    if asked:
        decision = cart_emails.decide(site_id=site.id, vid=checked.vid, email=asked[0]["email"])
        if decision.refusal is not None:
            record_refusal(site_id=site.id, events=checked.events, error=decision.refusal.error)
            return _cors(_error(decision.refusal.error, decision.refusal.status), request)
    try:
        if events:
            record_batch(site_id=site.id, vid=checked.vid, events=events, origin=checked.origin)
    except IntegrityError:
        # The site was deleted in another process since this one looked its key up.
        clear_site_lookup()
        if site_by_public_key(checked.key) is not None:
            raise
        return _cors(_error("unknown site key", 403), request)
    if decision is not None and decision.send:
        origin = checked.origin
        cart_emails.hand_up(
            site_id=site.id,
            vid=checked.vid,
            email=asked[0]["email"],
            ip=origin.ip,
            user_agent=origin.user_agent,
        )
    for wanted in waits:
        _hand_up_stock_request(site.id, checked.vid, wanted, checked.origin)
    return _cors(HttpResponse(status=204), request)


def _hand_up_stock_request(
    site_id: int, vid: str | None, request: dict[str, Any], origin: Origin
) -> None:
    """Give a back-in-stock request to the layer that records it. From a page, a failure there
    is logged, not answered: the shopper gets the same 204 whatever the address."""
    call: dict[str, Any] = {
        "site_id": site_id,
        "vid": vid,
        "request": request,
        "proof": origin.kind_of_proof(),
        "ip": origin.ip,
        "user_agent": origin.user_agent,
    }
    if origin.authenticated:
        hooks.request_back_in_stock(**call)
        return
    try:
        hooks.request_back_in_stock(**call)
    except Exception:
        logger.exception("site %s: a back-in-stock request was not recorded", site_id)


def _buffer(checked: Accepted) -> bool | None:
    """Hand page views and carts to the buffer: True taken, False over a rate limit, None
    when the batch is to be written in the request (not bufferable, buffer off or down)."""
    if not checked.bufferable():
        return None
    try:
        return buffer.append(checked.append_call())
    except buffer.Unavailable:
        return None


def accepted(taken: bool, request: HttpRequest) -> HttpResponse:
    """The answer to a batch the buffer took (True) or refused over a rate limit (False)."""
    return _cors(_accepted(taken), request)


def _accepted(taken: bool) -> HttpResponse:
    if taken:
        return HttpResponse(status=204)
    return _error("too many requests; retry in a minute", 429)


def _preflight(request: HttpRequest) -> HttpResponse:
    host = _request_host(request)
    if host is None or not any_site_allows(host):
        return HttpResponse(status=403)
    response = _cors(HttpResponse(status=204), request)
    response["Access-Control-Allow-Methods"] = "POST"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    return response


@csrf_exempt  # GET only: any other method gets its 405, not a CSRF page.
def pixel(request: HttpRequest) -> HttpResponse:
    """``GET /t/p.gif``: a page view without JavaScript. Always the GIF; records if valid."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed("GET, HEAD")
    try:
        _record_pixel(request)
    except Exception:
        # The pixel must never break a page; what failed is in the log.
        logger.exception("pixel event not recorded")
    return pixel_response()


def _record_pixel(request: HttpRequest) -> None:
    checked = check_pixel(request)
    if checked is None or _buffer(checked) is not None:
        return
    store_pixel(checked)


def check_pixel(request: HttpRequest, lookup: Lookup = site_by_public_key) -> Accepted | None:
    """The page view a ``GET /t/p.gif`` carries, or None when it records nothing."""
    params = request.GET
    if params.get("type", "page_view") != "page_view":
        return None
    key = params.get("site", "")
    if not schema.is_site_key(key):
        return None
    site = lookup(key)
    if site is None:
        return None
    try:
        vid = schema.validate_vid(params.get("vid"))
        event = schema.page_view({"url": params.get("url"), "title": params.get("title")}, "")
    except schema.PayloadError:
        return None
    ip = client_ip(request)
    origin = Origin(
        source=Event.Source.PIXEL,
        ip=truncate_ip(ip),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    )
    return Accepted(key, site, vid, [event], origin, ip)


def store_pixel(checked: Accepted) -> None:
    """Write the pixel's page view in the request (the buffer off or down)."""
    if _rate_limited(checked.site, checked.ip, checked.vid):
        return
    record_batch(
        site_id=checked.site.id, vid=checked.vid, events=checked.events, origin=checked.origin
    )


def pixel_response() -> HttpResponse:
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


def compact(source: str) -> bytes:
    """The script as served: its comment lines and indentation left out (they are for the
    reader of the source; every shop's visitor would download them). Nothing else changes, so
    what runs is what the source says."""
    lines = (line.strip() for line in source.splitlines())
    return ("\n".join(line for line in lines if line and not line.startswith("//")) + "\n").encode()


@cache
def _snippet() -> bytes:
    return compact(SNIPPET_PATH.read_text(encoding="utf-8"))


@cache
def _platform_reader(platform: str) -> bytes:
    return compact((PLATFORMS_PATH / f"{platform}.js").read_text(encoding="utf-8"))


def _script(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@cache
def _email_cart_form() -> bytes:
    return compact(EMAIL_CART_FORM_PATH.read_text(encoding="utf-8"))


def email_cart_form(request: HttpRequest) -> HttpResponse:
    """``GET /t/email-cart.js``: the ready-made "receive my cart by email" form, a tag of its
    own that a shop adds only where it wants the form (t.js does not grow); cacheable like
    the snippet."""
    return _script(_email_cart_form())


def snippet(request: HttpRequest) -> HttpResponse:
    """``GET /t.js``: the snippet, cacheable for five minutes so updates spread quickly."""
    return _script(_snippet())


@csrf_exempt  # GET only: any other method gets its 405, not a CSRF page.
def restore_cart(request: HttpRequest) -> HttpResponse:
    """``GET /t/cart?site=PUBLIC_KEY&token=TOKEN``: the contents of the cart a reminder's link
    names (its ``_rc`` token), for the page's ``restore`` callback. Only that cart's items and
    total: nothing of whom it was sent to (``retargeting.tracking.restore``). 404 for a token
    that is not genuine, of another site or past its link's lifetime; 403 from a page off the
    site's domains."""
    if request.method != "GET":
        response = _error("use GET", 405)
        response["Allow"] = "GET"
        return response
    site = site_by_public_key(request.GET.get("site", ""))
    if site is None:
        return _error("unknown site key", 403)
    origin = request.META.get("HTTP_ORIGIN")
    host = _request_host(request) if origin else None
    if origin and (host is None or not site.allows(host)):
        return _error("this page's domain is not one of the site's", 403)
    cart = restore.cart_for_token(token=request.GET.get("token", ""), site_id=site.id)
    if cart is None:
        response = _error("no cart for this link (or the link has expired)", 404)
    else:
        response = JsonResponse({"cart": restore.restored_cart(cart)})
    response["Cache-Control"] = "no-store"
    return _cors(response, request)


def platform_reader(request: HttpRequest, platform: str) -> HttpResponse:
    """``GET /t/a/PLATFORM.js``: the cart reader that ``t.js`` loads on a shop whose tag says
    ``data-platform="PLATFORM"``; cacheable like the snippet."""
    if platform not in PLATFORMS:
        return _error("unknown platform", 404)
    return _script(_platform_reader(platform))


# --- The shop's server API ----------------------------------------------------------------


def _authenticated_site(request: HttpRequest) -> Site | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return site_for_secret_key(key.strip())


class _Refused(Exception):
    """A server API request refused before its body is read."""

    def __init__(self, response: JsonResponse) -> None:
        self.response = response


def _api_request(request: HttpRequest) -> tuple[Site, dict[str, Any]]:
    """The authenticated site and the JSON object of a server API call."""
    if request.method != "POST":
        raise _Refused(_not_allowed("POST"))
    site = _authenticated_site(request)
    if site is None:
        response = _error("a valid secret key is required: Authorization: Bearer sk_...", 401)
        response["WWW-Authenticate"] = 'Bearer realm="relance"'
        raise _Refused(response)
    raw = read_body(request)
    if isinstance(raw, JsonResponse):
        raise _Refused(raw)
    try:
        body = strict_json.loads(raw)
    except strict_json.InvalidJson as exc:
        raise _Refused(_error(str(exc), 400)) from None
    if not isinstance(body, dict):
        raise _Refused(_error("expected a JSON object", 400))
    return site, body


def _optional_vid(body: dict[str, Any]) -> str | None:
    return schema.validate_vid(body["vid"]) if body.get("vid") is not None else None


def _phone(body: dict[str, Any], country: str, *, required: bool) -> str | None:
    raw = body.get("phone")
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        raise schema.PayloadError("phone", "a phone number string")
    try:
        return parse_phone(raw, default_region=country).e164
    except InvalidPhone as exc:
        raise schema.PayloadError("phone", f"a mobile number ({exc})") from exc


def _server_origin(request: HttpRequest) -> Origin:
    return Origin(
        source=Event.Source.SERVER,
        ip=truncate_ip(client_ip(request)),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        authenticated=True,
    )


@csrf_exempt
def api_identify(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/identify``: the shop's server says who a visitor is (a number, an email
    address or both), with each address's consent (``consent`` the SMS one, required with a
    phone; ``email_consent`` the email one)."""
    try:
        site, body = _api_request(request)
        phone = _phone(body, site.country, required=False)
        email = schema.email(body, "")
        if phone is None and email is None:
            raise schema.PayloadError("phone", "a phone or an email (at least one)")
        vid = _optional_vid(body)
        event: dict[str, Any] = {"type": "identify"}
        if phone is not None:
            if body.get("consent") is None:
                raise schema.PayloadError("consent", "an object {granted, text, source}")
            event["phone"] = phone
            event["consent"] = schema.consent(body["consent"], "consent")
        if email is not None:
            event["email"] = email
            if body.get("email_consent") is not None:
                event["email_consent"] = schema.consent(body["email_consent"], "email_consent")
        first_name = schema.string_field(
            body, "first_name", "", max_length=schema.FIRST_NAME_LENGTH, required=False
        )
        if first_name:
            event["first_name"] = first_name
    except _Refused as refused:
        return refused.response
    except schema.PayloadError as exc:
        return _error(str(exc), 400)
    record_batch(site_id=site.pk, vid=vid, events=[event], origin=_server_origin(request))
    answer: dict[str, Any] = {"ok": True, "phone": phone, "vid": vid}
    if email is not None:
        answer["email"] = email
    return JsonResponse(answer)


@csrf_exempt
def api_purchases(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/purchases``: an order, from the shop's server."""
    try:
        site, body = _api_request(request)
        vid = _optional_vid(body)
        phone = _phone(body, site.country, required=False)
        if vid is None and phone is None:
            raise schema.PayloadError("vid", "a visitor id or a phone (at least one)")
        event = schema.purchase(body, "")
        if phone:
            event["phone"] = phone
    except _Refused as refused:
        return refused.response
    except schema.PayloadError as exc:
        return _error(str(exc), 400)
    recorded = record_batch(
        site_id=site.pk, vid=vid, events=[event], origin=_server_origin(request)
    )
    return JsonResponse(
        {
            "ok": True,
            "order_id": event["order_id"],
            "cart_converted": recorded.converted_cart_id is not None,
        }
    )


@csrf_exempt
def api_carts(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/carts``: a cart, from the shop's server or its platform module, for a
    browser (``vid``), the shop's own customer (``customer_id``) or a number (``phone``)."""
    try:
        site, body = _api_request(request)
        vid = _optional_vid(body)
        customer_id = schema.customer_id(body)
        phone = _phone(body, site.country, required=False)
        if vid is None and customer_id is None and phone is None:
            raise schema.PayloadError(
                "vid", "a visitor id, a customer_id or a phone (at least one)"
            )
        event = schema.cart(body, "")
        schema.check_links([event], site.allowed_domains, in_batch=False)
    except _Refused as refused:
        return refused.response
    except schema.PayloadError as exc:
        return _error(str(exc), 400)
    result = record_server_cart(
        site_id=site.pk,
        cart=event,
        origin=_server_origin(request),
        vid=vid,
        customer_id=customer_id,
        phone=phone,
    )
    cart = (
        Cart.objects.filter(
            site_id=site.pk, visitor__vid=result.vid, external_id=event["cart"]["id"]
        )
        .values_list("status", flat=True)
        .first()
    )
    return JsonResponse(
        {"ok": True, "vid": result.vid, "cart_id": event["cart"]["id"], "cart_status": cart}
    )


@csrf_exempt
def api_products(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/products``: the shop's server reports its products' stock (at most 500 a
    request, accepted or refused whole); a product back in stock starts its alerts."""
    try:
        site, body = _api_request(request)
        products = catalog.read_products(body, domains=site.allowed_domains)
    except _Refused as refused:
        return refused.response
    except schema.PayloadError as exc:
        return _error(str(exc), 400)
    updated = catalog.update_products(site=site, products=products, now=timezone.now())
    return JsonResponse({"ok": True, "updated": updated})


@csrf_exempt
def api_orders(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/orders``: an order's status, from the shop's server (``server_orders``):
    idempotent per (order id, status); a paid order is also the purchase."""
    try:
        site, body = _api_request(request)
        order = server_orders.read_order(body, site=site)
    except _Refused as refused:
        return refused.response
    except schema.PayloadError as exc:
        return _error(str(exc), 400)
    with transaction.atomic():
        server_orders.record_server_order(site=site, order=order, origin=_server_origin(request))
    return JsonResponse({"ok": True, "order_id": order["order_id"], "status": order["status"]})


@csrf_exempt
def api_back_in_stock(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/back_in_stock``: the shop's server passes on a shopper's request to be
    told once when a product returns (its page's form, its own account pages). The shop
    vouches for the address: the request needs no confirmation."""
    try:
        site, body = _api_request(request)
        product_id = schema.string_field(
            body, "product_id", "", max_length=schema.PRODUCT_ID_LENGTH, allow_number=True
        )
        assert product_id is not None
        vid = _optional_vid(body)
        wanted = schema.stock_request(body, "", product_id=product_id)
        if "phone" in wanted:
            wanted["phone"] = _phone(wanted, site.country, required=True)
    except _Refused as refused:
        return refused.response
    except schema.PayloadError as exc:
        return _error(str(exc), 400)
    if vid is not None:
        # The browser the shop names: recorded like any of the server's, for the request.
        record_batch(site_id=site.pk, vid=vid, events=[], origin=_server_origin(request))
    _hand_up_stock_request(site.pk, vid, wanted, _server_origin(request))
    answer = {
        "ok": True,
        "product_id": product_id,
        "channel": "sms" if "phone" in wanted else "email",
    }
    return JsonResponse(answer)
