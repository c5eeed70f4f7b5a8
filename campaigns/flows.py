"""Flows: the default cart-abandonment flow every new site starts with, and the opt-out
mention its messages carry, chosen from what the site's sender can receive."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from django.db import transaction

from campaigns.models import DEFAULT_DELAY_MINUTES, Flow, Step, StepChannel, Trigger
from retargeting.gateways import get_gateway
from retargeting.sites.models import Language, Site

DEFAULT_FLOW_NAME = {Language.FR: "Relance de panier", Language.EN: "Cart reminder"}
DEFAULT_FLOW_SLUG = "panier-abandonne"

# GSM-7 only (no ç, ê, ’…) and one segment: with a short-link base of up to 30 characters,
# a 20-character shop name, a 10-character first name, a 99 999,99 € total and the opt-out
# mention (a STOP number of up to 16 characters included), the text stays within 160 GSM-7
# characters (tests/campaigns/test_flows.py computes that worst case). The opt-out mention is
# appended by create_default_flow.
DEFAULT_TEMPLATE = {
    Language.FR: (
        "{{ shop }} : {% if first_name %}{{ first_name }}, {% endif %}votre panier de "
        "{{ cart_total }} vous attend : {{ link }}\n"
    ),
    Language.EN: (
        "{{ shop }}: {% if first_name %}{{ first_name }}, {% endif %}your {{ cart_total }} "
        "cart is waiting: {{ link }}\n"
    ),
}
# Where the mention is the one-tap link, two links share the 160 characters: the total gives
# way, so that the worst case above still fits one segment with "Stop SMS : " and the link.
DEFAULT_LINK_TEMPLATE = {
    Language.FR: (
        "{{ shop }} : {% if first_name %}{{ first_name }}, {% endif %}votre panier vous "
        "attend : {{ link }}\n"
    ),
    Language.EN: (
        "{{ shop }}: {% if first_name %}{{ first_name }}, {% endif %}your cart is waiting: "
        "{{ link }}\n"
    ),
}
# The email of a step that may go by email: its subject, and its words above the cart (the
# email's unsubscribe link and headers are the email's own, campaigns.email_messages).
DEFAULT_EMAIL_SUBJECT = {
    Language.FR: "{{ shop }} : votre panier vous attend",
    Language.EN: "{{ shop }}: your cart is waiting",
}
DEFAULT_EMAIL_TEMPLATE = {
    Language.FR: (
        "Bonjour{% if first_name %} {{ first_name }}{% endif %},\n\n"
        "votre panier de {{ cart_total }} vous attend chez {{ shop }}. "
        "Reprenez-le où vous l'avez laissé : {{ link }}"
    ),
    Language.EN: (
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n\n"
        "your {{ cart_total }} cart is waiting at {{ shop }}. "
        "Pick up where you left off: {{ link }}"
    ),
}
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
    sender = site.effective_sender or "the platform's default sender"
    return [
        f'"{words}": this site sends as {sender}, which customers cannot reply to. Remove '
        f"the reply mention; the opt-out that works is added ({stop_mention(site=site)})."
    ]


@transaction.atomic
def create_default_flow(
    *, site: Site, delay_minutes: int = DEFAULT_DELAY_MINUTES, channel: str = StepChannel.SMS
) -> Flow:
    """A one-step cart-abandonment flow, sent ``delay_minutes`` after the cart's last change,
    by ``channel`` (a ``StepChannel``): a step that may go by email has its subject and words."""
    language = Language(site.language)
    by_email = channel != StepChannel.SMS
    flow = Flow.objects.create(
        site=site,
        name=DEFAULT_FLOW_NAME[language],
        slug=DEFAULT_FLOW_SLUG,
        trigger=Trigger.CART_ABANDONED,
    )
    Step.objects.create(
        flow=flow,
        position=1,
        delay_minutes=delay_minutes,
        # The mention is written out so the marketer sees it in the text they edit.
        template=default_template(site=site),
        channel=channel,
        subject=DEFAULT_EMAIL_SUBJECT[language] if by_email else "",
        email_template=DEFAULT_EMAIL_TEMPLATE[language] if by_email else "",
    )
    return flow


def default_template(*, site: Site) -> str:
    """The default step's text for ``site``, its opt-out mention written out."""
    language = Language(site.language)
    if opt_out_route(site=site) is OptOutRoute.LINK:
        return DEFAULT_LINK_TEMPLATE[language] + stop_mention(site=site)
    return DEFAULT_TEMPLATE[language] + stop_mention(site=site)
