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


def test_the_environment_s_proxy_is_read_once_when_the_twilio_client_is_made(twilio, monkeypatch):
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    # A proxy that is not there: a client that honours it cannot reach the emulator.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    result = get_gateway().send(sms(1))
    assert result.outcome is Outcome.TRANSIENT and twilio.messages == {}
    # Read when the client was made: the environment changing later changes nothing.
    monkeypatch.delenv("HTTP_PROXY")
    assert get_gateway().send(sms(2)).outcome is Outcome.TRANSIENT


def test_no_proxy_is_honoured_too(twilio, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("no_proxy", raising=False)
    assert get_gateway().send(sms(1)).outcome is Outcome.ACCEPTED
