"""Back in stock: a shopper asked to be told once when a product returns (``StockRequest``).

A confirmed, unexpired request whose product changed from unavailable to available after the
request was made (``Product.restocked_at``) and is available now gets its flow's step, the
step's delay after the restock (default: at once, within the site's quiet hours). The subject
is the request: one message per request and step, whatever runs twice, so a second restock
sends nothing more to the same request.

- **Consent**: the request is the consent for this one message (its exact wording is kept
  on it), so no marketing consent is needed; never to an address that said STOP,
  unsubscribed, bounces or was erased after an opt-out (``needs_consent = False``).
- **Channel**: the request's own. A step on SMS takes the SMS requests, a step by email the
  email requests, an "SMS, else email" step both, each on its own channel: an address given
  for an email is never sent an SMS, nor the reverse.
- **Exits at send time**: the product out of stock again, the request expired.
- **Stale** ``STALE_AFTER`` after the restock: an alert days late points at a product that may
  be gone again; the shop's next restock is the next chance (for requests not yet alerted).
- Not capped (the shopper asked for exactly this message), but held by the site's marketing
  quiet hours; no holdout (a message asked for is owed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.eligibility import channels_of, reachable_without_consent
from campaigns.models import Flow, Send, Step, StockRequest, Trigger
from campaigns.send_reasons import SendReason
from campaigns.triggers import EmailContent, Hours, Kind, TriggerRoom, clip
from optin.models import ConsentStatus
from retargeting.channels import Channel
from retargeting.sites.models import Site

STALE_AFTER = timedelta(hours=72)
"""How long after the restock an alert is still sent: a restock on Friday evening still
reaches its requesters on Monday morning past a French Sunday."""
PRODUCT_NAME_MAX = 30
WORST_PRODUCT_NAME = "M" * (PRODUCT_NAME_MAX - 1) + "ê"
"""The product's name in a message is clipped to this: the default alert stays one GSM-7
segment with a shop name of up to 24 characters on every opt-out route (30 where the sender
takes replies)."""


class BackInStock(TriggerRoom):
    name = Trigger.BACK_IN_STOCK
    subject_model = StockRequest
    subject_search = ("product__external_id",)

    def describe(self, send: Send) -> str:
        request = getattr(send, "subject_object", None)
        if request is None:
            return super().describe(send)
        product = request.product
        return _("back in stock: %(product)s") % {"product": product.name or product.external_id}

    kind = Kind.MARKETING
    needs_consent = False
    capped = False
    hours = Hours.MARKETING
    holdout = False
    default_delay_minutes = 0
    variables = ("product_name",)

    # -- planning ---------------------------------------------------------------------------

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        """Confirmed, unexpired requests on one of the step's channels whose product came
        back after the request, is available now, and came back at least the step's delay
        ago but not ``STALE_AFTER`` ago; one query (the restocked products' partial index,
        then their requests). A site's oldest back-in-stock flow takes every request."""
        if more_specific:
            return None
        channels = channels_of(step.channel)
        restocked_by = now - timedelta(minutes=step.delay_minutes)
        rows = (
            StockRequest.objects.filter(
                Q(product__restocked_at__gt=F("requested_at")),
                site_id=flow.site_id,
                channel__in=channels,
                confirmed_at__isnull=False,
                expires_at__gt=now,
                product__available=True,
                product__restocked_at__lte=restocked_by,
                product__restocked_at__gt=now - STALE_AFTER,
            )
            .filter(_reachable())
            .exclude(Exists(Send.objects.filter(step=step, subject_id=OuterRef("pk"))))
        )
        return _candidates(rows)

    # -- at send time -----------------------------------------------------------------------

    def load(self, sends: Sequence[Send]) -> None:
        found = StockRequest.objects.select_related("product").in_bulk(
            [send.subject_id for send in sends if send.subject_id is not None]
        )
        for send in sends:
            # The interface's slot for the subject (campaigns.triggers): not a model field.
            send.subject_object = found.get(send.subject_id) if send.subject_id else None

    def send_channels(self, send: Send, channels: list[Channel]) -> list[Channel]:
        request = getattr(send, "subject_object", None)
        if request is None:
            return channels
        return [channel for channel in channels if channel == request.channel]

    def exit_reason(self, send: Send) -> SendReason | None:
        request = getattr(send, "subject_object", None)
        if request is None:
            return SendReason.ERASED  # a request goes only with its contact or its site
        if request.product.available is not True:
            return SendReason.SOLD_OUT_AGAIN
        if request.expires_at <= timezone.now():
            return SendReason.REQUEST_EXPIRED
        return None

    def moment(self, send: Send) -> datetime:
        request = getattr(send, "subject_object", None)
        if request is None or request.product.restocked_at is None:
            return send.planned_at
        restocked: datetime = request.product.restocked_at
        return restocked

    def stale_after(self, site: Site) -> timedelta:
        return STALE_AFTER

    # -- rendering --------------------------------------------------------------------------

    def values(self, send: Send) -> dict[str, object]:
        request = getattr(send, "subject_object", None)
        name = request.product.name if request is not None else ""
        return {"product_name": clip(name, PRODUCT_NAME_MAX)}

    def worst_values(self, site: Site) -> dict[str, object]:
        # At its clipped length, ending with a character outside GSM-7 (a text without
        # transliteration goes out in UCS-2).
        return {"product_name": WORST_PRODUCT_NAME}

    def link_target(self, send: Send) -> str:
        request = getattr(send, "subject_object", None)
        url = request.product.url if request is not None else ""
        # The product's page as the shop last gave it, only on the site's own domains.
        return url if url and send.site.owns_url(url) else send.site.home_url

    def email_content(self, send: Send) -> EmailContent:
        request = getattr(send, "subject_object", None)
        if request is None:
            return EmailContent()
        product = request.product
        item = {
            "name": product.name or product.external_id,
            "price": product.price,
            "quantity": 1,
            "url": self.link_target(send),
            "image": product.image,
        }
        return EmailContent(
            items=[item], total=product.price, currency=product.currency, item_count=1
        )


def _reachable() -> Q:
    """Requests whose address may still get a message it asked for on the request's channel
    (not STOP'd or unsubscribed, not unreachable: ``eligibility.reachable_without_consent``,
    the one rule; checked again at send time, with the do-not-contact list)."""
    return Q(channel=Channel.SMS) & reachable_without_consent(Channel.SMS, prefix="contact__") | Q(
        channel=Channel.EMAIL
    ) & reachable_without_consent(Channel.EMAIL, prefix="contact__")


def _candidates(rows: QuerySet[StockRequest]) -> QuerySet[Any]:
    """``rows`` with the candidate columns (``campaigns.triggers.CANDIDATE_FIELDS``). The
    planner picks an "SMS, else email" step's channel from the number, its consent and its
    reachability: here they say the request's channel (an SMS request reads as a number that
    may get its SMS, an email request as none), since the request is this message's consent."""
    sms = Q(channel=Channel.SMS)
    annotated: QuerySet[Any] = rows.annotate(
        subject=F("pk"),
        cart_ref=Value(None, output_field=BigIntegerField()),
        contact_ref=F("contact_id"),
        moment=F("product__restocked_at"),
        phone_ref=Case(
            When(sms, then=F("contact__phone")), default=Value(""), output_field=CharField()
        ),
        consent_ref=Value(ConsentStatus.GRANTED, output_field=CharField()),
        unreachable_ref=Value(None, output_field=DateTimeField()),
    )
    return annotated
