"""The outbox backend and the phone simulator."""

from __future__ import annotations

import pytest

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Delivery, Outcome, OutgoingSms
from retargeting.gateways.models import InboundMessage, OutboxMessage

pytestmark = pytest.mark.django_db
CUSTOMER = "+33612345678"


def test_the_outbox_stores_the_message_and_reports_it_delivered_when_asked(handlers):
    reports = []
    handlers.register_status_handler(reports.append)
    gateway = get_gateway()
    result = gateway.send(OutgoingSms(to=CUSTOMER, body="Bonjour", sender="MAISON"))
    assert reports == []  # the sender hands the report on once the send is recorded
    assert gateway.reports_delivery
    for report in gateway.take_reports():
        handlers.handle_status(report)
    assert gateway.take_reports() == []  # once
    assert result.outcome is Outcome.ACCEPTED
    stored = OutboxMessage.objects.get()
    assert (stored.provider_id, stored.to, stored.sender, stored.body) == (
        result.provider_id,
        CUSTOMER,
        "MAISON",
        "Bonjour",
    )
    assert [(r.provider_id, r.delivery) for r in reports] == [
        (result.provider_id, Delivery.DELIVERED)
    ]


def test_the_simulator_lists_phones_and_shows_encoding_and_segments(client, development_mode):
    get_gateway().send(
        OutgoingSms(to=CUSTOMER, body="Votre panier vous attend : https://r.example/s/Ab3dE5fG")
    )
    get_gateway().send(OutgoingSms(to=CUSTOMER, body="Ça vous plaît ? " * 6))
    index = client.get("/dev/phone/")
    assert CUSTOMER in index.content.decode()
    page = client.get(f"/dev/phone/{CUSTOMER}/").content.decode()
    assert 'href="https://r.example/s/Ab3dE5fG"' in page
    assert "GSM-7, 1 segment" in page
    assert "UCS-2, 2 segments" in page and "because of ç" not in page  # Ç is GSM-7
    assert "because of î" in page


def test_a_reply_goes_through_the_inbound_handling_and_its_answer_is_shown(
    client, handlers, development_mode
):
    seen = []
    handlers.register_inbound_handler(lambda sms: seen.append(sms) or "Vous êtes désinscrit.")
    get_gateway().send(OutgoingSms(to=CUSTOMER, body="Votre panier", sender="MAISON"))
    response = client.post(f"/dev/phone/{CUSTOMER}/", {"body": "STOP"})
    assert response.status_code == 302
    (sms,) = seen
    assert (sms.sender, sms.recipient, sms.body) == (CUSTOMER, "MAISON", "STOP")
    assert InboundMessage.objects.get().provider == "outbox"
    assert OutboxMessage.objects.last().body == "Vous êtes désinscrit."
    page = client.get(f"/dev/phone/{CUSTOMER}/").content.decode()
    assert page.index("STOP") < page.index("Vous êtes désinscrit.")


def test_the_simulator_exists_only_with_the_outbox(client, settings, development_mode):
    settings.SMS_BACKEND = "twilio"
    assert client.get("/dev/phone/").status_code == 404
    assert client.get(f"/dev/phone/{CUSTOMER}/").status_code == 404


def test_a_number_that_is_not_one_is_a_404(client, development_mode):
    assert client.get("/dev/phone/not-a-number/").status_code == 404


def test_inbound_messages_are_listed_read_only_in_the_admin(admin_client):
    from retargeting.gateways.base import InboundSms
    from retargeting.gateways.inbound import receive_inbound

    receive_inbound(
        provider="outbox", sms=InboundSms("SM1", CUSTOMER, "", "La veste existe en M ?")
    )
    page = admin_client.get("/admin/gateways/inboundmessage/")
    assert page.status_code == 200 and "La veste existe en M ?" in page.content.decode()
    assert admin_client.get("/admin/gateways/inboundmessage/add/").status_code == 403


def test_the_simulator_receives_replies_from_any_sender():
    from retargeting.gateways.outbox.gateway import OutboxGateway

    gateway = OutboxGateway()
    assert gateway.sender_receives_replies("MAISONDEMO") and gateway.sender_receives_replies("")
    assert gateway.stop_mention_placeholder() is None
