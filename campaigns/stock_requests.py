"""Back-in-stock requests: a shopper asks to be told once when a product returns.

Two doors hand a request here (``retargeting.tracking.hooks``, registered in
``campaigns.apps``): the snippet's ``back_in_stock`` event (a claim: the page's limits on
confirmations were spent at the collector) and ``POST /api/v1/back_in_stock`` (the shop's
server vouching). The gate (``optin.gate.stock_request_requester``) names the contact and says
whether the asking side proved the address; this module records the ``StockRequest`` with its
proof (the exact wording shown, its source, the truncated IP, the user agent):

- proven (the shop's server, or a browser its owner's tap or the shop's server linked to it):
  confirmed at once;
- otherwise a confirmation goes to the address first (one SMS, or one email) with a link to a
  page whose button confirms the request (``/b/CODE``; opening it changes nothing: link
  previews and mail scanners open links). The confirmation confirms this request only: no
  marketing consent is given (a shopper who also ticks a marketing box sends an ``identify``
  with its own consent, which starts its own double opt-in).
- A request expires ``STOCK_REQUEST_DAYS`` after it was made; a second request for the same
  product, address and channel while one waits is the same request (it may confirm it); once
  its alert came (or was ended by the product selling out again), a new request is a new one.
- A product not known yet is created with its id only: the shop's catalog (its server, its
  platform's webhooks) fills it and reports its stock.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from kombu.exceptions import OperationalError as KombuOperationalError

from campaigns.eligibility import channel_reason
from campaigns.models import Send, StockRequest, Trigger
from optin import confirmation as sms_confirmation
from optin import email_confirmation
from optin.contacts import mark_messaged
from optin.gate import stock_request_requester
from retargeting.channels import Channel
from retargeting.gateways import deliver
from retargeting.gateways.base import Outcome, OutgoingEmail, OutgoingSms
from retargeting.gateways.errors import AMBIGUOUS, NOT_HANDED
from retargeting.sites.models import Language, Site
from retargeting.tracking.models import Product, Visitor
from retargeting.tracking.proofs import Proof
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)

STOCK_REQUEST_DAYS = 90
"""How long a request waits for its product: after that, a restock sends nothing to it."""
LINK_DAYS = 7
"""How long a confirmation's link confirms (as the double opt-in's)."""
STUCK_AFTER = sms_confirmation.STUCK_AFTER

# The confirmation's words: one GSM-7 segment with a shop name of 30 characters and the link.
SMS_TEXT = {
    Language.FR: "{shop} : confirmez votre alerte de retour en stock (sinon rien ne sera "
    "envoyé) : {link}",
    Language.EN: "{shop}: confirm your back-in-stock alert (without it, nothing is sent): {link}",
}
EMAIL_TEXT = {
    Language.FR: {
        "subject": "{shop} : confirmez votre alerte de retour en stock",
        "body": "Vous avez demandé à être prévenu(e) une fois par email du retour en stock "
        "{product} sur {shop}. Pour le confirmer, ouvrez ce lien et appuyez sur le bouton :",
        "after": "Sans confirmation, rien ne vous sera envoyé. Si vous n'avez rien demandé, "
        "ignorez ce message.",
    },
    Language.EN: {
        "subject": "{shop}: confirm your back-in-stock alert",
        "body": "You asked to be told once by email when {product} is back in stock at {shop}. "
        "To confirm, open this link and press the button:",
        "after": "Without a confirmation you will get nothing. If you asked for nothing, "
        "ignore this message.",
    },
}
_PRODUCT_WORDS = {
    Language.FR: ("de « {name} »", "du produit"),
    Language.EN: ("“{name}”", "the product"),
}


def record_stock_request(
    *,
    site: Site,
    visitor: Visitor | None,
    request: dict[str, Any],
    proof: Proof,
    ip: str | None = None,
    user_agent: str = "",
    now: datetime | None = None,
) -> StockRequest | None:
    """Record the validated ``request`` (``schema.stock_request``: ``product``, ``phone`` in
    E.164 or ``email``, ``consent``) under the rules above; its confirmation, when one is
    needed, is handed to the worker once committed. None when nothing may be sent to the
    address (the gate's refusal)."""
    now = now or timezone.now()
    phone, email = request.get("phone", ""), request.get("email", "")
    channel = Channel.SMS if phone else Channel.EMAIL
    with transaction.atomic():
        requester = stock_request_requester(
            site=site, visitor=visitor, phone=phone, email=email, proof=proof
        )
        if requester is None:
            return None
        product = _product(site=site, external_id=request["product"]["id"], now=now)
        live = (
            StockRequest.objects.select_for_update()
            .filter(
                site=site,
                product=product,
                contact=requester.contact,
                channel=channel,
                expires_at__gt=now,
            )
            # One that had its alert (sent, or ended by a sale-out) is done: a new one waits.
            .exclude(
                Exists(
                    Send.objects.filter(
                        step__flow__trigger=Trigger.BACK_IN_STOCK, subject_id=OuterRef("pk")
                    )
                )
            )
            .order_by("-requested_at")
            .first()
        )
        if live is not None:
            if requester.proven and live.confirmed_at is None:
                live.confirmed_at = now
                live.save(update_fields=["confirmed_at"])
            return live
        consent = request["consent"]
        made = StockRequest.objects.create(
            site=site,
            product=product,
            contact=requester.contact,
            channel=channel,
            visitor=visitor,
            text=consent["text"],
            source=consent.get("source")
            or ("server_api" if proof == Proof.SHOP_SERVER else "snippet"),
            ip=ip,
            user_agent=user_agent[:512],
            requested_at=now,
            confirmed_at=now if requester.proven else None,
            expires_at=now + timedelta(days=STOCK_REQUEST_DAYS),
        )
        if not requester.proven:
            made_id = made.pk
            transaction.on_commit(lambda: enqueue_confirmation(made_id))
    return made


def _product(*, site: Site, external_id: str, now: datetime) -> Product:
    """The site's product of that id; created with its id only when unknown."""
    found = Product.objects.filter(site=site, external_id=external_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Product.objects.create(site=site, external_id=external_id, updated_at=now)
    except IntegrityError:  # made by a concurrent request
        return Product.objects.get(site=site, external_id=external_id)


def on_stock_request(
    *,
    site_id: int,
    vid: str | None,
    request: dict[str, Any],
    proof: str,
    ip: str | None = None,
    user_agent: str = "",
) -> None:
    """The collector's and the server API's hook (``retargeting.tracking.hooks``)."""
    site = Site.objects.get(pk=site_id)
    visitor = Visitor.objects.filter(site=site, vid=vid).first() if vid else None
    record_stock_request(
        site=site,
        visitor=visitor,
        request=request,
        proof=Proof(proof),
        ip=ip,
        user_agent=user_agent,
    )


# --- The confirmation ---------------------------------------------------------------------


class Queue:
    """The worker's queue, given by ``campaigns.apps``: ``hand_on(request_id)`` sends a
    request's confirmation."""

    hand_on: Any = None


def enqueue_confirmation(request_id: int) -> None:
    """Give the confirmation to the worker; with the broker away, the next dispatch pass
    sends it (``send_pending_stock_confirmations``)."""
    if Queue.hand_on is None:
        return
    try:
        Queue.hand_on(request_id)
    except KombuOperationalError as exc:
        logger.warning("stock request %s: confirmation not queued (%s)", request_id, exc)


def confirmation_code(request: StockRequest) -> str:
    """The request's id and a keyed digest of it: short enough for one SMS segment, not
    guessable, naming this request only."""
    digest = salted_hmac("campaigns.stock-request", str(request.pk)).hexdigest()[:16]
    return f"{request.pk}-{digest}"


def request_for_code(code: str) -> StockRequest | None:
    """The request whose confirmation carried ``code``; None for a forged one."""
    pk = code.partition("-")[0]
    if not pk.isdigit() or len(pk) > 18:
        return None
    request = (
        StockRequest.objects.select_related("site", "product", "contact").filter(pk=pk).first()
    )
    if request is None or not hmac.compare_digest(confirmation_code(request), code):
        return None
    return request


def confirmation_url(request: StockRequest) -> str:
    base = settings.SHORT_LINK_BASE_URL or settings.PUBLIC_BASE_URL
    return f"{base}/b/{confirmation_code(request)}"


def _product_words(request: StockRequest, language: Language) -> str:
    named, unnamed = _PRODUCT_WORDS[language]
    name = request.product.name
    return named.format(name=name) if name else unnamed


def confirmation_message(request: StockRequest) -> OutgoingSms | OutgoingEmail:
    """The confirmation of ``request``: an SMS to its number, or an email to its address."""
    site = request.site
    language = Language(site.language)
    url = confirmation_url(request)
    if request.channel == Channel.SMS:
        return OutgoingSms(
            to=request.contact.phone,
            body=SMS_TEXT[language].format(shop=site.name, link=url),
            sender=site.sender,
            validity_seconds=3600,
            tag="stock-confirmation",
        )
    text = EMAIL_TEXT[language]
    body = text["body"].format(shop=site.name, product=_product_words(request, language))
    return OutgoingEmail(
        to=request.contact.email,
        subject=text["subject"].format(shop=site.name),
        text=f"{body}\n\n{url}\n\n{text['after']}\n",
        sender=email_confirmation.sender_of(site),
        tag="stock-confirmation",
    )


def _claimable(now: datetime) -> Q:
    """Never claimed, or claimed by a worker that died before handing it to the provider."""
    return Q(confirmation_sent_at__isnull=True) | Q(
        confirmation_handed_at__isnull=True, confirmation_sent_at__lte=now - STUCK_AFTER
    )


def _daily_key(request: StockRequest) -> tuple[str, int]:
    """The address's daily count of confirmations, shared with the double opt-in's."""
    if request.channel == Channel.SMS:
        return (
            sms_confirmation.confirmations_key(request.contact.phone),
            sms_confirmation.MAX_PER_NUMBER_PER_DAY,
        )
    return (
        email_confirmation.confirmations_key(request.contact.email),
        email_confirmation.MAX_PER_ADDRESS_PER_DAY,
    )


def send_request_confirmation(*, request_id: int) -> bool:
    """Send the confirmation of an unconfirmed, unexpired request once; True if the provider
    took it. Claimed first (``confirmation_sent_at``), marked as handed to the provider just
    before the call (``confirmation_handed_at``), as the double opt-in's: never twice, and a
    worker that dies between the two leaves it owed, not lost. Never to an address that opted
    out meanwhile, and within the address's daily confirmations."""
    now = timezone.now()
    request = (
        StockRequest.objects.select_related("site", "contact", "product")
        .filter(_claimable(now), pk=request_id, confirmed_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if request is None:
        return False
    if channel_reason(request.channel, request.contact, needs_consent=False) is not None:
        return False  # said STOP, unsubscribed or bounced since the request
    key, limit = _daily_key(request)
    if not allow(key=key, limit=limit, window_seconds=sms_confirmation.DAY):
        logger.warning("stock request %s: confirmation not sent, daily limit", request.pk)
        return False
    if not StockRequest.objects.filter(_claimable(now), pk=request.pk).update(
        confirmation_sent_at=now, confirmation_handed_at=None
    ):
        return False

    def handing() -> bool:
        return bool(
            StockRequest.objects.filter(
                pk=request.pk, confirmation_sent_at=now, confirmation_handed_at__isnull=True
            ).update(confirmation_handed_at=timezone.now())
        )

    result = deliver(confirmation_message(request), handing=handing)
    if result.outcome is Outcome.ACCEPTED:
        if request.channel == Channel.SMS:
            mark_messaged(contact_id=request.contact_id, at=now)
        return True
    if result.error_code == NOT_HANDED:
        return False
    if result.outcome is Outcome.TRANSIENT and result.error_code not in AMBIGUOUS:
        StockRequest.objects.filter(pk=request.pk, confirmation_sent_at=now).update(
            confirmation_sent_at=None, confirmation_handed_at=None
        )
    return False


def send_pending_stock_confirmations() -> int:
    """Confirmations not sent yet (a lost task, a provider that was down); for the pass."""
    now = timezone.now()
    pending = StockRequest.objects.filter(
        _claimable(now), confirmed_at__isnull=True, expires_at__gt=now
    ).values_list("pk", flat=True)
    return sum(send_request_confirmation(request_id=pk) for pk in list(pending[:500]))


def confirm_request(*, request: StockRequest, now: datetime | None = None) -> bool:
    """The owner's answer (the confirmation page's button): the request is confirmed, once,
    while it has not expired and its link is young enough. Nothing else changes: no consent,
    no browser linked (a forwarded link gives nobody anything)."""
    now = now or timezone.now()
    sent = request.confirmation_sent_at or request.requested_at
    if request.expires_at <= now or sent < now - timedelta(days=LINK_DAYS):
        return False
    StockRequest.objects.filter(pk=request.pk, confirmed_at__isnull=True).update(confirmed_at=now)
    request.refresh_from_db(fields=["confirmed_at"])
    return request.confirmed_at is not None
