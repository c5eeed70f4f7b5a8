"""The bridge's planning (campaigns/bridge.py): one email per cart, due now, handed on at once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from unittest import mock

import pytest
import time_machine
from kombu.exceptions import OperationalError as KombuOperationalError

from campaigns import bridge, dispatch
from campaigns.flows import create_default_flow
from campaigns.models import Flow, Send, SendEvent, StepChannel, Trigger
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from tests.factories import CartFactory, ContactFactory, SiteFactory, VisitorFactory

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
