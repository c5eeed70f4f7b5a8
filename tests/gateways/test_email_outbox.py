"""The email outbox (development's default) and its mailbox page, /dev/mail/."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Delivery, Outcome, OutgoingEmail
from retargeting.gateways.email_outbox.gateway import EmailOutboxGateway
from retargeting.gateways.models import OutboxEmail
from tests.gateways import email_outbox_urls

pytestmark = pytest.mark.django_db
ADDRESS = "marie@example.fr"
HTML = (
    '<p>Bonjour Marie, <a href="https://shop.example/panier">votre panier</a></p>'
    "<script>parent.document.title = 'pwned'</script>"
)


@pytest.fixture
def outbox(settings):
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "retargeting.gateways.email_outbox.backend.EmailBackend"
    settings.PUBLIC_BASE_URL = "http://testserver"


def send(gateway=None, **kwargs) -> str:
    email = OutgoingEmail(
        to=kwargs.pop("to", ADDRESS),
        subject=kwargs.pop("subject", "Votre panier vous attend"),
        text="Votre panier : http://testserver/s/Ab3dE5fG",
        html=HTML,
        sender="Maison Démo <bonjour@maison.example>",
        headers=kwargs.pop(
            "headers",
            {
                "List-Unsubscribe": "<http://testserver/u/Ab3dE5fG>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        ),
    )
    result = (gateway or get_gateway("email")).send(email)
    assert result.outcome is Outcome.ACCEPTED
    return result.provider_id


def test_the_development_default_is_the_email_outbox():
    assert isinstance(get_gateway("email"), EmailOutboxGateway)


def test_a_kept_email_is_reported_delivered_when_the_sender_takes_the_reports(outbox, handlers):
    # Its report waits until the sender has recorded which send the message is (the path of
    # a provider's webhook), then is given once.
    reports = []
    handlers.register_status_handler(reports.append)
    gateway = get_gateway("email")
    provider_id = send(gateway)
    assert reports == []  # not before the sender asks
    taken = gateway.take_reports()
    assert gateway.take_reports() == []  # once
    for report in taken:
        handlers.handle_status(report)
    kept = OutboxEmail.objects.get()
    assert (kept.message_id, kept.to, kept.subject) == (
        provider_id,
        ADDRESS,
        "Votre panier vous attend",
    )
    assert kept.header("From") == "Maison Démo <bonjour@maison.example>"  # decoded
    assert kept.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert (
        kept.text.strip() == "Votre panier : http://testserver/s/Ab3dE5fG"
        and kept.html.startswith("<p>")
    )
    assert [(r.provider_id, r.delivery) for r in reports] == [(provider_id, Delivery.DELIVERED)]


def test_djangos_own_emails_are_kept_there_too(outbox):
    mail.send_mail("Password reset", "Your code", "relance@localhost", ["member@shop.example"])
    assert OutboxEmail.objects.get().to == "member@shop.example"


def test_the_mailbox_lists_emails_and_shows_one_with_its_html_sandboxed(
    outbox, client, development_mode
):
    send(subject="Premier")
    send(subject="Second")
    index = client.get("/dev/mail/").content.decode()
    assert index.index("Second") < index.index("Premier")  # newest first
    kept = OutboxEmail.objects.get(subject="Premier")
    page = client.get(f"/dev/mail/{kept.pk}/")
    body = page.content.decode()
    assert page.status_code == 200
    # The HTML only inside the frame's srcdoc, escaped; the frame runs no script and cannot
    # reach this page; its links open outside it.
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in body
    assert "allow-scripts" not in body and "allow-same-origin" not in body
    assert "&lt;base target=&quot;_blank&quot;&gt;" in body
    assert 'href="http://testserver/s/Ab3dE5fG"' in body  # the text part's link, clickable
    assert "List-Unsubscribe-Post" in body and "Message-ID" in body
    assert "frame-src 'self'" in page["Content-Security-Policy"]
    assert "script-src" not in page["Content-Security-Policy"]  # default-src 'none'


@pytest.mark.urls("tests.gateways.email_outbox_urls")
def test_one_click_unsubscribe_posts_as_gmail_does(outbox, client, development_mode):
    email_outbox_urls.received.clear()
    send()
    kept = OutboxEmail.objects.get()
    client.cookies["sessionid"] = "the-developers-session"
    page = client.post(f"/dev/mail/{kept.pk}/")
    assert page.status_code == 200
    (request,) = email_outbox_urls.received
    assert request == {
        "method": "POST",
        "code": "Ab3dE5fG",
        "body": "List-Unsubscribe=One-Click",
        "content_type": "application/x-www-form-urlencoded",
        "cookies": {},  # no cookie, so no CSRF token either
        "form": {"List-Unsubscribe": ["One-Click"]},
    }
    assert "The link answered <strong>200</strong>" in page.content.decode()


@pytest.mark.urls("tests.gateways.email_outbox_urls")
def test_no_one_click_to_elsewhere_nor_without_its_header(outbox, client, development_mode):
    email_outbox_urls.received.clear()
    send(
        headers={
            "List-Unsubscribe": "<https://evil.example/u/x>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    )
    send(to="b@example.fr", headers={"List-Unsubscribe": "<http://testserver/u/Ab3dE5fG>"})
    elsewhere, no_post = OutboxEmail.objects.order_by("id")
    page = client.post(f"/dev/mail/{elsewhere.pk}/").content.decode()
    assert "is not under PUBLIC_BASE_URL" in page
    page = client.post(f"/dev/mail/{no_post.pk}/").content.decode()
    assert "Unsubscribe (one click)" not in page
    assert email_outbox_urls.received == []


def test_the_mailbox_is_for_superusers_only_with_debug_off(outbox, client, settings):
    send()
    kept = OutboxEmail.objects.get()
    settings.DEBUG = False
    assert client.get("/dev/mail/").status_code == 404
    assert client.get(f"/dev/mail/{kept.pk}/").status_code == 404
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    assert client.get("/dev/mail/").status_code == 404
    client.force_login(User.objects.create_superuser("operator", password="x"))
    assert client.get("/dev/mail/").status_code == 200
    assert client.get(f"/dev/mail/{kept.pk}/").status_code == 200


def test_the_mailbox_exists_only_with_the_email_outbox(outbox, client, settings, development_mode):
    send()
    settings.EMAIL_PROVIDER = "smtp"
    assert client.get("/dev/mail/").status_code == 404
    assert client.get(f"/dev/mail/{OutboxEmail.objects.get().pk}/").status_code == 404


def test_the_landing_page_points_to_the_mailbox_in_development(client, settings):
    settings.EMAIL_PROVIDER = "outbox"
    assert 'href="/dev/mail/"' in client.get("/").content.decode()
    settings.EMAIL_PROVIDER = "smtp"
    assert 'href="/dev/mail/"' not in client.get("/").content.decode()


def test_the_one_click_button_unsubscribes_through_relances_own_link(
    outbox, client, development_mode
):
    """End to end with the real /u/CODE: the email consent revoked, the SMS consent kept."""
    from campaigns.models import StepChannel
    from campaigns.opt_out import link_for
    from optin.consent import record_consent
    from optin.models import ConsentSource, ConsentStatus, Contact
    from retargeting.channels import Channel
    from tests.factories import ContactFactory, SendFactory

    contact = ContactFactory(email=ADDRESS)
    for channel in (Channel.SMS, Channel.EMAIL):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            text="J'accepte.",
            channel=channel,
        )
    link = link_for(
        SendFactory(
            cart__visitor__site=contact.site,
            contact=contact,
            channel=Channel.EMAIL,
            step__channel=StepChannel.EMAIL,
            step__subject="Votre panier",
        )
    )
    send(
        headers={
            "List-Unsubscribe": f"<http://testserver/u/{link.code}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    )
    page = client.post(f"/dev/mail/{OutboxEmail.objects.get().pk}/")
    assert "The link answered <strong>200</strong>" in page.content.decode()
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.email_consent_status == ConsentStatus.REVOKED
    assert contact.consent_status == ConsentStatus.GRANTED
