"""The SMTP provider against a real SMTP server (aiosmtpd): one session per batch, and what
each answer of the server means for the message and the address."""

from __future__ import annotations

import pytest

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Action, Outcome, OutgoingEmail
from retargeting.gateways.errors import AMBIGUOUS, action_for
from retargeting.gateways.smtp.gateway import SmtpGateway
from retargeting.gateways.smtp.settings_check import WrongEmailUrl, parse_email_url

pytestmark = pytest.mark.django_db

ADDRESS = "marie@example.fr"


def email(to: str = ADDRESS) -> OutgoingEmail:
    return OutgoingEmail(
        to=to, subject="Votre panier", text="Votre panier", sender="Maison <b@maison.example>"
    )


def test_the_smtp_provider_is_chosen_by_the_setting(smtp):
    assert isinstance(get_gateway("email"), SmtpGateway)


def test_a_batch_is_one_smtp_session_and_single_messages_one_each(smtp):
    gateway = get_gateway("email")
    gateway.open()
    for n in range(3):
        assert gateway.send(email(f"c{n}@example.fr")).outcome is Outcome.ACCEPTED
    gateway.close()
    assert smtp.sessions == 1 and len(smtp.messages) == 3
    # Control: without open(), each message opens and closes its own session.
    for n in range(2):
        get_gateway("email").send(email(f"d{n}@example.fr"))
    assert smtp.sessions == 3


def test_the_provider_id_is_the_message_id_the_server_received(smtp):
    result = get_gateway("email").send(email())
    (received,) = smtp.messages
    assert received.message["Message-ID"] == f"<{result.provider_id}>"
    assert result.provider_id.endswith("@maison.example")


@pytest.mark.parametrize(
    ("reply", "outcome", "action"),
    [
        (
            "550 5.1.1 <marie@example.fr>: Recipient address rejected",
            Outcome.PERMANENT,
            Action.UNREACHABLE,
        ),
        ("550 mailbox unavailable", Outcome.PERMANENT, Action.UNREACHABLE),
        ("551 5.2.1 mailbox disabled", Outcome.PERMANENT, Action.UNREACHABLE),
        # A policy refusal (relaying, reputation) says nothing of the address.
        ("554 5.7.1 Relay access denied", Outcome.PERMANENT, Action.FAIL),
        ("450 4.2.0 mailbox busy", Outcome.TRANSIENT, Action.RETRY),
    ],
)
def test_what_the_refusal_of_a_recipient_means(smtp, reply, outcome, action):
    smtp.refuse(ADDRESS, reply)
    result = get_gateway("email").send(email())
    assert (result.outcome, result.action) == (outcome, action)
    assert action_for(result.error_code, SmtpGateway.error_actions) is action
    assert reply.split(" ", 1)[1][:20] in result.reason
    assert smtp.messages == []


def test_a_451_after_the_data_is_transient_and_the_next_attempt_goes_through(smtp):
    smtp.fail_next(1)
    first = get_gateway("email").send(email())
    assert (first.outcome, first.action) == (Outcome.TRANSIENT, Action.RETRY)
    assert first.error_code not in AMBIGUOUS  # the server answered: certainly not taken
    assert get_gateway("email").send(email()).outcome is Outcome.ACCEPTED
    assert len(smtp.messages) == 1


def test_after_a_lost_answer_the_batch_goes_on_over_a_new_session(smtp):
    gateway = get_gateway("email")
    gateway.open()
    smtp.drop_after_data()
    lost = gateway.send(email("a@example.fr"))
    following = gateway.send(email("b@example.fr"))
    gateway.close()
    assert lost.error_code in AMBIGUOUS and following.outcome is Outcome.ACCEPTED
    assert [m.recipients for m in smtp.messages] == [["a@example.fr"], ["b@example.fr"]]
    assert smtp.sessions == 2


def test_a_login_the_server_refuses_or_lacks_is_transient_and_sends_nothing(smtp, settings):
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "relance", "wrong"
    result = get_gateway("email").send(email())
    # aiosmtpd without TLS offers no AUTH: the login fails before any message.
    assert (result.outcome, result.action) == (Outcome.TRANSIENT, Action.RETRY)
    assert result.error_code == "unavailable" and smtp.messages == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://user:pass@mail.example:587", ("mail.example", 587, "user", "pass", True, False)),
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, "", "", False, False)),
        ("smtp://mail.example", ("mail.example", 25, "", "", False, False)),
        ("smtp://u:p@mail.example:465", ("mail.example", 465, "u", "p", False, True)),
        ("smtp+tls://u:p%40ss@mail.example", ("mail.example", 587, "u", "p@ss", True, False)),
        ("smtps://u:p@mail.example", ("mail.example", 465, "u", "p", False, True)),
        ("smtp+ssl://u:p@mail.example:2465", ("mail.example", 2465, "u", "p", False, True)),
    ],
)
def test_email_url_forms(url, expected):
    values = parse_email_url(url)
    assert (
        values["EMAIL_HOST"],
        values["EMAIL_PORT"],
        values["EMAIL_HOST_USER"],
        values["EMAIL_HOST_PASSWORD"],
        values["EMAIL_USE_TLS"],
        values["EMAIL_USE_SSL"],
    ) == expected


@pytest.mark.parametrize(
    "url", ["http://u:secret@mail.example", "mail.example", "smtp://u:secret@:25"]
)
def test_a_wrong_email_url_is_refused_without_its_password(url):
    with pytest.raises(WrongEmailUrl) as refused:
        parse_email_url(url)
    assert "secret" not in str(refused.value) and "EMAIL_URL" in str(refused.value)


def test_a_sender_on_an_internationalised_domain_gets_an_ascii_message_id(smtp):
    result = get_gateway("email").send(
        OutgoingEmail(
            to=ADDRESS, subject="Panier", text="Panier", sender="Café <bonjour@café.example>"
        )
    )
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id.endswith("@xn--caf-dma.example")
    assert smtp.messages[0].message["Message-ID"] == f"<{result.provider_id}>"
