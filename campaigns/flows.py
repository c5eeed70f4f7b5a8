"""Flows: the default cart-abandonment flow every new site starts with, and the opt-out
mention its messages carry, chosen from what the site's sender can receive."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.default_texts import default_texts
from campaigns.models import DEFAULT_DELAY_MINUTES, Flow, Step, StepChannel, Trigger
from retargeting.gateways import get_gateway
from retargeting.sites.models import Language, Site

DEFAULT_FLOW_SLUG = "panier-abandonne"
# Every trigger's default texts live in campaigns.default_texts (GSM-7, one segment at their
# longest with the opt-out mention this module appends).
STOP_LINK_VARIABLE = "{{ stop_link }}"
STOP_LINK_MENTION = {Language.FR: "Stop SMS : {link}", Language.EN: "Stop texts: {link}"}
# Words that tell the customer to answer the message ("Répondez STOP", "Reply STOP",
# "STOP au 36111"), read without accents and case.
_TELLS_TO_REPLY = re.compile(
    r"\b(?:repond\w*|reponse|reply|text|answer|send|envoy\w*)\s+[\"'«“]?\s*stop\b"
    r"|\bstop\s+(?:au|to)\b",
    re.IGNORECASE,
)


class OptOutRoute(StrEnum):
    """How a customer stops a site's messages."""

    REPLY = "reply"
    """They answer STOP: the sender receives replies."""
    PROVIDER = "provider"
    """The provider's STOP short code, whose mention the provider fills in (Brevo)."""
    LINK = "link"
    """Nobody can answer the sender (an alphanumeric ID): the one-tap opt-out link."""


def opt_out_route(*, site: Site) -> OptOutRoute:
    """The way to stop that works for ``site``'s messages, from its sender and gateway."""
    gateway = get_gateway()
    # The site's own sender, or "" for the platform's: the gateway resolves the default as it
    # does when it sends (a Twilio Messaging Service comes before TWILIO_FROM).
    if gateway.sender_receives_replies(site.sender):
        return OptOutRoute.REPLY
    if gateway.stop_mention_placeholder():
        return OptOutRoute.PROVIDER
    return OptOutRoute.LINK


def stop_mention(*, site: Site, stop_link: str = STOP_LINK_VARIABLE) -> str:
    """The opt-out mention every marketing SMS of ``site`` carries: "Répondez STOP" (or
    "STOP au NUMBER") where the sender receives replies, else the provider's placeholder, else
    the opt-out link ``stop_link`` (by default the template variable that becomes it)."""
    route = opt_out_route(site=site)
    if route is OptOutRoute.PROVIDER:
        return get_gateway().stop_mention_placeholder() or ""
    if route is OptOutRoute.LINK:
        return STOP_LINK_MENTION[Language(site.language)].format(link=stop_link)
    if site.language == Language.FR:
        if site.stop_number:
            return f"STOP au {site.stop_number}"
        return "Répondez STOP pour vous désabonner"
    if site.stop_number:
        return f"Text STOP to {site.stop_number} to opt out"
    return "Reply STOP to opt out"


def has_stop_mention(body: str, *, site: Site, stop_link: str) -> bool:
    """Whether a rendered text already carries a way to stop that works on ``site``'s route:
    the word STOP where replies arrive, the provider's placeholder, or the opt-out link."""
    route = opt_out_route(site=site)
    if route is OptOutRoute.REPLY:
        # A mention that says how to stop ("Répondez STOP", "STOP au 36xxx"), not the word
        # alone: a product called "Sweat Nonstop" or a shop "Stop&Go" is no way to stop.
        # The one-tap link works on every route.
        return bool(tells_to_reply(body)) or (bool(stop_link) and stop_link in body)
    if route is OptOutRoute.PROVIDER:
        return (get_gateway().stop_mention_placeholder() or "") in body
    return bool(stop_link) and stop_link in body


def tells_to_reply(text: str) -> str:
    """The words of ``text`` that tell the customer to answer the SMS, or ``""``."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    found = _TELLS_TO_REPLY.search(plain)
    return found.group(0) if found else ""


def mention_errors(step: Step, *, site: Site | None = None) -> list[str]:
    """Why ``step``'s text is refused on its site's route: it tells customers to reply to a
    sender that cannot receive replies (empty: it is not)."""
    site = site or step.flow.site
    words = tells_to_reply(step.template)
    if not words or opt_out_route(site=site) is OptOutRoute.REPLY:
        return []
    sender = site.effective_sender or _("the platform's default sender")
    return [
        _(
            "“%(words)s”: this site sends as %(sender)s, which customers cannot reply to. "
            "Remove the reply mention; the opt-out that works is added (%(mention)s)."
        )
        % {"words": words, "sender": sender, "mention": stop_mention(site=site)}
    ]


@transaction.atomic
def create_default_flow(
    *, site: Site, delay_minutes: int = DEFAULT_DELAY_MINUTES, channel: str = StepChannel.SMS
) -> Flow:
    """A one-step cart-abandonment flow, sent ``delay_minutes`` after the cart's last change,
    by ``channel`` (a ``StepChannel``): a step that may go by email has its subject and words."""
    texts = default_texts(Trigger.CART_ABANDONED, site.language)
    by_email = channel != StepChannel.SMS
    flow = Flow.objects.create(
        site=site, name=texts.name, slug=DEFAULT_FLOW_SLUG, trigger=Trigger.CART_ABANDONED
    )
    Step.objects.create(
        flow=flow,
        position=1,
        delay_minutes=delay_minutes,
        # The mention is written out so the marketer sees it in the text they edit.
        template=default_template(site=site),
        channel=channel,
        subject=texts.subject if by_email else "",
        email_template=texts.email if by_email else "",
    )
    return flow


def default_template(*, site: Site, trigger: str = Trigger.CART_ABANDONED) -> str:
    """The default SMS of ``trigger``'s step for ``site``, in its language, its opt-out mention
    written out (the shorter text where that mention is the one-tap link)."""
    texts = default_texts(trigger, site.language)
    if opt_out_route(site=site) is OptOutRoute.LINK:
        return (texts.sms_with_link or texts.sms) + stop_mention(site=site)
    return texts.sms + stop_mention(site=site)
