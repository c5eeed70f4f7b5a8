"""Times in the shop's time zone, the zone named: the phone simulator and the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Click, SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.sites.times import sender_time_zone, shop_time
from tests.factories import ContactFactory, SendFactory, SiteFactory

pytestmark = pytest.mark.django_db
PHONE = "+33612345678"
WINTER = datetime(2026, 12, 1, 20, 3, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 20, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "zone", "shown"),
    [
        (WINTER, "Europe/Paris", "01/12/2026 21:03 CET (Europe/Paris)"),
        (SUMMER, "Europe/Paris", "01/07/2026 22:03 CEST (Europe/Paris)"),
        (WINTER, "America/Martinique", "01/12/2026 16:03 AST (America/Martinique)"),
        (WINTER, "Indian/Reunion", "02/12/2026 00:03 +04 (Indian/Reunion)"),  # the next day
        (WINTER, "", "01/12/2026 20:03 UTC (UTC)"),
        (None, "Europe/Paris", ""),
    ],
)
def test_shop_time_names_the_zone(at, zone, shown):
    assert shop_time(at, zone) == shown


def test_shop_time_without_the_year():
    assert shop_time(WINTER, "Europe/Paris", with_date=False) == "01/12 21:03 CET (Europe/Paris)"


def test_the_zone_of_a_sender_is_its_shops_else_the_numbers_country(settings):
    settings.TWILIO_FROM = "+33757000001"
    SiteFactory(sender="MARTINIQUE", time_zone="America/Martinique", country="MQ")
    assert sender_time_zone("MARTINIQUE", phone=PHONE) == "America/Martinique"
    # No shop of the platform's number yet: the number's own country.
    assert sender_time_zone("", phone="+596696123456") == "America/Martinique"
    SiteFactory(sender="", time_zone="Europe/Paris")
    assert sender_time_zone("", phone=PHONE) == "Europe/Paris"
    assert sender_time_zone("+33757000001", phone=PHONE) == "Europe/Paris"
    # Shops of the platform's number in two zones: the number's country decides.
    SiteFactory(sender="", time_zone="Indian/Reunion", country="RE")
    assert sender_time_zone("", phone="+262692123456") == "Indian/Reunion"
    assert sender_time_zone("", phone=PHONE) == "Europe/Paris"
    assert sender_time_zone("", phone="not a number") == "UTC"


def test_the_phone_simulator_shows_the_shops_time_and_names_the_zone(client, development_mode):
    SiteFactory(sender="", time_zone="Europe/Paris")
    OutboxMessage.objects.create(
        provider_id="OB1", to=PHONE, body="Votre panier", created_at=WINTER
    )
    InboundMessage.objects.create(
        provider="outbox",
        provider_id="IB1",
        sender=PHONE,
        recipient="",
        body="merci",
        received_at=WINTER + timedelta(minutes=2),
    )
    page = client.get(f"/dev/phone/{PHONE}/").content.decode()
    assert "Times in the shop's time zone: Europe/Paris" in page
    assert "01/12 21:03 CET (Europe/Paris)" in page and "01/12 21:05 CET" in page
    assert "01/12 20:03" not in page  # never the server's UTC


def test_a_shop_overseas_sees_its_own_time_on_the_simulator(client, development_mode):
    SiteFactory(sender="MADININA", time_zone="America/Martinique", country="MQ")
    OutboxMessage.objects.create(
        provider_id="OB2", sender="MADININA", to=PHONE, body="Votre panier", created_at=WINTER
    )
    page = client.get(f"/dev/phone/{PHONE}/").content.decode()
    assert "01/12 16:03 AST (America/Martinique)" in page


def test_the_admin_shows_sends_and_contacts_in_the_shops_time(admin_client):
    site = SiteFactory(time_zone="America/Martinique", country="MQ")
    with time_machine.travel(WINTER, tick=False):
        contact = ContactFactory(site=site, last_messaged_at=timezone.now())
        send = SendFactory(
            step__flow__site=site,
            contact=contact,
            cart__visitor__site=site,
            status=SendStatus.ACCEPTED,
            due_at=WINTER,
            sent_at=WINTER + timedelta(minutes=1),
        )
        record_consent(
            contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN, text="oui"
        )
    listing = admin_client.get("/admin/campaigns/send/").content.decode()
    assert "01/12/2026 16:03 AST (America/Martinique)" in listing
    assert "01/12/2026 16:04 AST (America/Martinique)" in listing
    page = admin_client.get(f"/admin/campaigns/send/{send.pk}/change/").content.decode()
    assert "Due (shop time)" in page and "16:03 AST (America/Martinique)" in page
    link = ShortLink.objects.create(
        send=send,
        code="abc",
        target_url="https://shop.example/",
        created_at=WINTER,
        expires_at=WINTER + timedelta(days=30),
    )
    Click.objects.create(link=link, at=WINTER + timedelta(minutes=9))
    links = admin_client.get("/admin/campaigns/shortlink/").content.decode()
    assert "01/12/2026 16:03 AST (America/Martinique)" in links
    assert "31/12/2026 16:03 AST (America/Martinique)" in links
    clicks = admin_client.get("/admin/campaigns/click/").content.decode()
    assert "01/12/2026 16:12 AST (America/Martinique)" in clicks
    contacts = admin_client.get("/admin/optin/contact/").content.decode()
    assert "01/12/2026 16:03 AST (America/Martinique)" in contacts
    page = admin_client.get(f"/admin/optin/contact/{contact.pk}/change/").content.decode()
    assert page.count("16:03 AST (America/Martinique)") >= 3  # created, last messaged, consent


def test_the_simulator_looks_each_senders_zone_up_once(client, development_mode):
    SiteFactory(sender="", time_zone="Europe/Paris")

    def queries_for_a_page_of(count):
        OutboxMessage.objects.all().delete()
        for index in range(count):
            OutboxMessage.objects.create(
                provider_id=f"OB{count}-{index}", to=PHONE, body="Votre panier", created_at=WINTER
            )
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/dev/phone/{PHONE}/").status_code == 200
        return len(captured)

    assert queries_for_a_page_of(1) == queries_for_a_page_of(6)
    with CaptureQueriesContext(connection) as captured:
        sender_time_zone("", phone=PHONE)
    assert len(captured) == 1
