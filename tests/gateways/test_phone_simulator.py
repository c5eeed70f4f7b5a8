"""The phone simulator's list (names, last messages), the line that says when the next dispatch
pass runs, and the answer its pages poll to refresh by themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from campaigns.tasks import dispatch_pass
from retargeting.gateways import passes
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.gateways.simulators import next_pass_line
from tests.factories import ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db
MARIE = "+33612345678"
PAUL = "+33698765432"
STRANGER = "+33611112222"


@pytest.fixture(autouse=True)
def no_pass_yet():
    cache.delete(passes.KEY)
    yield
    cache.delete(passes.KEY)


def _out(to, body, at, sender=""):
    return OutboxMessage.objects.create(
        provider_id=f"OB{to}{at.timestamp()}", to=to, body=body, sender=sender, created_at=at
    )


def _in(sender, body, at):
    return InboundMessage.objects.create(
        provider="outbox",
        provider_id=f"IB{sender}{at.timestamp()}",
        sender=sender,
        recipient="",
        body=body,
        received_at=at,
    )


def test_the_list_names_each_phone_and_shows_its_last_message_newest_first(
    client, development_mode
):
    shop = SiteFactory(name="Maison Lune")
    ContactFactory(site=shop, phone=MARIE, first_name="Marie")
    ContactFactory(site=shop, phone=PAUL, first_name="")
    ContactFactory(site=shop, phone="+33600000000", first_name="Nobody")  # never messaged
    start = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    _out(MARIE, "Votre panier vous attend", start)
    _out(MARIE, "Dernier rappel : -10 % sur votre panier " + "x" * 100, start + timedelta(hours=1))
    _out(PAUL, "Bienvenue chez Maison Lune", start + timedelta(minutes=10))
    _in(PAUL, "STOP", start + timedelta(hours=2))
    _out(STRANGER, "Code 1234", start + timedelta(minutes=5))

    page = client.get("/dev/phone/").content.decode()

    assert "Marie (Maison Lune)" in page
    assert f'<strong>(Maison Lune)</strong> <span class="number">{PAUL}</span>' in page
    assert "Nobody" not in page
    # Each phone's last message, an excerpt, with its time in the shop's zone (CET: UTC+1).
    assert "Dernier rappel : -10 % sur votre panier" in page
    assert "x" * 100 not in page and "…" in page
    assert "Votre panier vous attend" not in page  # not Marie's last
    assert "Replied: STOP" in page and "Bienvenue chez Maison Lune" not in page
    assert "07/12 16:00" in page and "07/12 15:00" in page  # STOP 15:00 UTC, Marie 14:00
    # Newest first: Paul (replied at 15:00 UTC), Marie (14:00 UTC), the stranger (13:05).
    assert page.index(PAUL) < page.index(MARIE) < page.index(STRANGER)


def test_the_list_costs_the_same_queries_for_many_phones(
    client, development_mode, django_assert_max_num_queries
):
    shop = SiteFactory()
    start = timezone.now() - timedelta(hours=1)
    ContactFactory(site=shop, phone=MARIE)
    _out(MARIE, "Bonjour", start)
    with django_assert_max_num_queries(8) as few:
        client.get("/dev/phone/live.json")
    for n in range(30):
        number = f"+336200{n:05d}"
        ContactFactory(site=shop, phone=number)
        _out(number, "Bonjour", start + timedelta(seconds=n))
        _in(number, "OUI", start + timedelta(seconds=n, milliseconds=1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = client.get("/dev/phone/live.json").json()
    assert answer["html"].count("<li>") == 31


def test_the_polled_answer_changes_version_when_a_message_arrives(client, development_mode):
    SiteFactory()
    _out(MARIE, "Bonjour", timezone.now())
    first = client.get(f"/dev/phone/{MARIE}/live.json").json()
    again = client.get(f"/dev/phone/{MARIE}/live.json").json()
    assert first["version"] == again["version"]  # the control: nothing new, nothing replaced
    _out(MARIE, "Votre panier vous attend", timezone.now())
    later = client.get(f"/dev/phone/{MARIE}/live.json").json()
    assert later["version"] != first["version"]
    assert "Votre panier vous attend" in later["html"] and "Bonjour" in later["html"]
    index = client.get("/dev/phone/live.json")
    assert index["Cache-Control"] == "no-store"
    assert "Votre panier vous attend" in index.json()["html"]


def test_the_polled_answers_are_404_without_the_outbox(client, settings, development_mode):
    settings.SMS_BACKEND = "twilio"
    assert client.get("/dev/phone/live.json").status_code == 404
    assert client.get(f"/dev/phone/{MARIE}/live.json").status_code == 404


def test_the_polled_answers_are_for_superusers_with_debug_off(client, settings):
    settings.DEBUG = False
    assert client.get("/dev/phone/live.json").status_code == 404


PARIS = "Europe/Paris"


def test_no_pass_yet_is_said_with_how_to_run_one():
    assert next_pass_line(PARIS).startswith("No dispatch pass has run yet")


def test_the_next_pass_is_the_last_start_plus_the_interval_in_the_shops_zone(settings):
    settings.DISPATCH_INTERVAL_SECONDS = 60
    with time_machine.travel(datetime(2026, 12, 7, 13, 51, 20, tzinfo=UTC), tick=False) as clock:
        dispatch_pass()  # beat's task marks its start
        clock.move_to(datetime(2026, 12, 7, 13, 51, 40, tzinfo=UTC))
        assert next_pass_line(PARIS) == "Next dispatch pass at 14:52 (in 40 s)."
        assert next_pass_line("UTC") == "Next dispatch pass at 13:52 (in 40 s)."
        clock.move_to(datetime(2026, 12, 7, 13, 52, 30, tzinfo=UTC))
        assert next_pass_line(PARIS) == "Next dispatch pass: due now."
        clock.move_to(datetime(2026, 12, 7, 13, 54, 0, tzinfo=UTC))
        assert next_pass_line(PARIS) == (
            "No dispatch pass since 14:51: are the worker and beat running? "
            "manage.py dispatch runs one now."
        )


def test_the_pages_say_when_the_next_pass_runs(client, development_mode):
    SiteFactory()
    _out(MARIE, "Bonjour", timezone.now())
    with time_machine.travel(datetime(2026, 12, 7, 13, 51, 20, tzinfo=UTC), tick=False) as clock:
        passes.mark_pass()
        clock.move_to(datetime(2026, 12, 7, 13, 52, 10, tzinfo=UTC))
        assert (
            "Next dispatch pass at 14:52 (in 10 s)." in client.get("/dev/phone/").content.decode()
        )
        phone = client.get(f"/dev/phone/{MARIE}/").content.decode()
        assert "Next dispatch pass at 14:52 (in 10 s)." in phone
        assert client.get("/dev/phone/live.json").json()["next_pass"] == (
            "Next dispatch pass at 14:52 (in 10 s)."
        )


def test_the_pages_are_in_french_for_a_french_reader(client, development_mode):
    SiteFactory()
    _out(MARIE, "Bonjour", timezone.now())
    page = client.get("/dev/phone/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Simulateur de téléphone" in page and "Phone simulator" not in page
    assert "Aucun passage" in page


def test_a_conversation_costs_the_same_queries_for_many_messages(
    client, development_mode, django_assert_max_num_queries
):
    shop = SiteFactory()
    ContactFactory(site=shop, phone=MARIE)
    start = timezone.now() - timedelta(hours=1)
    _out(MARIE, "Bonjour", start)
    with django_assert_max_num_queries(8) as few:
        client.get(f"/dev/phone/{MARIE}/live.json")
    for n in range(30):
        _out(MARIE, f"Rappel {n}", start + timedelta(seconds=n + 1))
        _in(MARIE, f"Réponse {n}", start + timedelta(seconds=n + 1, milliseconds=1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = client.get(f"/dev/phone/{MARIE}/live.json").json()
    assert answer["html"].count('class="bubble') == 61
