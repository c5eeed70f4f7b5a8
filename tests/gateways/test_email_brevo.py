"""Brevo's transactional email through django-anymail, against the Brevo emulator: what each
answer of its API means for the send."""

from __future__ import annotations

import pytest

from retargeting.gateways import get_gateway
from retargeting.gateways.anymail.brevo.gateway import BrevoEmailGateway
from retargeting.gateways.base import Action, Outcome, OutgoingEmail
from retargeting.gateways.errors import AMBIGUOUS, TIMEOUT
from tests.support.brevo_emulator import API_KEY, BrevoEmulator
from tests.support.email_providers import brevo_settings

pytestmark = pytest.mark.django_db
ADDRESS = "marie@example.fr"


@pytest.fixture
def emulator(settings):
    with BrevoEmulator() as emulator:
        brevo_settings(settings, emulator.base_url)
        yield emulator


def email(**headers: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=ADDRESS,
        subject="Votre panier",
        text="Votre panier",
        html="<p>Votre panier</p>",
        sender="Maison <bonjour@maison.example>",
        headers=headers,
    )


def test_the_message_goes_as_brevos_api_takes_it(emulator):
    assert isinstance(get_gateway("email"), BrevoEmailGateway)
    result = get_gateway("email").send(email(**{"List-Unsubscribe": "<https://r.example/u/A>"}))
    assert result.outcome is Outcome.ACCEPTED
    (request,) = [r for r in emulator.requests if r["path"] == "/v3/smtp/email"]
    assert request["api_key"] == API_KEY
    body = request["json"]
    assert body["sender"] == {"email": "bonjour@maison.example", "name": "Maison"}
    assert body["to"] == [{"email": ADDRESS}]
    assert (body["subject"], body["textContent"], body["htmlContent"]) == (
        "Votre panier",
        "Votre panier",
        "<p>Votre panier</p>",
    )
    assert body["headers"] == {"List-Unsubscribe": "<https://r.example/u/A>"}


@pytest.mark.parametrize(
    ("status", "code", "outcome", "action"),
    [
        (400, "invalid_parameter", Outcome.PERMANENT, Action.FAIL),
        (429, "too_many_requests", Outcome.TRANSIENT, Action.RETRY),
        (503, None, Outcome.TRANSIENT, Action.RETRY),
        (402, "not_enough_credits", Outcome.TRANSIENT, Action.RETRY),
    ],
)
def test_what_an_error_of_brevos_api_means(emulator, status, code, outcome, action):
    emulator.fail_next(1, status=status, code=code)
    result = get_gateway("email").send(email())
    assert (result.outcome, result.action) == (outcome, action)
    assert result.error_code not in AMBIGUOUS  # Brevo answered: certainly not taken
    assert emulator.emails == []


def test_no_answer_in_time_is_perhaps_sent(emulator, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 0.3}
    emulator.delay_seconds = 1.0
    result = get_gateway("email").send(email())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, TIMEOUT)


def test_a_header_brevo_would_garble_is_refused_before_any_request(emulator):
    result = get_gateway("email").send(email(**{"X-Boutique": "Café"}))
    assert (result.outcome, result.action, result.error_code) == (
        Outcome.PERMANENT,
        Action.FAIL,
        "email_refused",
    )
    assert [r for r in emulator.requests if r["path"] == "/v3/smtp/email"] == []
