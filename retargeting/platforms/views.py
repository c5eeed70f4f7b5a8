"""``POST /webhooks/<platform>/<token>``: a shop platform's webhooks (the ``webhook_url`` that
``manage.py connect_platform`` prints).

Verified before anything is read: base64 HMAC-SHA256 of the raw body with the connection's
secret, compared in constant time; a wrong or missing signature (or an unknown URL) is 401 and
changes nothing. A body delivered again (a platform's retry, or a signed body replayed) is
answered 200 and does nothing twice. The work is a few writes, done in the request, so the
platform has its answer at once (Shopify counts a slow answer as a failure and retries).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from retargeting.platforms import products, shopify, signatures, woocommerce
from retargeting.platforms.models import Platform, PlatformConnection, PlatformDelivery
from retargeting.platforms.payloads import Unreadable
from retargeting.tracking.models import Event
from retargeting.tracking.proofs import Proof
from retargeting.tracking.recording import Origin
from retargeting.web import strict_json
from retargeting.web.privacy import client_ip, truncate_ip

logger = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024  # a large order, with every line and address, is well under it
# WooCommerce's creation ping (WC_Webhook::deliver_ping): this body alone, no signature.
_PING = re.compile(rb"^webhook_id=[0-9]{1,20}$")

_HEADERS = {
    Platform.SHOPIFY: ("HTTP_X_SHOPIFY_HMAC_SHA256", "HTTP_X_SHOPIFY_TOPIC"),
    Platform.WOOCOMMERCE: ("HTTP_X_WC_WEBHOOK_SIGNATURE", "HTTP_X_WC_WEBHOOK_TOPIC"),
}


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
def webhook(request: HttpRequest, platform: str, token: str) -> JsonResponse:
    if request.method != "POST":
        response = _error("use POST", 405)
        response["Allow"] = "POST"
        return response
    connection = (
        PlatformConnection.objects.select_related("site")
        .filter(platform=platform, token=token)
        .first()
    )
    if connection is None:
        return _error("unknown webhook address", 401)
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
        return _error("the body is over 2 MiB", 413)
    body = request.body
    signature_header, topic_header = _HEADERS[Platform(platform)]
    signature = request.META.get(signature_header)
    if platform == Platform.WOOCOMMERCE and signature is None and _PING.match(body.strip()):
        return JsonResponse({"ok": True, "outcome": "ping"})
    if not signatures.verify(body, connection.signing_secret, signature):
        logger.warning("site %s: a %s webhook with a wrong signature", connection.site_id, platform)
        return _error("the signature does not match this webhook's secret", 401)
    try:
        payload = strict_json.loads(body)
    except strict_json.InvalidJson as exc:
        return _error(str(exc), 400)
    if not isinstance(payload, dict):
        return _error("expected a JSON object", 400)
    topic = request.META.get(topic_header, "").strip()[:64]
    # Once per signed body: a platform's retry sends the same body, and a replayed one (its
    # delivery-id header is not signed) is the same body too.
    delivery_id = "sha256:" + hashlib.sha256(body).hexdigest()
    origin = Origin(
        source=Event.Source.SERVER,
        ip=truncate_ip(client_ip(request)),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        authenticated=True,
        # Signed by the shop's platform, but its phones, names and consent boxes are what a
        # shopper typed at the checkout: claims, which the opt-in layer's gate judges.
        proof=Proof.CLAIM,
    )
    try:
        with transaction.atomic():
            delivery = _first_delivery(connection, delivery_id, topic)
            if delivery is None:
                return JsonResponse({"ok": True, "outcome": "already handled"})
            outcome = _handle(connection, topic, payload, origin)
            delivery.outcome = outcome[:64]
            delivery.save(update_fields=["outcome"])
    except Unreadable as exc:
        return _error(str(exc), 400)
    logger.info("site %s: %s %s: %s", connection.site_id, platform, topic, outcome)
    return JsonResponse({"ok": True, "outcome": outcome})


def _first_delivery(
    connection: PlatformConnection, delivery_id: str, topic: str
) -> PlatformDelivery | None:
    """The delivery's row, new; None when it was handled already."""
    try:
        with transaction.atomic():
            return PlatformDelivery.objects.create(
                connection=connection,
                delivery_id=delivery_id,
                topic=topic,
                outcome="",
                received_at=timezone.now(),
            )
    except IntegrityError:
        return None


def _handle(
    connection: PlatformConnection, topic: str, payload: dict[str, Any], origin: Origin
) -> str:
    if products.handles(connection, topic):  # a product's stock (both platforms)
        return products.handle(connection=connection, topic=topic, payload=payload)
    if connection.platform == Platform.SHOPIFY:
        return shopify.handle(site=connection.site, topic=topic, payload=payload, origin=origin)
    return woocommerce.handle(connection=connection, topic=topic, payload=payload, origin=origin)
