"""Flows: the default cart-abandonment flow every new site starts with."""

from __future__ import annotations

from django.db import transaction

from campaigns.models import DEFAULT_DELAY_MINUTES, Flow, Step, Trigger
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


def stop_mention(*, site: Site) -> str:
    """The opt-out mention every marketing SMS of ``site`` carries."""
    if site.language == Language.FR:
        if site.stop_number:
            return f"STOP au {site.stop_number}"
        return "Répondez STOP pour vous désabonner"
    if site.stop_number:
        return f"Text STOP to {site.stop_number} to opt out"
    return "Reply STOP to opt out"


@transaction.atomic
def create_default_flow(*, site: Site, delay_minutes: int = DEFAULT_DELAY_MINUTES) -> Flow:
    """A one-step cart-abandonment flow, sent ``delay_minutes`` after the cart's last change."""
    language = Language(site.language)
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
        template=DEFAULT_TEMPLATE[language] + stop_mention(site=site),
    )
    return flow
