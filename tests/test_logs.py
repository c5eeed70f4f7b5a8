"""The logs of a whole customer journey, every logger at DEBUG, hold no full phone number.

Through the public interfaces: the snippet's identify (double opt-in, confirmation SMS through
the real Twilio SDK and the emulator), the customer's OUI, a cart, a dispatch pass and the
send, the delivery callback, the tap on the short link, the purchase from the shop's server,
STOP; and the refusals on the way (a landline, a malformed number, a forged webhook).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from campaigns import sending
from campaigns.dispatch import run_pass
from campaigns.models import Send, SendStatus, ShortLink
from optin.models import ConsentStatus, Contact
from retargeting.sites.services import create_site
from tests.factories import StepFactory
from tests.support.twilio_fixtures import SENDER

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+33612345678"
LANDLINE = "01 44 55 66 77"
MALFORMED = "07 98 76 5"
VID = "0123456789abcdef0123456789abcdef"
CONSENT = {"granted": True, "text": "J'accepte les SMS de la boutique", "source": "checkout"}


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def leaks(text: str) -> list[str]:
    """The numbers of this journey found whole in ``text``, whatever their spacing."""
    flat = digits(text)
    return [number for number in ("612345678", "144556677", "798765") if number in flat]


def test_leaks_finds_a_number_however_it_is_written():
    for written in ("+33612345678", "06 12 34 56 78", "0612345678", "+33 6 12 34 56 78"):
        assert leaks(f"sent to {written}") == ["612345678"]
    assert leaks("sent to +336123••••") == []


def collect(client, site, *events):
    return client.post(
        "/t/e",
        data=json.dumps({"site": site.public_key, "vid": VID, "events": list(events)}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )


def signed(client, twilio, path, params):
    signature = twilio.sign(f"https://relance.example{path}", params)
    return client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_whole_journey_logs_no_full_phone_number(client, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    created = create_site(name="Boutique", domains=["shop.example"], country="FR")
    site = created.site
    site.quiet_hours = "none"  # this test is not about the hour it runs at
    site.save()
    StepFactory(flow__site=site, delay_minutes=30)

    # Refused on the way: a landline and a malformed number (nothing stored), a forged webhook.
    for number in (LANDLINE, MALFORMED):
        event = {"type": "identify", "phone": number, "consent": CONSENT}
        assert collect(client, site, event).status_code == 400
    forged = client.post(
        "/webhooks/twilio/inbound",
        data=twilio.inbound_params(PHONE, SENDER, "STOP"),
        HTTP_X_TWILIO_SIGNATURE="forged",
    )
    assert forged.status_code == 403
    assert not Contact.objects.exists()

    # Consent through the snippet, confirmed by SMS.
    identify = {"type": "identify", "phone": "06 12 34 56 78", "consent": CONSENT}
    assert collect(client, site, identify).status_code == 204
    assert len(twilio.sent_to(PHONE)) == 1
    inbound = signed(
        client, twilio, "/webhooks/twilio/inbound", twilio.inbound_params(PHONE, SENDER, "OUI")
    )
    assert inbound.status_code == 200
    contact = Contact.objects.get()
    assert contact.consent_status == ConsentStatus.CONFIRMED

    # A cart left, a reminder sent and delivered.
    cart = {
        "id": "c-1",
        "currency": "EUR",
        "total": 59.9,
        "url": "https://shop.example/panier?restore=c-1",
        "items": [{"sku": "A1", "name": "Chemise", "price": 59.9, "quantity": 1}],
    }
    assert collect(client, site, {"type": "cart", "cart": cart}).status_code == 204
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=True):
        run_pass()
        send = Send.objects.get()
        assert sending.deliver(send_id=send.pk) == "accepted"
        send.refresh_from_db()
        status = twilio.status_params(send.provider_id, "delivered")
        assert signed(client, twilio, "/webhooks/twilio/status", status).status_code == 204
        send.refresh_from_db()
        assert send.status == SendStatus.DELIVERED
        assert len(twilio.sent_to(PHONE)) == 2

        # The tap, the purchase, then STOP.
        link = ShortLink.objects.get(send=send)
        assert client.get(f"/s/{link.code}").status_code == 302
        purchase = client.post(
            "/api/v1/purchases",
            data=json.dumps({"order_id": "o-1", "total": 59.9, "currency": "EUR", "vid": VID}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {created.secret_key}",
        )
        assert purchase.status_code in (200, 201)
        stop = twilio.inbound_params(PHONE, SENDER, "STOP", opt_out_type="STOP")
        assert signed(client, twilio, "/webhooks/twilio/inbound", stop).status_code == 200
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED

    lines = [
        record.getMessage() + (record.exc_text or "") + repr(getattr(record, "args", ""))
        for record in caplog.records
    ]
    assert len(lines) >= 5, lines  # the journey was logged, so the check below can fail
    assert any("••••" in line for line in lines), lines  # and numbers appear masked
    leaked = [line for line in lines if leaks(line)]
    assert leaked == []
