"""The bridge's planning (campaigns/bridge.py): one email per cart, due now, handed on at once."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from kombu.exceptions import OperationalError as KombuOperationalError

from campaigns import bridge, dispatch, opt_out, tasks
from campaigns.email_messages import email_text_errors, render_email
from campaigns.flows import create_default_flow
from campaigns.models import Flow, Send, SendEvent, StepChannel, Trigger
from campaigns.sms_text import link_url, short_link
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    SiteFactory,
    VisitorFactory,
)
from tests.support.admin_forms import change_form_data

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def handed():
    with mock.patch("campaigns.tasks.deliver_send.delay") as delay:
        yield delay


@time_machine.travel(NOW, tick=False)
def test_the_cart_is_planned_by_email_due_now_and_handed_to_the_worker_once_committed(
    site, handed, django_capture_on_commit_callbacks
):
    cart = CartFactory(visitor__site=site)
    with django_capture_on_commit_callbacks(execute=True):
        send = bridge.request_cart_email(site=site, visitor=cart.visitor, email="marie@example.fr")
        assert not handed.called, "not before the commit"
    assert send is not None
    handed.assert_called_once_with(send.pk)
    send.refresh_from_db()
    assert (send.cart, send.channel, send.status, send.due_at) == (cart, "email", "planned", NOW)
    assert send.step.channel == StepChannel.EMAIL
    assert send.contact.email == "marie@example.fr"
    assert list(send.history.values_list("status", "source")) == [("planned", "planner")]


def test_asked_twice_one_send_and_one_history_row(site, handed, django_capture_on_commit_callbacks):
    cart = CartFactory(visitor__site=site)
    with django_capture_on_commit_callbacks(execute=True):
        first = bridge.request_cart_email(site=site, visitor=cart.visitor, email="a@example.fr")
    with django_capture_on_commit_callbacks(execute=True):
        again = bridge.request_cart_email(site=site, visitor=cart.visitor, email="b@example.fr")
    assert first is not None and again is not None and again.pk == first.pk
    assert Send.objects.count() == 1 and SendEvent.objects.count() == 1
    assert handed.call_count == 1
    assert again.contact.email == "a@example.fr"


def test_a_browser_without_a_cart_with_items_gets_nothing(site, handed):
    empty = CartFactory(visitor__site=site, item_count=0, items=[])
    bought = CartFactory(visitor__site=site, status="converted", converted_at=NOW)
    nobody = VisitorFactory(site=site)
    for visitor in (empty.visitor, bought.visitor, nobody):
        assert bridge.request_cart_email(site=site, visitor=visitor, email="a@example.fr") is None
    assert not Send.objects.exists()
    assert not Contact.objects.exists()


def test_an_address_erased_after_it_unsubscribed_gets_no_cart_email(site, handed):
    from optin.consent import revoke
    from optin.erasure import erase_contact

    hers = ContactFactory(site=site, email="marie@example.fr")
    record_consent(
        contact=hers, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API, channel="email"
    )
    revoke(contact=hers, channel="email", source=ConsentSource.UNSUBSCRIBE)
    erase_contact(site=site, raw_email="marie@example.fr")  # her hash stays: never again
    cart = CartFactory(visitor__site=site)
    asked = bridge.request_cart_email(site=site, visitor=cart.visitor, email="marie@example.fr")
    assert asked is None
    assert not Send.objects.exists() and not Contact.objects.exists()
    # Control: another address is planned.
    other = bridge.request_cart_email(site=site, visitor=cart.visitor, email="paul@example.fr")
    assert other is not None and other.contact.email == "paul@example.fr"


def test_no_consent_is_given_or_changed_and_the_browser_is_not_linked(site, handed):
    known = ContactFactory(site=site, email="marie@example.fr")
    record_consent(contact=known, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    record_consent(
        contact=known,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.UNSUBSCRIBE,
        channel="email",
    )
    history = known.consents.count()
    cart = CartFactory(visitor__site=site)
    send = bridge.request_cart_email(site=site, visitor=cart.visitor, email="marie@example.fr")
    assert send is not None and send.contact_id == known.pk
    known.refresh_from_db()
    assert (known.consent_status, known.email_consent_status) == ("granted", "revoked")
    assert known.consents.count() == history
    assert not VisitorLink.objects.exists()
    # A new address: a contact with the address only, no number, no consent.
    other = CartFactory(visitor__site=site)
    new = bridge.request_cart_email(site=site, visitor=other.visitor, email="new@example.fr")
    assert new is not None
    assert (new.contact.phone, new.contact.region, new.contact.consents.count()) == ("", "FR", 0)


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("fr", "Votre panier {{ shop }}", "que vous avez demandé"),
        ("en", "Your {{ shop }} cart", "you asked for"),
    ],
)
def test_the_bridge_flow_is_made_on_first_use_in_the_sites_language(
    language, subject, words, handed
):
    site = SiteFactory(language=language)
    for _ in range(2):
        bridge.request_cart_email(
            site=site, visitor=CartFactory(visitor__site=site).visitor, email="m@example.fr"
        )
    [flow] = Flow.objects.filter(site=site, trigger=Trigger.EMAIL_CART)
    [step] = flow.steps.all()
    assert (step.channel, step.delay_minutes, step.subject) == ("email", 0, subject)
    assert words in step.email_template


@time_machine.travel(NOW, tick=False)
def test_the_dispatch_pass_never_plans_the_bridge_but_sends_what_it_planned(site, handed):
    create_default_flow(site=site, delay_minutes=30)
    cart = CartFactory(visitor__site=site)
    asked = bridge.request_cart_email(site=site, visitor=cart.visitor, email="m@example.fr")
    # Another abandoned cart of a consenting contact: the pass plans it in the cart flow only.
    contact = ContactFactory(site=site)
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    link = VisitorLink.objects.create(
        visitor=VisitorFactory(site=site), contact=contact, method="server", linked_at=NOW
    )
    CartFactory(visitor=link.visitor, last_change_at=NOW)
    due = []
    dispatch.run_pass(now=NOW.replace(hour=11), enqueue=due.append)
    bridge_flow = Flow.objects.get(site=site, trigger=Trigger.EMAIL_CART)
    assert Send.objects.filter(step__flow=bridge_flow).count() == 1
    assert asked is not None and asked.pk in due
    assert len(due) == 2  # and the abandoned cart's reminder


def test_with_the_broker_away_the_send_waits_for_the_dispatch_pass(
    site, caplog, django_capture_on_commit_callbacks
):
    cart = CartFactory(visitor__site=site)
    with (
        mock.patch("campaigns.tasks.deliver_send.delay", side_effect=KombuOperationalError("down")),
        caplog.at_level(logging.WARNING),
        django_capture_on_commit_callbacks(execute=True),
    ):
        send = bridge.request_cart_email(site=site, visitor=cart.visitor, email="m@example.fr")
    assert send is not None
    assert "the next dispatch pass sends it" in caplog.text
    assert Send.objects.get(pk=send.pk).status == "planned"


def test_the_collectors_hook_is_the_bridge():
    from retargeting.tracking import hooks

    assert bridge.on_cart_email_request in hooks._cart_email_handlers


# --- The link is the proof: the owner's tap links both browsers, a stranger's request none ---

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE_VID = "p" * 32
DESKTOP_VID = "d" * 32


def _post(client, site, vid, event, agent):
    body = {"site": site.public_key, "vid": vid, "events": [event]}
    return client.post(
        "/t/e",
        data=json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN="https://www.shop.example",
        HTTP_USER_AGENT=agent,
    )


def _tap_and_land(client, send, agent, vid):
    """The email's short link tapped by ``agent``; its landing page's snippet sends the token."""
    link = short_link(send)
    response = client.get(f"/s/{link.code}", HTTP_USER_AGENT=agent)
    token = parse_qs(urlsplit(response["Location"]).query).get("_rl", [None])[0]
    if token is not None:
        assert (
            _post(client, send.site, vid, {"type": "identify", "token": token}, agent).status_code
            == 204
        )
    return token


def _owner(vid):
    return (
        VisitorLink.objects.filter(visitor__vid=vid)
        .values_list("contact__email", flat=True)
        .first()
    )


def test_the_owners_tap_on_the_bridge_link_links_the_desktop_and_the_asking_phone(
    client, site, handed, django_capture_on_commit_callbacks
):
    CartFactory(visitor__site=site, visitor__vid=PHONE_VID, url="https://shop.example/panier")
    with django_capture_on_commit_callbacks(execute=True):
        asked = {"type": "email_cart", "email": "marie@example.fr"}
        assert _post(client, site, PHONE_VID, asked, PHONE_UA).status_code == 204
    send = Send.objects.get(step__flow__trigger=Trigger.EMAIL_CART)
    assert _owner(PHONE_VID) is None, "asking links nothing"
    with django_capture_on_commit_callbacks(execute=True):
        assert _tap_and_land(client, send, DESKTOP_UA, DESKTOP_VID)
    assert (_owner(DESKTOP_VID), _owner(PHONE_VID)) == ("marie@example.fr", "marie@example.fr")
    # The tapping browser by the token; the asking one as a claim's link (it typed the
    # address), which only a contact without live consent anywhere gets.
    methods = dict(VisitorLink.objects.values_list("visitor__vid", "method"))
    assert methods == {DESKTOP_VID: "token", PHONE_VID: "snippet"}
    contact = Contact.objects.get(email="marie@example.fr")
    assert (contact.consent_status, contact.email_consent_status) == ("none", "none")


def test_a_stranger_typing_her_address_links_nothing_until_she_taps(
    client, site, handed, django_capture_on_commit_callbacks
):
    hers = ContactFactory(site=site, email="marie@example.fr")
    record_consent(
        contact=hers, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API, channel="email"
    )
    stranger = "s" * 32
    CartFactory(visitor__site=site, visitor__vid=stranger, url="https://shop.example/panier")
    with django_capture_on_commit_callbacks(execute=True):
        asked = {"type": "email_cart", "email": "marie@example.fr"}
        assert _post(client, site, stranger, asked, PHONE_UA).status_code == 204
        # Nor may the stranger present a token of her own, or a forged one.
        forged = {"type": "identify", "token": f"{site.pk}.{hers.pk}.x.y:forged"}
        assert _post(client, site, stranger, forged, PHONE_UA).status_code == 204
    assert not VisitorLink.objects.exists()
    hers.refresh_from_db()
    assert hers.email_consent_status == "granted"
    # A link preview fetched by a chat app is no tap: still nothing.
    send = Send.objects.get(step__flow__trigger=Trigger.EMAIL_CART)
    with django_capture_on_commit_callbacks(execute=True):
        assert _tap_and_land(client, send, "WhatsApp/2.23.20.0", DESKTOP_VID) is None
    assert not VisitorLink.objects.exists()
    # Her tap proves her own browser; the browser that typed her address stays a stranger's,
    # since she has live consent: its carts would otherwise become her reminders.
    with django_capture_on_commit_callbacks(execute=True):
        assert _tap_and_land(client, send, DESKTOP_UA, DESKTOP_VID)
    assert (_owner(DESKTOP_VID), _owner(stranger)) == ("marie@example.fr", None)


def test_a_reminders_link_links_only_the_tapping_browser(
    client, site, consenting_contact, abandoned_cart_of, django_capture_on_commit_callbacks
):
    cart = abandoned_cart_of(consenting_contact, url="https://shop.example/panier")
    send = SendFactory(cart=cart, contact=consenting_contact, step__flow__site=site)
    other = VisitorFactory(site=site)
    with django_capture_on_commit_callbacks(execute=True):
        assert _tap_and_land(client, send, DESKTOP_UA, DESKTOP_VID)
    assert VisitorLink.objects.filter(visitor__vid=DESKTOP_VID, contact=consenting_contact).exists()
    assert not VisitorLink.objects.filter(visitor=other).exists()
    assert VisitorLink.objects.count() == 2  # the cart's own browser (its fixture) and the desktop


# --- A cart a second behind the request (the collector's buffer): looked for again ---


def test_a_cart_not_recorded_yet_is_looked_for_again_then_planned(site, handed):
    vid = "n" * 32
    with mock.patch("campaigns.tasks.plan_cart_email.apply_async") as later:
        bridge.on_cart_email_request(site_id=site.pk, vid=vid, email="m@example.fr")
        kwargs = {"site_id": site.pk, "vid": vid, "email": "m@example.fr", "attempt": 1}
        later.assert_called_once_with(kwargs=kwargs, countdown=bridge.LATER[0])
        assert not Send.objects.exists() and not Contact.objects.exists()
        # The ingest writes the browser and its cart; the task runs.
        CartFactory(visitor__site=site, visitor__vid=vid)
        assert tasks.plan_cart_email(**kwargs) is True
        assert later.call_count == 1, "planned: nothing more to wait for"
    assert Send.objects.get().contact.email == "m@example.fr"


def test_a_cart_that_never_comes_is_given_up_after_the_last_wait(site, handed):
    vid = "n" * 32
    with mock.patch("campaigns.tasks.plan_cart_email.apply_async") as later:
        for attempt in range(len(bridge.LATER) + 1):
            tasks.plan_cart_email(site_id=site.pk, vid=vid, email="m@example.fr", attempt=attempt)
    assert [c.kwargs["countdown"] for c in later.call_args_list] == list(bridge.LATER)
    assert not Send.objects.exists()


def test_a_cart_already_emailed_is_not_waited_for(site, handed):
    cart = CartFactory(visitor__site=site)
    bridge.request_cart_email(site=site, visitor=cart.visitor, email="m@example.fr")
    with mock.patch("campaigns.tasks.plan_cart_email.apply_async") as later:
        bridge.on_cart_email_request(site_id=site.pk, vid=cart.visitor.vid, email="x@example.fr")
    assert not later.called


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("fr", "Votre panier Boutique", "que vous avez demandé"),
        ("en", "Your Boutique cart", "you asked for"),
    ],
)
def test_the_bridge_email_renders_the_cart_with_its_link(language, subject, words, handed):
    site = SiteFactory(language=language, name="Boutique")
    cart = CartFactory(visitor__site=site)
    send = bridge.request_cart_email(site=site, visitor=cart.visitor, email="m@example.fr")
    assert send is not None
    assert email_text_errors(send.step) == {}, "its default texts are a valid email step"
    link = short_link(send)
    email, _ = render_email(send, link=link, unsubscribe=opt_out.link_for(send))
    assert email.subject == subject
    assert words in email.text and link_url(link) in email.text and "Chemise" in email.html


def test_the_admin_never_offers_the_bridge_as_a_flow_to_make_and_edits_the_one_made(
    admin_client, site, handed
):
    form = admin_client.get("/admin/campaigns/flow/add/").context["adminform"].form
    assert Trigger.EMAIL_CART not in dict(form.fields["trigger"].choices)
    assert Trigger.CART_ABANDONED in dict(form.fields["trigger"].choices)
    bridge.request_cart_email(
        site=site, visitor=CartFactory(visitor__site=site).visitor, email="m@example.fr"
    )
    flow = Flow.objects.get(trigger=Trigger.EMAIL_CART)
    page = admin_client.get(f"/admin/campaigns/flow/{flow.pk}/change/")
    data = change_form_data(page)
    data["steps-0-subject"] = "Votre panier, comme demandé"
    response = admin_client.post(f"/admin/campaigns/flow/{flow.pk}/change/", data)
    assert response.status_code == 302, response.context and response.context["errors"]
    flow.refresh_from_db()
    assert flow.trigger == Trigger.EMAIL_CART
    assert flow.steps.get().subject == "Votre panier, comme demandé"
