"""Welcome: one message after a number or address is confirmed.

A contact's consent on a channel goes live once: the owner answers the double opt-in (OUI, or
the confirmation link), or the site takes the consent at once (the shop's server vouching, a
site with double opt-in off). That moment is kept on the contact (``Contact.first_consented_at``
and ``email_first_consented_at``, written by ``optin.consent.record_consent`` with the row that
made the channel live, never reset), and the welcome's step goes its delay after it, with the
step's discount code if it has one.

Decided here:

- **One welcome per contact per flow, ever** (the subject is the contact): a STOP then a START
  keeps the first moment, so a returning subscriber is not welcomed again.
- **By the step's channel**: an SMS step welcomes the number's subscription, an email step the
  address's; an "SMS, else email" step the first of the two (a contact confirmed on SMS, then
  on email, is welcomed once, when the SMS went live).
- **Only subscriptions after the flow was created**, and at most ``STALE_AFTER`` ago: turning
  a welcome flow on greets those who subscribe from then on, never the existing list; a flow
  paused and turned on again greets those who subscribed meanwhile, within ``STALE_AFTER``.
- **Exits**: the consent revoked on the channel (the eligibility's own check), the contact
  erased.
- Marketing: consent, the cap, the site's quiet hours and the flow's holdout apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import BigIntegerField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext as _

from campaigns.eligibility import channels_of, reachable_on
from campaigns.models import Flow, Send, Step, Trigger
from campaigns.triggers import TriggerRoom
from optin.consent import FIRST_LIVE_FIELD
from optin.models import Contact
from retargeting.sites.models import Site

STALE_AFTER = timedelta(days=7)
"""A welcome later than this after the subscription is not sent: held by quiet hours and the
cap it still goes within the week; older subscriptions are the existing list."""


def _first_live_fields(step_channel: str) -> list[str]:
    """The contact's columns whose earliest value is the welcome's moment for a step on
    ``step_channel`` (a ``StepChannel``)."""
    return [FIRST_LIVE_FIELD[channel] for channel in channels_of(step_channel, email=True)]


def _moment_expression(fields: list[str]) -> Any:
    """The earliest of ``fields`` that is set (SQL's LEAST ignores NULLs on PostgreSQL, not
    on SQLite: each is coalesced with the other first)."""
    if len(fields) == 1:
        return F(fields[0])
    first, second = fields
    return Least(Coalesce(first, second), Coalesce(second, first))


def welcome_moment(contact: Contact, step_channel: str) -> datetime | None:
    """When ``contact`` subscribed on the channels of a step on ``step_channel``."""
    found = [getattr(contact, field) for field in _first_live_fields(step_channel)]
    moments = [at for at in found if at is not None]
    return min(moments) if moments else None


class Welcome(TriggerRoom):
    name = Trigger.WELCOME
    default_delay_minutes = 5
    """Soon after the confirmation, while the shop is on the customer's mind; not at once,
    so that the confirmation's own answer (the reply to OUI) comes first."""

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        """The site's contacts reachable on the step's channel who subscribed on it after the
        flow was created, within ``STALE_AFTER``, at least the step's delay ago, and not yet
        welcomed by this flow: one range on the index (site, first consent) per channel."""
        fields = _first_live_fields(step.channel)
        since = max(flow.created_at, now - STALE_AFTER)
        until = now - timedelta(minutes=step.delay_minutes)
        if until < since:
            return None
        reach = reachable_on(step.channel)
        # The earliest set column in [since, until]: one of them in it, none before it.
        within = Q()
        for field in fields:
            within |= Q(**{f"{field}__gte": since, f"{field}__lte": until})
        rows = (
            Contact.objects.filter(reach, within, site_id=flow.site_id)
            .exclude(Q(*[Q(**{f"{field}__lt": since}) for field in fields], _connector=Q.OR))
            .exclude(Exists(Send.objects.filter(step=step, subject_id=OuterRef("pk"))))
        )
        annotated: QuerySet[Any] = rows.annotate(
            # The columns of campaigns.triggers.CANDIDATE_FIELDS; the rows are the contacts.
            subject=F("pk"),
            cart_ref=Value(None, output_field=BigIntegerField()),
            contact_ref=F("pk"),
            moment=_moment_expression(fields),
            phone_ref=F("phone"),
            consent_ref=F("consent_status"),
            unreachable_ref=F("unreachable_at"),
        )
        return annotated

    # The sending batch reads each send's contact with it, and again under its lock: the
    # contact is the subject (nothing more to load: ``Send.subject`` is the email's subject
    # line, not the journey's), and a revoked consent is the eligibility's own exit.

    def moment(self, send: Send) -> datetime:
        at = welcome_moment(send.contact, send.step.channel) if send.contact else None
        return at or send.planned_at

    def stale_after(self, site: Site) -> timedelta:
        return STALE_AFTER

    def describe(self, send: Send) -> str:
        return _("welcome")
