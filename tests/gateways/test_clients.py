"""The providers' SDK clients are kept per process and thread: their connections are reused,
as the emulators see it (each counts the TCP connections it accepted)."""

from __future__ import annotations

import threading

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Outcome, OutgoingSms


def sms(number: int) -> OutgoingSms:
    return OutgoingSms(to=f"+336123400{number:02d}", body="Votre panier vous attend")


def send_in_a_thread(count: int) -> list[Outcome]:
    outcomes: list[Outcome] = []

    def run() -> None:
        outcomes.extend(get_gateway().send(sms(50 + n)).outcome for n in range(count))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcomes


def test_twilio_messages_of_one_thread_share_one_connection_and_threads_do_not(twilio):
    # A new gateway each time, as every send asks get_gateway(): the client is kept anyway.
    assert {get_gateway().send(sms(n)).outcome for n in range(6)} == {Outcome.ACCEPTED}
    assert twilio.connections == 1
    assert send_in_a_thread(3) == [Outcome.ACCEPTED] * 3
    assert (len(twilio.messages), twilio.connections) == (9, 2)
    assert get_gateway().send(sms(9)).outcome is Outcome.ACCEPTED
    assert twilio.connections == 2  # the first thread's connection, still open


def test_brevo_messages_of_one_thread_share_one_connection_and_threads_do_not(brevo):
    assert {get_gateway().send(sms(n)).outcome for n in range(6)} == {Outcome.ACCEPTED}
    assert brevo.connections == 1
    assert send_in_a_thread(3) == [Outcome.ACCEPTED] * 3
    assert (len(brevo.messages), brevo.connections) == (9, 2)


def test_a_client_changes_with_its_settings(twilio, settings):
    get_gateway().send(sms(1))
    settings.TWILIO_AUTH_TOKEN = "another-token"  # the emulator refuses it
    assert get_gateway().send(sms(2)).outcome is not Outcome.ACCEPTED
    assert twilio.connections == 2
