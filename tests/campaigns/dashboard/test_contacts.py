"""The contacts of the marketer's app: the searchable list with each contact's consent per
channel and last message, a contact's page, and unsubscribing someone by hand (who, when, why;
it stops the planned messages like a STOP; it cannot be undone from the dashboard)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import sending
from campaigns.models import Click, Conversion, Order, Send, SendEvent, SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import add_member
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
    VisitorLinkFactory,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 7, 13, 51, tzinfo=UTC)  # 14:51 in Paris


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("claire", password="x")
    add_member(site=site, user=user)
    return user


def _grant(contact, channel="sms", source=ConsentSource.SERVER_API, **proof):
    record_consent(
        contact=contact, status=ConsentStatus.GRANTED, source=source, channel=channel, **proof
    )


def _listed(client, site, query=""):
    response = client.get("/dashboard/contacts/", {"site": site.pk, "q": query})
    assert response.status_code == 200
    return [row["contact"].pk for row in response.context["rows"]]


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@time_machine.travel(NOW, tick=False)
def test_the_contacts_list_shows_the_shops_contacts_with_their_consent_and_last_message(
    client, marketer, site
):
    marie = ContactFactory(site=site, phone="+33612345678", email="marie@example.fr")
    _grant(marie)
    record_consent(
        contact=marie,
        status=ConsentStatus.PENDING,
        source=ConsentSource.SNIPPET,
        channel="email",
    )
    paul = ContactFactory(site=site, phone="+33698765432", first_name="Paul")
    _grant(paul)
    record_consent(contact=paul, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    step = StepFactory(flow__site=site, flow__name="Paniers")
    SendFactory(
        step=step,
        contact=marie,
        cart__visitor__site=site,
        status=SendStatus.DELIVERED,
        sent_at=NOW - timedelta(hours=2),
    )
    ContactFactory(site=SiteFactory(), first_name="Ailleurs")  # another shop's: never listed
    client.force_login(marketer)
    page = _page(client, f"/dashboard/contacts/?site={site.pk}")
    assert _listed(client, site) == [paul.pk, marie.pk]
    assert "Ailleurs" not in page
    rows = page.split("<tbody>", 1)[1].split("<tr>")[1:]
    paul_row, marie_row = rows
    sms = marie_row.split('class="consent-sms"', 1)[1].split("</td>")[0]
    email = marie_row.split('class="consent-email"', 1)[1].split("</td>")[0]
    assert "Accordé" in sms and "7 déc. 2026, 14:51" in sms
    assert "En attente de confirmation" in email
    assert "Retiré" in paul_row.split('class="consent-sms"', 1)[1].split("</td>")[0]
    assert "Aucun" in paul_row.split('class="consent-email"', 1)[1].split("</td>")[0]
    last = marie_row.split('class="last-message"', 1)[1].split("</td>")[0]
    assert "7 déc. 2026, 12:51" in last and "Paniers" in last
    assert "Aucun message pour l'instant" in paul_row
    assert "+33612345678" in marie_row and "marie@example.fr" in marie_row
    assert '<table id="contacts" class="rows">' in page
    assert 'data-label="SMS"' in page


def test_a_contact_is_found_by_each_key(client, marketer, site):
    marie = ContactFactory(site=site, phone="+33612345678", email="marie@example.fr")
    ContactFactory(site=site, phone="+33600000000", first_name="Paul", email="paul@example.fr")
    bought = ContactFactory(site=site, phone="", email="anne@example.fr", first_name="Anne")
    VisitorLinkFactory(visitor__site=site, visitor__customer_id="CUST-42", contact=bought)
    other = SiteFactory()
    VisitorLinkFactory(visitor__site=other, visitor__customer_id="CUST-42")  # another shop's
    client.force_login(marketer)
    assert _listed(client, site, "5678") == [marie.pk]  # last digits
    assert _listed(client, site, "56 78") == [marie.pk]
    assert _listed(client, site, "06 12 34 56 78") == [marie.pk]  # the whole number
    assert _listed(client, site, "+33612345678") == [marie.pk]
    assert _listed(client, site, " Marie@Example.FR ") == [marie.pk]  # email
    assert _listed(client, site, "pau") == [
        ContactFactory._meta.model.objects.get(site=site, first_name="Paul").pk
    ]  # first name's beginning, any case
    assert _listed(client, site, "CUST-42") == [bought.pk]  # the shop's customer id
    # Controls: what matches nothing lists nothing.
    assert _listed(client, site, "9999") == []
    assert _listed(client, site, "nobody@example.fr") == []
    assert _listed(client, site, "CUST-43") == []
    assert _listed(client, site, "567") == []  # too few digits to be a number's end


def test_the_list_pages_without_counting_the_shop(client, marketer, site, settings):
    from campaigns.dashboard import contacts

    contacts.PAGE_SIZE, before = 2, contacts.PAGE_SIZE
    try:
        made = [ContactFactory(site=site).pk for _ in range(3)]
        client.force_login(marketer)
        first = client.get("/dashboard/contacts/", {"site": site.pk})
        assert [row["contact"].pk for row in first.context["rows"]] == made[::-1][:2]
        assert first.context["next_link"] and not first.context["previous_link"]
        second = client.get("/dashboard/contacts/", {"site": site.pk, "page": 2})
        assert [row["contact"].pk for row in second.context["rows"]] == [made[0]]
        assert second.context["previous_link"] and not second.context["next_link"]
    finally:
        contacts.PAGE_SIZE = before


def test_another_shops_contact_is_a_404_and_cannot_be_unsubscribed(client, marketer, site):
    other = SiteFactory()
    stranger = ContactFactory(site=other)
    _grant(stranger)
    client.force_login(marketer)
    assert client.get(f"/dashboard/contacts/{stranger.pk}/?site={site.pk}").status_code == 404
    assert client.get(f"/dashboard/contacts/{stranger.pk}/?site={other.pk}").status_code == 404
    answer = client.post(
        f"/dashboard/contacts/{stranger.pk}/unsubscribe",
        {"site": site.pk, "channel": "sms", "reason": "Asked by phone"},
    )
    assert answer.status_code == 404
    stranger.refresh_from_db()
    assert stranger.consent_status == "granted" and stranger.consents.count() == 1
    # Control: the shop's own contact opens.
    mine = ContactFactory(site=site)
    assert client.get(f"/dashboard/contacts/{mine.pk}/?site={site.pk}").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_a_contact_page_shows_consent_with_its_proof_messages_carts_and_orders(
    client, marketer, site
):
    marie = ContactFactory(site=site, phone="+33612345678", email="marie@example.fr")
    record_consent(
        contact=marie,
        status=ConsentStatus.PENDING,
        source=ConsentSource.SNIPPET,
        text="J'accepte les SMS de la Boutique",
        ip="203.0.113.0",
        user_agent="Mozilla/5.0 (iPhone)",
        at=NOW - timedelta(days=1),
    )
    record_consent(
        contact=marie,
        status=ConsentStatus.CONFIRMED,
        source=ConsentSource.KEYWORD,
        inbound_message_id="SMin-42",
        at=NOW - timedelta(hours=23),
    )
    _grant(marie, channel="email", text="Je veux vos emails")
    link = VisitorLinkFactory(visitor__site=site, contact=marie)
    cart = CartFactory(
        visitor=link.visitor,
        total="59.90",
        currency="EUR",
        items=[{"sku": "A1", "name": "Chemise", "price": 59.9, "quantity": 1}],
    )
    send = SendFactory(
        site=site,
        cart=cart,
        step__flow__site=site,
        contact=marie,
        status=SendStatus.DELIVERED,
        sent_at=NOW - timedelta(hours=3),
        body="Marie, votre panier vous attend",
    )
    SendEvent.objects.create(
        send=send, status=SendStatus.DELIVERED, source="provider", at=NOW - timedelta(hours=3)
    )
    short = ShortLink.objects.create(
        send=send,
        code="abc",
        target_url="https://shop.example/",
        created_at=NOW,
        expires_at=NOW + timedelta(days=30),
    )
    Click.objects.create(link=short, at=NOW - timedelta(hours=2))
    Conversion.objects.create(
        site=site,
        order_id="A-1001",
        total="59.90",
        currency="EUR",
        contact=marie,
        send=send,
        attribution=Conversion.Attribution.CLICKED,
        occurred_at=NOW - timedelta(hours=1),
    )
    Order.objects.create(
        site=site,
        external_id="A-1001",
        status="paid",
        contact=marie,
        total="59.90",
        currency="EUR",
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(hours=1),
    )
    client.force_login(marketer)
    page = _page(client, f"/dashboard/contacts/{marie.pk}/?site={site.pk}")
    sms = page.split('id="consents-sms"', 1)[1].split("</table>")[0]
    assert "J'accepte les SMS de la Boutique" in sms and "203.0.113.0" in sms
    assert "Mozilla/5.0 (iPhone)" in sms and "SMin-42" in sms
    assert "6 déc. 2026, 14:51:00" in sms  # the shop's zone
    assert sms.index("En attente de confirmation") < sms.index("Accordé (confirmé")
    email = page.split('id="consents-email"', 1)[1].split("</table>")[0]
    assert "Je veux vos emails" in email and "SMin-42" not in email
    assert 'id="consent-sms"><span class="badge ok">Accordé (confirmé' in page
    messages = page.split('id="messages"', 1)[1].split("</table>")[0]
    assert "Marie, votre panier vous attend" in messages
    for cell, shown in (
        ("sent", "11:51"),
        ("delivered", "11:51"),
        ("tapped", "12:51"),
        ("bought", "13:51"),
    ):
        assert f'class="{cell}">7 déc. 2026, {shown}<' in messages, cell
    carts = page.split('id="carts"', 1)[1].split("</table>")[0]
    assert "1 × Chemise" in carts and "59,90" in carts and "€" in carts and "Ouvert" in carts
    orders = page.split('id="orders"', 1)[1].split("</table>")[0]
    assert "A-1001" in orders
    assert 'id="sms-reach">Peut recevoir des SMS marketing<' in page


def _unsubscribe(client, contact, site, **data):
    return client.post(f"/dashboard/contacts/{contact.pk}/unsubscribe", {"site": site.pk, **data})


def test_unsubscribing_without_a_reason_is_refused_and_changes_nothing(client, marketer, site):
    marie = ContactFactory(site=site, email="marie@example.fr")
    _grant(marie)
    _grant(marie, channel="email")
    client.force_login(marketer)
    for data in (
        {"channel": "sms", "reason": "   "},
        {"channel": "sms"},
        {"channel": "fax", "reason": "Asked by phone"},
        {"reason": "Asked by phone"},
    ):
        answer = _unsubscribe(client, marie, site, **data)
        assert answer.status_code == 400, data
        assert 'role="alert"' in answer.content.decode()
    marie.refresh_from_db()
    assert (marie.consent_status, marie.email_consent_status) == ("granted", "granted")
    assert marie.consents.count() == 2
    # Control: with a reason, it is recorded.
    assert _unsubscribe(client, marie, site, channel="sms", reason="Asked").status_code == 302
    marie.refresh_from_db()
    assert marie.consent_status == "revoked" and marie.email_consent_status == "granted"


def test_a_contact_without_an_email_address_cannot_be_unsubscribed_from_email(
    client, marketer, site
):
    paul = ContactFactory(site=site, email="")
    _grant(paul)
    client.force_login(marketer)
    assert _unsubscribe(client, paul, site, channel="email", reason="Asked").status_code == 400
    assert _unsubscribe(client, paul, site, channel="both", reason="Asked").status_code == 400
    assert paul.consents.count() == 1


@time_machine.travel(NOW, tick=False)
def test_unsubscribing_by_hand_records_who_when_and_why(client, marketer, site):
    marie = ContactFactory(site=site, email="marie@example.fr")
    _grant(marie)
    _grant(marie, channel="email")
    client.force_login(marketer)
    answer = _unsubscribe(client, marie, site, channel="both", reason="  Asked by phone  ")
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"/dashboard/contacts/{marie.pk}/?site={site.pk}")
    rows = list(marie.consents.filter(status="revoked").order_by("channel"))
    assert [row.channel for row in rows] == ["email", "sms"]
    for row in rows:
        assert row.source == ConsentSource.DASHBOARD
        assert (row.recorded_by, row.reason, row.created_at) == ("claire", "Asked by phone", NOW)
    marie.refresh_from_db()
    assert (marie.consent_status, marie.email_consent_status) == ("revoked", "revoked")
    page = _page(client, answer["Location"])
    assert "Désabonné." in page and "By claire" not in page and "Par claire" in page
    assert "Motif : Asked by phone" in page
    assert "Désabonné à la main dans le tableau de bord" in page or "dashboard" in page
    # Nothing left to unsubscribe; and nothing on the page gives consent back.
    assert 'id="unsubscribe-form"' not in page
    assert "seule la personne" in page.lower()
    # Again: nothing changes (already revoked), still one row per channel.
    again = _unsubscribe(client, marie, site, channel="sms", reason="Again")
    assert "Déjà désabonné" in _page(client, again["Location"])
    assert marie.consents.filter(status="revoked").count() == 2


def test_unsubscribing_needs_the_csrf_token(marketer, site):
    marie = ContactFactory(site=site)
    _grant(marie)
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert _unsubscribe(client, marie, site, channel="sms", reason="Asked").status_code == 403
    marie.refresh_from_db()
    assert marie.consent_status == "granted"


def test_a_hand_unsubscribe_stops_the_planned_message_like_a_stop(
    client, marketer, site, abandoned_cart_of
):
    site.quiet_hours = "none"
    site.save()
    step = StepFactory(flow__site=site, template="{{ first_name }}, votre panier : {{ link }}")
    planned = {}
    for name in ("marie", "control"):
        contact = ContactFactory(site=site, first_name=name)
        _grant(contact)
        cart = abandoned_cart_of(contact, at=timezone.now() - timedelta(hours=1))
        planned[name] = SendFactory(site=site, contact=contact, step=step, cart=cart)
    client.force_login(marketer)
    assert (
        _unsubscribe(
            client, planned["marie"].contact, site, channel="sms", reason="Phoned"
        ).status_code
        == 302
    )
    assert sending.deliver(send_id=planned["control"].pk) == "accepted"
    sending.deliver(send_id=planned["marie"].pk)
    planned["marie"].refresh_from_db()
    assert planned["marie"].status not in (SendStatus.ACCEPTED, SendStatus.SENT)
    assert planned["marie"].sent_at is None
    sent_to = set(OutboxMessage.objects.values_list("to", flat=True))
    assert sent_to == {planned["control"].contact.phone}


def test_reading_the_pages_never_changes_anything(client, marketer, site):
    marie = ContactFactory(site=site, email="marie@example.fr")
    _grant(marie)
    client.force_login(marketer)
    before = (Consent.objects.count(), Contact.objects.get(pk=marie.pk).consent_status)
    assert (
        client.get(f"/dashboard/contacts/{marie.pk}/unsubscribe?site={site.pk}").status_code == 405
    )
    url = f"/dashboard/contacts/{marie.pk}/unsubscribe?site={site.pk}&channel=sms&reason=x"
    assert client.get(url).status_code == 405
    assert client.get(f"/dashboard/contacts/?site={site.pk}&q=marie").status_code == 200
    assert client.get(f"/dashboard/contacts/{marie.pk}/?site={site.pk}").status_code == 200
    assert (Consent.objects.count(), Contact.objects.get(pk=marie.pk).consent_status) == before


def _shop(size):
    """A shop with ``size`` contacts, each with consent on both channels, a visitor named by a
    customer id, a cart and ``size`` messages (tapped, bought), and an order."""
    site = SiteFactory()
    step = StepFactory(flow__site=site)
    contacts = []
    for index in range(size):
        contact = ContactFactory(site=site, email=f"c{index}@example.fr")
        _grant(contact)
        _grant(contact, channel="email")
        link = VisitorLinkFactory(
            visitor__site=site, visitor__customer_id=f"C{index}", contact=contact
        )
        for number in range(size):
            cart = CartFactory(visitor=link.visitor, external_id=f"k{number}", status="replaced")
            send = SendFactory(
                site=site,
                step=step,
                cart=cart,
                contact=contact,
                status=SendStatus.DELIVERED,
                sent_at=timezone.now(),
            )
            SendEvent.objects.create(send=send, status="delivered", source="p", at=timezone.now())
            short = ShortLink.objects.create(
                send=send,
                code=f"s{send.pk}",
                target_url="https://shop.example/",
                created_at=timezone.now(),
                expires_at=timezone.now() + timedelta(days=1),
            )
            Click.objects.create(link=short, at=timezone.now())
            Conversion.objects.create(
                site=site,
                order_id=f"o{send.pk}",
                total=10,
                currency="EUR",
                contact=contact,
                send=send,
                occurred_at=timezone.now(),
            )
            Order.objects.create(
                site=site,
                external_id=f"o{send.pk}",
                status="paid",
                contact=contact,
                created_at=timezone.now(),
                updated_at=timezone.now(),
            )
        contacts.append(contact)
    user = User.objects.create_user(f"m{site.pk}", password="x")
    add_member(site=site, user=user)
    return site, user, contacts


def _queries(client, url):
    client.get(url)  # the session and the language settle on the first request
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


PINNED = {"list": 7, "search": 8, "contact": 12}


@pytest.mark.parametrize("page", sorted(PINNED))
def test_each_contacts_page_costs_the_same_queries_for_2_or_6_contacts(client, page):
    counts = []
    for size in (2, 6):
        site, user, contacts = _shop(size)
        client.force_login(user)
        url = {
            "list": f"/dashboard/contacts/?site={site.pk}",
            "search": f"/dashboard/contacts/?site={site.pk}&q=C1",
            "contact": f"/dashboard/contacts/{contacts[0].pk}/?site={site.pk}",
        }[page]
        counts.append(_queries(client, url))
    assert counts[0] == counts[1], counts
    assert counts[0] == PINNED[page], counts


def test_the_list_shows_the_last_message_of_each_contact(client):
    site, user, _ = _shop(2)
    client.force_login(user)
    rows = client.get(f"/dashboard/contacts/?site={site.pk}").context["rows"]
    for row in rows:
        latest = Send.objects.filter(contact=row["contact"]).order_by("-planned_at", "-pk")[0]
        assert row["send"] == latest


def test_the_contact_page_has_no_english_left_in_french(client, marketer, site):
    marie = ContactFactory(site=site, email="marie@example.fr")
    _grant(marie)
    client.force_login(marketer)
    page = _page(client, f"/dashboard/contacts/{marie.pk}/?site={site.pk}")
    body = re.sub(r"<[^>]+>", " ", page.split("<main", 1)[-1])
    for english in ("Unsubscribe", "Consent history", "Reason", "Carts", "Orders", "Granted"):
        assert english not in body, english


def test_searching_by_last_digits_or_first_name_reads_an_index_on_postgresql(site):
    """At a million contacts a search must not read the whole shop: on PostgreSQL the number's
    last digits and the first name's beginning are found through optin migration 0012's
    indexes; the embedded SQLite database (small shops) has neither and scans."""
    from campaigns.dashboard.contacts import search_contacts

    Contact.objects.bulk_create(
        Contact(
            site=site,
            phone=f"+3361{index:07d}",
            first_name=("Marie", "Paul", "Anne", "Lucas", "Chloé")[index % 5] + str(index),
            region="FR",
        )
        for index in range(5000)
    )
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            names = {row[0] for row in cursor.fetchall()}
            assert "contact_site_phone_suffix" not in names
            assert len(_listed_pks(search_contacts(site=site, query="00012"))) == 1
            return
        cursor.execute("ANALYZE optin_contact")
        for query, index in (
            ("00012", "contact_site_phone_suffix"),
            ("marie12", "contact_site_first_name"),
        ):
            sql, params = search_contacts(site=site, query=query)[:51].query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert index in plan, plan
            assert "optin_contact_pkey" not in plan, plan
        # Control: the list without a query walks the newest contacts by their key.
        sql, params = search_contacts(site=site, query="")[:51].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "contact_site_phone_suffix" not in plan and "contact_site_first_name" not in plan


def _listed_pks(contacts):
    return [contact.pk for contact in contacts]


def test_a_number_unsubscribed_by_hand_stays_blocked_after_its_erasure(client, marketer, site):
    from optin.consent import ConsentBlocked
    from optin.erasure import erase_contact, is_blocked

    marie, paul = ContactFactory(site=site), ContactFactory(site=site)
    for contact in (marie, paul):
        _grant(contact)
    client.force_login(marketer)
    assert _unsubscribe(client, marie, site, channel="sms", reason="Asked").status_code == 302
    erase_contact(site=site, raw_phone=marie.phone)
    erase_contact(site=site, raw_phone=paul.phone)  # control: never unsubscribed
    assert is_blocked(site_id=site.pk, e164=marie.phone)
    assert not is_blocked(site_id=site.pk, e164=paul.phone)
    again = ContactFactory(site=site, phone=marie.phone)
    with pytest.raises(ConsentBlocked):
        _grant(again)
