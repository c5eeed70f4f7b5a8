"""Every trigger's default step (campaigns/default_texts.py): French and English, only the
variables its trigger fills, and ONE GSM-7 segment at its longest on every opt-out route
(issue 32, "Deliver" 7). Parametrised over the registry, so a trigger added to it is covered
without a new test (docs/development.md, "Adding a trigger")."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.default_texts import DEFAULT_TEXTS, default_texts
from campaigns.flows import OptOutRoute, default_template, has_stop_mention, opt_out_route
from campaigns.models import Flow, StepChannel, Trigger
from campaigns.onboarding import add_flow
from campaigns.sms_templates import template_errors
from campaigns.sms_text import sample_opt_out_url, worst_case
from campaigns.trigger_registry import offered, rendering_room, trigger_room
from retargeting.gateways.outbox.gateway import OutboxGateway
from retargeting.sites.models import Language
from retargeting.sms import segments
from tests.factories import FlowFactory, StepFactory

pytestmark = pytest.mark.django_db

BASE_30 = "https://relance-boutique.examp"  # 30 characters, the longest base promised
SHOP_20 = "Maison Gwendoline Co"  # 20 characters
ALPHA = "MAISONDEMO"
ROUTES = ["reply", "reply_to_number", "provider", "link"]
EVERY_TRIGGER = sorted(set(offered()) | set(DEFAULT_TEXTS))


@pytest.fixture
def on_route(site, settings, monkeypatch):
    """The site on one opt-out route, with the longest short-link base and shop name."""

    def put(route: str, language: str):
        settings.PUBLIC_BASE_URL, settings.SHORT_LINK_BASE_URL = BASE_30, ""
        site.name, site.language, site.stop_number, site.sender = SHOP_20, language, "", ""
        if route == "reply_to_number":
            site.stop_number = "+" + "3" * 15  # the field holds 16
        elif route == "provider":
            monkeypatch.setattr(OutboxGateway, "sender_receives_replies", lambda self, s: False)
            monkeypatch.setattr(OutboxGateway, "stop_mention_placeholder", lambda self: "[STOP]")
        elif route == "link":
            settings.SMS_BACKEND, settings.TWILIO_FROM = "twilio", "+33757000001"
            settings.TWILIO_MESSAGING_SERVICE_SID = ""
            site.sender = ALPHA
        site.save()
        expected = {"reply": "reply", "reply_to_number": "reply"}.get(route, route)
        assert opt_out_route(site=site) == OptOutRoute(expected)
        return site

    return put


def test_every_offered_trigger_has_its_texts_in_french_and_english():
    assert "welcome" in offered()
    for trigger in offered():
        for language in Language.values:
            texts = trigger_room(trigger).default_texts(language)
            assert texts.sms and texts.subject and texts.email and texts.name


@pytest.mark.parametrize("trigger", EVERY_TRIGGER)
@pytest.mark.parametrize("language", Language.values)
def test_the_default_texts_use_only_the_variables_their_trigger_fills(trigger, language):
    texts = default_texts(trigger, language)
    allowed = rendering_room(trigger).allowed_variables()
    for text in (texts.sms, texts.sms_with_link, texts.subject, texts.email):
        assert template_errors(text, variables=allowed) == [], (trigger, text)
    # Control: the check refuses what a trigger does not fill.
    assert template_errors("{{ order_number }}", variables=("shop",))


@pytest.mark.parametrize("trigger", EVERY_TRIGGER)
@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize("route", ROUTES)
def test_the_default_sms_fits_one_gsm7_segment_at_its_longest(
    site, on_route, trigger, language, route
):
    """Built triggers through add_flow; the texts of triggers whose room is not merged yet
    with the longest value of every trigger variable."""
    on_route(route, language)
    if trigger in offered():
        step = add_flow(site=site, trigger=trigger).steps.get()
    else:
        flow = FlowFactory(site=site, trigger=trigger)
        step = StepFactory(flow=flow, template=default_template(site=site, trigger=trigger))
    text = worst_case(step)
    counted = segments.count(text)
    assert (counted.encoding, counted.segments) == ("GSM-7", 1), (counted.units, text)
    assert f"{BASE_30}/s/" in text and SHOP_20 in text
    assert has_stop_mention(text, site=site, stop_link=sample_opt_out_url())


@pytest.mark.parametrize("trigger", offered())
def test_add_flow_makes_each_offered_trigger_with_its_delay_and_texts(site, trigger):
    room = trigger_room(trigger)
    for language in Language.values:
        site.language = language
        site.save()
        out = StringIO()
        call_command(
            "add_flow",
            "--site",
            str(site.pk),
            "--trigger",
            trigger,
            "--channel",
            "sms_else_email",
            stdout=out,
        )
        printed = json.loads(out.getvalue())
        flow = Flow.objects.get(pk=printed["flow_id"])
        step = flow.steps.get()
        assert printed == {"flow_id": flow.pk, "step_id": step.pk}
        texts = default_texts(trigger, language)
        assert (flow.trigger, flow.is_active, flow.name) == (trigger, True, texts.name)
        assert step.delay_minutes == room.default_delay_minutes
        assert step.channel == StepChannel.SMS_ELSE_EMAIL
        assert step.template == default_template(site=site, trigger=trigger)
        assert (step.subject, step.email_template) == (texts.subject, texts.email)


def test_a_text_using_another_triggers_variable_is_refused_naming_those_available(site):
    from campaigns.onboarding import FlowRefused

    with pytest.raises(FlowRefused) as refused:
        add_flow(site=site, trigger=Trigger.WELCOME, text="{{ shop }} {{ cart_total }} {{ link }}")
    message = str(refused.value)
    assert "cart_total" in message and "not filled for this trigger" in message
    assert "discount_code" in message and "\n" not in message
    assert not Flow.objects.exists()
    # Control: the cart's flow takes it.
    assert add_flow(site=site, trigger=Trigger.CART_ABANDONED, text="{{ cart_total }} {{ link }}")


def test_a_step_and_the_editors_preview_refuse_a_variable_the_trigger_does_not_fill(
    admin_client, site
):
    from campaigns.admin import StepForm

    welcome = StepFactory(flow=FlowFactory(site=site, trigger=Trigger.WELCOME))

    def step_form(template, **email):
        data = {
            "flow": welcome.flow.pk,
            "position": 1,
            "delay_minutes": 5,
            "template": template,
            "channel": "sms_else_email" if email else "sms",
            "discount_mode": "none",
            "pool_fallback": "fixed",
            **email,
        }
        return StepForm(data=data, instance=welcome)

    refused = step_form("{{ shop }} : {{ item_name }} {{ link }}")
    assert not refused.is_valid()
    [error] = refused.errors["template"]
    assert "item_name" in error and "not filled" in error and "discount_code" in error
    refused = step_form("{{ shop }} {{ link }}", subject="{{ order_number }}", email_template="")
    assert not refused.is_valid() and "order_number" in str(refused.errors["subject"])
    assert step_form("{{ shop }} : bienvenue {{ link }}").is_valid()  # control
    preview = admin_client.post(
        "/dashboard/preview",
        {"site": site.pk, "trigger": Trigger.WELCOME, "template": "{{ cart_total }} {{ link }}"},
    ).json()
    assert any("cart_total" in error and "not filled" in error for error in preview["errors"])
    cart = admin_client.post(
        "/dashboard/preview",
        {"site": site.pk, "trigger": Trigger.CART_ABANDONED, "template": "{{ cart_total }}"},
    ).json()
    assert not any("not filled" in error for error in cart["errors"])
    assert "59,90" in cart["sample"]["text"] or "59.90" in cart["sample"]["text"]
