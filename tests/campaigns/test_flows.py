"""The default flow: its text fits one GSM-7 segment at its longest, and the opt-out mention
follows what the site's sender can receive (campaigns/flows.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns import opt_out
from campaigns.admin import StepForm
from campaigns.flows import (
    OptOutRoute,
    create_default_flow,
    mention_errors,
    opt_out_route,
    stop_mention,
)
from campaigns.sms_text import CODE_LENGTH, compose, format_money, worst_case, worst_case_errors
from retargeting.sites.models import Language
from retargeting.sms import segments
from tests.factories import StepFactory

pytestmark = pytest.mark.django_db

BASE_30 = "https://relance-boutique.examp"  # 30 characters, the longest base promised
SHOP_20 = "Maison Gwendoline Co"  # 20 characters
FIRST_NAME_10 = "Marie-Anne"  # 10 characters


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize(
    ("public", "short"),
    [(BASE_30, ""), ("https://relance.example", BASE_30), ("http://127.0.0.1:8000", "")],
)
@pytest.mark.parametrize("stop_number", ["", "36111", "+" + "3" * 15])  # the field holds 16
def test_the_default_text_fits_one_gsm7_segment_at_its_longest(
    site, settings, language, public, short, stop_number
):
    assert (len(BASE_30), len(SHOP_20), len(FIRST_NAME_10)) == (30, 20, 10)
    settings.PUBLIC_BASE_URL, settings.SHORT_LINK_BASE_URL = public, short
    site.name, site.language, site.stop_number = SHOP_20, language, stop_number
    site.save()
    step = create_default_flow(site=site).steps.get()
    currency = "EUR" if language == Language.FR else "USD"
    text = compose(
        step,
        site,
        {
            "first_name": FIRST_NAME_10,
            "shop": site.name,
            "cart_total": format_money(Decimal("99999.99"), currency, language),
            "link": f"{short or public}/s/{'x' * CODE_LENGTH}",
        },
    )
    counted = segments.count(text)
    assert f"{short or public}/s/" in text and FIRST_NAME_10 in text and SHOP_20 in text
    assert text.endswith(stop_mention(site=site))
    assert (counted.encoding, counted.segments) == ("GSM-7", 1), (counted.units, text)
    assert counted.units <= 160


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            Language.FR,
            "Ma Boutique : votre panier de 59,90 € vous attend : https://r.example/s/abc\n"
            "Répondez STOP pour vous désabonner",
        ),
        (
            Language.EN,
            "Ma Boutique: your $59.90 cart is waiting: https://r.example/s/abc\n"
            "Reply STOP to opt out",
        ),
    ],
)
def test_the_default_text_without_a_first_name_reads_well(site, language, expected):
    site.name, site.language = "Ma Boutique", language
    site.save()
    step = create_default_flow(site=site).steps.get()
    currency = "EUR" if language == Language.FR else "USD"
    values = {
        "shop": site.name,
        "cart_total": format_money(Decimal("59.90"), currency, language),
        "link": "https://r.example/s/abc",
    }
    assert compose(step, site, values) == expected


# The opt-out mention follows what the site's sender can receive.

ALPHA = "MAISONDEMO"


@pytest.fixture
def on_twilio(settings):
    """Twilio as the backend (nothing is sent: the mention needs only what senders can do)."""
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_FROM = "+33757000001"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.PUBLIC_BASE_URL, settings.SHORT_LINK_BASE_URL = "https://relance.example", ""
    return settings


@pytest.mark.parametrize(
    ("backend", "sender", "stop_number", "language", "route", "mention"),
    [
        ("twilio", "", "", "fr", "reply", "Répondez STOP pour vous désabonner"),
        ("twilio", "+33757000002", "", "en", "reply", "Reply STOP to opt out"),
        ("twilio", "36111", "36111", "fr", "reply", "STOP au 36111"),
        ("twilio", ALPHA, "", "fr", "link", "Stop SMS : {{ stop_link }}"),
        ("twilio", ALPHA, "36111", "en", "link", "Stop texts: {{ stop_link }}"),
        ("outbox", ALPHA, "", "fr", "reply", "Répondez STOP pour vous désabonner"),
    ],
)
def test_the_mention_is_chosen_from_what_the_sender_receives(
    site, on_twilio, backend, sender, stop_number, language, route, mention
):
    on_twilio.SMS_BACKEND = backend
    site.sender, site.stop_number, site.language = sender, stop_number, language
    assert opt_out_route(site=site) == route
    assert stop_mention(site=site) == mention
    assert create_default_flow(site=site).steps.get().template.endswith(mention)


def test_the_provider_placeholder_is_the_mention_where_the_gateway_has_one(site, monkeypatch):
    from retargeting.gateways.outbox.gateway import OutboxGateway

    monkeypatch.setattr(OutboxGateway, "sender_receives_replies", lambda self, sender: False)
    monkeypatch.setattr(OutboxGateway, "stop_mention_placeholder", lambda self: "[STOP_CODE]")
    assert opt_out_route(site=site) == OptOutRoute.PROVIDER
    assert stop_mention(site=site) == "[STOP_CODE]"
    step = create_default_flow(site=site).steps.get()
    assert compose(step, site, {"shop": site.name, "link": "https://r.example/s/a"}).endswith(
        "\n[STOP_CODE]"
    )


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize(
    ("public", "short"),
    [(BASE_30, ""), ("https://relance.example", BASE_30), ("http://127.0.0.1:8000", "")],
)
def test_the_default_text_with_the_opt_out_link_fits_one_segment_at_its_longest(
    site, on_twilio, language, public, short
):
    on_twilio.PUBLIC_BASE_URL, on_twilio.SHORT_LINK_BASE_URL = public, short
    site.name, site.language, site.sender = SHOP_20, language, ALPHA
    site.save()
    step = create_default_flow(site=site).steps.get()
    stop_link = f"{short or public}/u/{'x' * opt_out.CODE_LENGTH}"
    text = compose(
        step,
        site,
        {
            "first_name": FIRST_NAME_10,
            "shop": site.name,
            "link": f"{short or public}/s/{'x' * CODE_LENGTH}",
            "stop_link": stop_link,
        },
    )
    counted = segments.count(text)
    assert text.endswith(stop_mention(site=site, stop_link=stop_link))
    assert "STOP" not in text.replace("Stop SMS", "").replace("Stop texts", "").upper()
    assert (counted.encoding, counted.segments) == ("GSM-7", 1), (counted.units, text)


def test_a_reply_mention_kept_from_an_earlier_sender_gets_the_link_as_well(site, on_twilio):
    site.sender = ALPHA
    step = StepFactory(flow__site=site, template="Votre panier {{ link }} Répondez STOP")
    text = compose(
        step, site, {"link": "https://r.example/s/a", "stop_link": "https://r.example/u/b"}
    )
    assert text.endswith("Répondez STOP\nStop SMS : https://r.example/u/b")


@pytest.mark.parametrize(
    "template",
    [
        "Votre panier {{ link }} Répondez STOP pour vous désabonner",
        "Votre panier {{ link }} repondez stop",
        "Votre panier {{ link }} STOP au 36111",
        "Your cart {{ link }} Reply STOP to opt out",
        "Your cart {{ link }} Text STOP to 36111",
    ],
)
def test_a_text_telling_people_to_reply_is_refused_where_nobody_can_reply(
    site, on_twilio, template
):
    site.sender = ALPHA
    site.save()
    step = StepFactory(flow__site=site)
    form = StepForm(
        data={
            "flow": step.flow.pk,
            "position": 1,
            "delay_minutes": 30,
            "template": template,
            "channel": "sms",
            "discount_mode": "none",
            "pool_fallback": "fixed",
        },
        instance=step,
    )
    assert not form.is_valid()
    [error] = form.errors["template"]
    assert "MAISONDEMO, which customers cannot reply to" in error
    assert "Stop SMS : {{ stop_link }}" in error
    # The same words from a number that receives replies are what customers should do.
    site.sender = "+33757000002"
    site.save()
    step.flow.site.refresh_from_db()
    form = StepForm(data=form.data, instance=type(step).objects.get(pk=step.pk))
    assert form.is_valid(), form.errors


def test_a_text_with_the_link_or_a_plain_stop_is_accepted_where_nobody_can_reply(site, on_twilio):
    site.sender = ALPHA
    for text in ["Panier {{ link }} {{ stop }}", "Panier {{ link }} Stop SMS : {{ stop_link }}"]:
        step = StepFactory.build(flow__site=site, template=text)
        assert mention_errors(step, site=site) == []


def test_the_longest_text_counts_the_opt_out_link_at_its_real_length(site, on_twilio):
    site.sender = ALPHA
    site.save()
    # 125 characters before the mention: one segment with a reply mention, two with the link.
    template = "x" * 125 + " {{ stop }}"
    step = StepFactory(flow__site=site, flow__max_segments=1, template=template)
    longest = worst_case(step)
    link = f"https://relance.example/u/{'x' * opt_out.CODE_LENGTH}"
    assert longest == "x" * 125 + f" Stop SMS : {link}"
    assert segments.count(longest).segments == 2
    assert "needs 2 SMS segments" in worst_case_errors(step)[0]
    site.sender = "+33757000002"
    assert segments.count(worst_case(step, site=site)).segments == 1


@pytest.mark.django_db
def test_a_trigger_that_never_runs_is_offered_nowhere(admin_client, site):
    # The admin offered "Checkout started" and "Browse abandoned": a marketer could save such a
    # flow, and nothing would ever be sent.
    from campaigns.models import Flow, Trigger
    from tests.factories import FlowFactory

    form = admin_client.get("/admin/campaigns/flow/add/").context["adminform"].form
    assert [value for value, _label in form.fields["trigger"].choices] == [
        Trigger.CART_ABANDONED,
        Trigger.BROWSE_ABANDONED,
    ]
    data = {
        "site": site.pk,
        "name": "Parcours",
        "slug": "parcours",
        "trigger": Trigger.BACK_IN_STOCK,
        "is_active": "on",
        "holdout_percent": 0,
        "transliterate": "on",
        "max_segments": 3,
        "steps-TOTAL_FORMS": 0,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    refused = admin_client.post("/admin/campaigns/flow/add/", data)
    assert refused.status_code == 200 and "trigger" in refused.context["adminform"].form.errors
    assert not Flow.objects.filter(slug="parcours").exists()
    # Control: the trigger that runs is saved.
    data["trigger"] = Trigger.CART_ABANDONED
    assert admin_client.post("/admin/campaigns/flow/add/", data).status_code == 302
    assert Flow.objects.filter(slug="parcours", trigger=Trigger.CART_ABANDONED).exists()
    # A flow of a trigger not offered (the bridge's, made by a shopper's request) keeps it,
    # read-only.
    old = FlowFactory(site=site, trigger=Trigger.EMAIL_CART)
    page = admin_client.get(f"/admin/campaigns/flow/{old.pk}/change/")
    assert "trigger" not in page.context["adminform"].form.fields
