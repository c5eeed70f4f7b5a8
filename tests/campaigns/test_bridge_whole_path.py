"""The bridge from end to end: a phone asks through the collector, the worker sends the cart
by email through a real SMTP server, the owner's tap links both browsers, a purchase stops it.

Needs the engine's send-time rule for the bridge (no marketing consent, no quiet hours, no cap;
never to a revoked, erased or unreachable address) and the email itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import override_settings

from campaigns import sending
from campaigns.models import Send, Trigger
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from tests.factories import CartFactory, ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE, DESKTOP = "p" * 32, "d" * 32
# Sunday 23:00 in Paris: quiet hours for marketing, not for a message the shopper asked for.
NIGHT = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


def _post(client, site, vid, event, agent):
    body = {"site": site.public_key, "vid": vid, "events": [event]}
    return client.post(
        "/t/e",
        data=json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN="https://www.shop.example",
        HTTP_USER_AGENT=agent,
    )


@pytest.fixture
def shop():
    return SiteFactory(
        name="Boutique", allowed_domains=["shop.example"], email_from="bonjour@shop.example"
    )


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="")
@time_machine.travel(NIGHT, tick=False)
def test_a_phone_asks_the_email_arrives_at_once_and_the_owners_tap_links_her_computer(
    client, shop, smtp, django_capture_on_commit_callbacks
):
    # She has SMS consent: the bridge still goes by email, and never as an SMS.
    hers = ContactFactory(site=shop, email="marie@example.fr")
    record_consent(contact=hers, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    CartFactory(visitor__site=shop, visitor__vid=PHONE, url="https://shop.example/panier")
    with django_capture_on_commit_callbacks(execute=True):
        asked = {"type": "email_cart", "email": "Marie@Example.fr"}
        assert _post(client, shop, PHONE, asked, PHONE_UA).status_code == 204
    send = Send.objects.get(step__flow__trigger=Trigger.EMAIL_CART)
    if send.status == "planned":  # no worker in this test: the worker's task, by hand
        sending.deliver(send_id=send.pk)
    send.refresh_from_db()
    assert (send.status, send.channel) == ("accepted", "email"), send.reason
    [received] = smtp.messages
    message = received.message
    assert message["To"] == "marie@example.fr"
    assert OutboxMessage.objects.count() == 0
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = next(word for word in text.split() if word.startswith("https://relance.example/s/"))
    response = client.get(urlsplit(link).path, HTTP_USER_AGENT=DESKTOP_UA)
    token = parse_qs(urlsplit(response["Location"]).query)["_rl"][0]
    with django_capture_on_commit_callbacks(execute=True):
        landing = {"type": "identify", "token": token}
        assert _post(client, shop, DESKTOP, landing, DESKTOP_UA).status_code == 204
    # Her tap proves the computer hers. The phone typed the address: with her SMS consent live,
    # a typed address ties it to nobody (a stranger's carts would become her SMS).
    owners = set(VisitorLink.objects.values_list("visitor__vid", "contact_id"))
    assert owners == {(DESKTOP, hers.pk)}
    hers.refresh_from_db()
    assert (hers.consent_status, hers.email_consent_status) == ("granted", "none")


@pytest.mark.parametrize("state", ["revoked", "unreachable", "bought"])
def test_never_to_an_address_that_unsubscribed_or_bounces_nor_once_bought(
    client, shop, smtp, state, django_capture_on_commit_callbacks
):
    hers = Contact.objects.create(site=shop, email="marie@example.fr", region="FR")
    if state == "revoked":
        record_consent(
            contact=hers,
            status=ConsentStatus.REVOKED,
            source=ConsentSource.UNSUBSCRIBE,
            channel="email",
        )
    elif state == "unreachable":
        Contact.objects.filter(pk=hers.pk).update(email_unreachable_at=NIGHT)
    cart = CartFactory(visitor__site=shop, visitor__vid=PHONE)
    # Planned, not yet handed to the worker (its task runs the send below).
    with django_capture_on_commit_callbacks(execute=False):
        asked = {"type": "email_cart", "email": "marie@example.fr"}
        assert _post(client, shop, PHONE, asked, PHONE_UA).status_code == 204
    if state == "bought":
        cart.status, cart.converted_at = "converted", NIGHT
        cart.save()
    send = Send.objects.get(step__flow__trigger=Trigger.EMAIL_CART)
    sending.deliver(send_id=send.pk)
    send.refresh_from_db()
    assert send.status in ("cancelled", "dropped"), (send.status, send.reason)
    assert smtp.messages == []
