"""The dashboard's pages beyond the overview: messages and why not sent, a send, a contact,
the CSV exports, the installation page, the flow editor's preview and test sends, French and
English, and a 404 for every page of another site."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from campaigns.dashboard.preview import TEST_PREFIX, TEST_SENDS_PER_HOUR
from campaigns.default_texts import default_texts
from campaigns.flows import stop_mention
from campaigns.models import Conversion, MemberPhone, Send, SendEvent, SendStatus
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.gateways.models import OutboxMessage
from retargeting.sites import keys
from retargeting.sites.models import Membership
from retargeting.sites.services import add_member, site_for_secret_key
from retargeting.tracking.models import Event
from tests.factories import (
    ContactFactory,
    FlowFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)  # 21:30 in Paris


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x")
    add_member(site=site, user=user)
    return user


@pytest.fixture
def owner(site):
    user = User.objects.create_user("owner", password="x")
    add_member(site=site, user=user, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def sends(site):
    """A sent message, one waiting for quiet hours, one not sent because the customer bought."""
    flow = FlowFactory(site=site, name="Relance panier")
    step = StepFactory(flow=flow)
    marie = ContactFactory(site=site, phone="+33612345678", first_name="Marie")
    record_consent(
        contact=marie,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SNIPPET,
        text="J'accepte de recevoir des SMS de Boutique.",
    )
    record_consent(contact=marie, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    lucas = ContactFactory(site=site, phone="+33698765432", first_name="Lucas")
    with time_machine.travel(NOW, tick=False):
        sent = SendFactory(
            site=site,
            step=step,
            contact=marie,
            cart__visitor__site=site,
            status=SendStatus.DELIVERED,
            sent_at=NOW,
            body="Marie, votre panier",
        )
        waiting = SendFactory(
            site=site,
            step=step,
            contact=lucas,
            cart__visitor__site=site,
            status=SendStatus.PLANNED,
            reason="quiet_hours",
            due_at=datetime(2026, 11, 24, 7, 5, tzinfo=UTC),  # 08:05 in Paris
        )
        bought = SendFactory(
            site=site,
            step=step,
            contact=lucas,
            cart__visitor__site=site,
            status=SendStatus.CANCELLED,
            reason="converted",
        )
        SendEvent.objects.create(
            send=bought, status=SendStatus.CANCELLED, reason="converted", source="worker", at=NOW
        )
    return {"sent": sent, "waiting": waiting, "bought": bought, "marie": marie}


def _rows(client, site, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = client.get(f"/dashboard/sends/?site={site.pk}&{query}")
    assert response.status_code == 200
    return response, [row["send"].pk for row in response.context["rows"]]


@time_machine.travel(NOW, tick=False)
def test_the_message_list_says_why_each_was_not_sent(client, marketer, site, sends):
    client.force_login(marketer)
    response, listed = _rows(client, site)
    assert set(listed) == {sends["sent"].pk, sends["waiting"].pk, sends["bought"].pk}
    page = html.unescape(response.content.decode())
    # French site: French words; the wait is given in the site's time zone.
    assert "Heures de silence : attend jusqu'au 24 nov. 2026, 08:05" in page
    assert "Achat avant la relance" in page
    assert "+3361234••••" in page and "+33612345678" not in page  # numbers masked in lists


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "06 12 34 56 78"}, ["sent"]),
        ({"q": "5432"}, ["waiting", "bought"]),
        ({"status": "waiting"}, ["waiting"]),
        ({"status": "not_sent"}, ["bought"]),
        ({"status": "sent"}, ["sent"]),
        ({"reason": "converted"}, ["bought"]),
        ({"q": "garbage"}, []),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_the_message_list_searches_and_filters(client, marketer, site, sends, params, expected):
    client.force_login(marketer)
    _, listed = _rows(client, site, **params)
    assert sorted(listed) == sorted(sends[name].pk for name in expected)


@time_machine.travel(NOW, tick=False)
def test_a_message_can_be_found_by_its_number(client, marketer, site, sends):
    client.force_login(marketer)
    _, listed = _rows(client, site, q=f"%23{sends['bought'].pk}")
    assert listed == [sends["bought"].pk]


@time_machine.travel(NOW, tick=False)
def test_a_send_page_shows_its_history(client, marketer, site, sends):
    client.force_login(marketer)
    page = client.get(f"/dashboard/sends/{sends['bought'].pk}/?site={site.pk}").content.decode()
    assert 'id="why">Achat avant la relance<' in page and ">envoi<" in page


@time_machine.travel(NOW, tick=False)
def test_a_contact_page_shows_consent_history_and_messages(client, marketer, site, sends):
    client.force_login(marketer)
    page = client.get(f"/dashboard/contacts/{sends['marie'].pk}/?site={site.pk}").content.decode()
    assert "J&#x27;accepte de recevoir des SMS de Boutique." in page
    consents = page[page.index('id="consents"') : page.index('id="messages"')]
    assert consents.index("Accordé") < consents.index("Retiré")
    assert "Marie, votre panier" in page


def _csv(response, delimiter=";"):
    """The rows of an export, as a spreadsheet reads them: French ones split on ``;``."""
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


@time_machine.travel(NOW, tick=False)
def test_the_sends_export_follows_the_list_filters(client, marketer, site, sends):
    client.force_login(marketer)
    rows = _csv(client.get(f"/dashboard/exports/sends.csv?site={site.pk}&status=not_sent"))
    assert [row["send_id"] for row in rows] == [str(sends["bought"].pk)]
    assert rows[0]["reason"] == "converted" and rows[0]["phone"] == "+3369876••••"
    everything = _csv(client.get(f"/dashboard/exports/sends.csv?site={site.pk}"))
    assert len(everything) == 3
    assert {row["planned_at"][-6:] for row in everything} == {"+01:00"}  # the site's zone


@time_machine.travel(NOW, tick=False)
def test_the_conversions_export_quotes_what_a_spreadsheet_would_run(client, marketer, site):
    Conversion.objects.create(
        site=site,
        order_id='=HYPERLINK("http://x")',
        total=12,
        currency="EUR",
        attribution="none",
        occurred_at=NOW,
    )
    Conversion.objects.create(
        site=site,
        order_id="1002",
        total=30,
        currency="EUR",
        attribution="none",
        occurred_at=NOW - timedelta(days=40),
    )
    client.force_login(marketer)
    rows = _csv(
        client.get(
            f"/dashboard/exports/conversions.csv?site={site.pk}&start=2026-11-01&end=2026-11-30"
        )
    )
    assert [row["order_id"] for row in rows] == ['\'=HYPERLINK("http://x")']
    assert rows[0]["total"] == "12,00"  # French: a decimal comma


def test_the_installation_tag_waits_for_consent_only_where_the_site_requires_it(
    client, marketer, site, settings
):
    client.force_login(marketer)
    site.cookie_consent = "not_required"  # an operator's decision, in the admin
    site.save()
    page = html.unescape(client.get(f"/dashboard/install/?site={site.pk}").content.decode())
    assert (
        f'<script async src="{settings.PUBLIC_BASE_URL}/t.js" data-site="{site.public_key}">'
        "</script>" in page
    )
    assert "data-consent" not in page.split('id="tag"')[1].split("</pre>")[0]
    assert 'data-platform="shopify"' in page


@time_machine.travel(NOW, tick=False)
def test_the_installation_page_gives_the_tag_and_the_last_events(client, marketer, site, settings):
    Event.objects.create(
        site=site,
        type="page_view",
        received_at=NOW - timedelta(minutes=2),
        payload={"type": "page_view", "url": "https://shop.example/p?email=x"},
    )
    Event.objects.create(
        site=site,
        type="identify",
        received_at=NOW,
        payload={"type": "identify", "phone": "+33612345678"},
    )
    client.force_login(marketer)
    page = html.unescape(client.get(f"/dashboard/install/?site={site.pk}").content.decode())
    # A French shop: the tag waits for the visitor's cookie consent.
    assert (
        f'<script async src="{settings.PUBLIC_BASE_URL}/t.js" data-site="{site.public_key}" '
        'data-consent="required"></script>' in page
    )
    assert "attend le consentement aux cookies" in page
    assert "Événements reçus" in page
    feed = client.get(f"/dashboard/install/events?site={site.pk}").json()["events"]
    assert [event["type"] for event in feed] == ["Identification", "Page vue"]
    assert feed[0]["ago"] == "à l'instant" and feed[1]["ago"] == "il y a 2 minutes"
    assert feed[1]["page"] == "shop.example/p"  # host and path: no query, no personal data
    assert "+33612345678" not in str(feed)
    # A marketer (not an owner) cannot replace the server's key.
    before = site.secret_key_hash
    assert client.post(f"/dashboard/install/key?site={site.pk}").status_code == 403
    site.refresh_from_db()
    assert site.secret_key_hash == before


def test_the_installation_page_shows_a_refused_identify_with_its_reason_masked(
    client, marketer, site
):
    """A landline typed at checkout is refused by the collector: the shop sees why among the
    live events, never the number itself; the page view sent before it is there too."""

    def send(*events):
        body = {"site": site.public_key, "vid": "0123456789abcdef0123456789abcdef"}
        return client.post(
            "/t/e",
            data=json.dumps({**body, "events": list(events)}),
            content_type="text/plain",
            HTTP_ORIGIN="https://www.shop.example",
        )

    assert send({"type": "page_view", "url": "https://shop.example/panier"}).status_code == 204
    consent = {"granted": True, "text": "J'accepte les SMS.", "source": "checkout"}
    landline = send({"type": "identify", "phone": "01 23 45 67 89", "consent": consent})
    assert landline.status_code == 400
    client.force_login(marketer)
    feed = client.get(f"/dashboard/install/events?site={site.pk}").json()["events"]
    assert [(event["type"], bool(event["refused"])) for event in feed] == [
        ("Identification", True),
        ("Page vue", False),
    ]
    assert feed[0]["refused"].startswith("Refusé : ")
    assert "not a mobile number" in feed[0]["refused"]
    assert "01 23 45 •• ••" in feed[0]["refused"]
    page = html.unescape(client.get(f"/dashboard/install/?site={site.pk}").content.decode())
    assert "not a mobile number" in page and "Résultat" in page
    for shown in (str(feed), page):
        assert "67 89" not in shown and "+33123456789" not in shown


def test_the_platform_webhook_url_is_shown_to_owners_only(client, owner, marketer, site):
    from retargeting.platforms.connections import connect

    connection = connect(site=site, platform="shopify", secret="shpss_signing_secret")
    client.force_login(owner)
    page = client.get(f"/dashboard/install/?site={site.pk}").content.decode()
    assert connection.webhook_url in page
    assert "orders/create" in page
    assert "shpss_signing_secret" not in page
    client.force_login(marketer)
    page = client.get(f"/dashboard/install/?site={site.pk}").content.decode()
    assert connection.webhook_url not in page
    assert 'id="platforms"' not in page


def test_an_operator_gets_a_new_key_once_and_the_old_one_stops(client, owner, site):
    old_key = keys.new_secret_key()
    site.secret_key_hash = keys.hash_secret_key(old_key)
    site.save()
    # Keys are the operators' (as the site's name, sender and domains): not even an owner's.
    client.force_login(owner)
    assert client.post(f"/dashboard/install/key?site={site.pk}").status_code == 403
    assert site_for_secret_key(old_key) == site
    operator = User.objects.create_superuser("operator", password="x")
    client.force_login(operator)
    response = client.post(f"/dashboard/install/key?site={site.pk}")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new_key = response.context["new_key"]
    assert new_key in response.content.decode()
    assert site_for_secret_key(new_key) == site and site_for_secret_key(old_key) is None
    again = client.get(f"/dashboard/install/?site={site.pk}").content.decode()
    assert new_key not in again and f"…{new_key[-4:]}" in again
    assert client.get(f"/dashboard/install/key?site={site.pk}").status_code == 405


def _preview(client, **fields):
    return client.post("/dashboard/preview", fields)


def test_the_preview_counts_segments_and_highlights_ucs2(client, marketer, site):
    flow = FlowFactory(site=site, transliterate=False, max_segments=3)
    client.force_login(marketer)
    data = _preview(
        client, flow=flow.pk, template="{{ first_name }}, votre panier 🎁 vous attend {{ link }}"
    ).json()
    assert data["sample"]["encoding"] == "UCS-2"
    assert data["sample"]["ucs2_characters"] == ["🎁"]
    assert data["sample"]["text"].startswith("Marie, votre panier 🎁")
    assert data["transliterated"]["encoding"] == "GSM-7"
    assert data["transliterated"]["segments"] == 1
    assert "🎁" in data["advice"] and "translittération" in data["advice"]
    assert data["longest"]["segments"] >= data["sample"]["segments"]
    assert data["errors"] == [] and data["cost"].endswith("€")
    plain = _preview(client, flow=flow.pk, template="Votre panier {{ link }} STOP").json()
    assert plain["sample"]["encoding"] == "GSM-7" and plain["sample"]["segments"] == 1
    assert plain["transliterated"] is None and plain["advice"] == ""


def test_the_preview_of_the_default_text_shows_its_count_in_one_segment(client, marketer, site):
    flow = FlowFactory(site=site, max_segments=3)
    client.force_login(marketer)
    template = default_texts("cart_abandoned", site.language).sms + stop_mention(site=site)
    data = _preview(client, flow=flow.pk, template=template).json()
    longest = data["longest"]
    assert (longest["encoding"], longest["segments"]) == ("GSM-7", 1)
    # Characters as the provider counts them: the € of the total takes two septets.
    assert "€" in longest["text"] and longest["characters"] == len(longest["text"]) + 1
    assert (
        f"{longest['characters']} caractères · GSM-7 · segments utilisés 1 sur 3" in data["summary"]
    )


def test_the_preview_shows_which_opt_out_mention_applies(client, marketer, site, settings):
    settings.SMS_BACKEND, settings.TWILIO_FROM = "twilio", "+33757000001"
    settings.PUBLIC_BASE_URL, settings.SHORT_LINK_BASE_URL = "https://relance.example", ""
    flow = FlowFactory(site=site, max_segments=3)
    client.force_login(marketer)
    by_number = _preview(client, flow=flow.pk, template="Panier {{ link }}").json()
    assert by_number["route"] == "reply"
    assert "+33757000001 reçoit les réponses" in by_number["mention_summary"]
    assert by_number["sample"]["text"].endswith("Répondez STOP pour vous désabonner")
    site.sender = "MAISONDEMO"
    site.save()
    by_name = _preview(client, flow=flow.pk, template="Panier {{ link }}").json()
    link = "https://relance.example/u/xxxxxxxxxx"
    assert by_name["route"] == "link" and by_name["mention"] == f"Stop SMS : {link}"
    assert "MAISONDEMO ne peut pas recevoir de réponses" in by_name["mention_summary"]
    assert by_name["sample"]["text"].endswith(f"Stop SMS : {link}")
    assert by_name["longest"]["characters"] >= len("Panier ") + 2 * len(link)
    assert by_name["errors"] == []
    refused = _preview(client, flow=flow.pk, template="Panier {{ link }} Répondez STOP").json()
    assert "à qui les clients ne peuvent pas répondre" in refused["errors"][0]


def test_the_preview_shows_template_and_length_errors(client, marketer, site):
    flow = FlowFactory(site=site, transliterate=False, max_segments=1)
    client.force_login(marketer)
    wrong = _preview(client, flow=flow.pk, template="Bonjour {{ password }}").json()
    assert wrong["sample"] is None and "password" in wrong["errors"][0]
    long = _preview(client, flow=flow.pk, template="{{ first_name }} " + "panier " * 30).json()
    assert long["errors"] and "1" in long["errors"][0]


def proved(user, phone):
    """The member proved ``phone`` is theirs (tests/test_trust.py goes through the code)."""
    MemberPhone.objects.create(user=user, phone=phone, proved_at=timezone.now())


def test_a_test_send_goes_to_the_marketers_number_marked_and_uncounted(client, marketer, site):
    flow = FlowFactory(site=site)
    proved(marketer, "+33611223344")
    client.force_login(marketer)
    answer = client.post(
        "/dashboard/test-send",
        {
            "flow": flow.pk,
            "template": "{{ first_name }}, votre panier {{ link }}",
            "phone": "06 11 22 33 44",
        },
    )
    assert answer.status_code == 200, answer.content
    message = OutboxMessage.objects.get()
    assert message.to == "+33611223344" and message.body.startswith(TEST_PREFIX + "Marie,")
    assert not Send.objects.exists()
    assert (
        client.post("/dashboard/preview", {"flow": flow.pk, "template": "x"}).json()["test_phone"]
        == "+33611223344"
    )


def test_test_sends_refuse_bad_numbers_stop_numbers_and_too_many(client, marketer, site):
    flow = FlowFactory(site=site)
    stopped = ContactFactory(site=site, phone="+33655555555")
    record_consent(contact=stopped, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    proved(marketer, "+33611223344")
    proved(marketer, "+33655555555")
    client.force_login(marketer)
    fields = {"flow": flow.pk, "template": "Votre panier {{ link }}"}
    assert client.post("/dashboard/test-send", {**fields, "phone": "123"}).status_code == 400
    assert (
        client.post("/dashboard/test-send", {**fields, "phone": "+33655555555"}).status_code == 400
    )
    for _ in range(TEST_SENDS_PER_HOUR):
        assert (
            client.post("/dashboard/test-send", {**fields, "phone": "0611223344"}).status_code
            == 200
        )
    assert client.post("/dashboard/test-send", {**fields, "phone": "0611223344"}).status_code == 429
    assert OutboxMessage.objects.count() == TEST_SENDS_PER_HOUR


def test_language_follows_the_site_then_the_users_choice(client, marketer, site):
    english = SiteFactory(language="en", country="GB", time_zone="Europe/London")
    add_member(site=english, user=marketer)
    client.force_login(marketer)
    assert "Tableau de bord" in client.get(f"/dashboard/?site={site.pk}").content.decode()
    assert ">Dashboard<" in client.get(f"/dashboard/?site={english.pk}").content.decode()
    # The admin speaks the language of the member's first shop, whatever the browser says.
    admin = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "Déconnexion" in admin
    client.post(reverse("set_language"), {"language": "en", "next": "/dashboard/"})
    page = client.get(f"/dashboard/?site={site.pk}")
    assert ">Dashboard<" in page.content.decode() and page["Content-Language"] == "en"
    assert "Log out" in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()


@pytest.fixture
def foreign(db):
    """Another site's objects, each reachable by a dashboard URL."""
    other = SiteFactory()
    send = SendFactory(
        site=other, cart__visitor__site=other, step__flow__site=other, contact__site=other
    )
    return other, send


def _dashboard_requests(other, send):
    site = f"?site={other.pk}"
    flow = send.step.flow.pk
    return [
        ("get", f"/dashboard/{site}", {}),
        ("get", f"/dashboard/sends/{site}", {}),
        ("get", f"/dashboard/sends/{send.pk}/", {}),
        ("get", f"/dashboard/contacts/{send.contact.pk}/", {}),
        ("get", f"/dashboard/contacts/{site}", {}),
        (
            "post",
            f"/dashboard/contacts/{send.contact.pk}/unsubscribe",
            {"channel": "sms", "reason": "Asked by phone"},
        ),
        ("get", f"/dashboard/exports/sends.csv{site}", {}),
        ("get", f"/dashboard/exports/conversions.csv{site}", {}),
        ("get", f"/dashboard/install/{site}", {}),
        ("get", f"/dashboard/install/events{site}", {}),
        ("post", f"/dashboard/install/key{site}", {}),
        ("post", "/dashboard/preview", {"flow": flow, "template": "x"}),
        ("post", "/dashboard/preview", {"site": other.pk, "template": "x"}),
        ("post", "/dashboard/test-send", {"flow": flow, "template": "x", "phone": "0611223344"}),
        ("post", "/dashboard/preview", {"step": send.step.pk, "template": "x"}),
        # Flows (FL): the other shop's by its site, and its flow under the member's own site.
        ("get", f"/dashboard/flows/{site}", {}),
        ("get", f"/dashboard/flows/new/{site}", {}),
        ("post", f"/dashboard/flows/new/{site}", {"trigger": "cart_abandoned", "channel": "sms"}),
        ("get", f"/dashboard/flows/rules/{site}", {}),
        ("post", f"/dashboard/flows/rules/{site}", {"quiet_hours": "none"}),
        ("get", f"/dashboard/flows/{flow}/", {}),
        ("post", f"/dashboard/flows/{flow}/", {"name": "x"}),
        ("post", f"/dashboard/flows/{flow}/state", {"active": "0"}),
        ("post", f"/dashboard/flows/{flow}/steps/add", {}),
        ("post", f"/dashboard/flows/{flow}/steps/remove", {"step": send.step.pk}),
    ]


def test_every_dashboard_page_of_another_site_is_a_404(client, marketer, foreign):
    other, send = foreign
    client.force_login(marketer)
    before = other.secret_key_hash
    for method, url, data in _dashboard_requests(other, send):
        assert getattr(client, method)(url, data).status_code == 404, url
    other.refresh_from_db()
    assert other.secret_key_hash == before and not OutboxMessage.objects.exists()


def test_the_dashboard_list_covers_every_dashboard_url():
    from campaigns.dashboard.urls import urlpatterns

    dashboard = {"dashboard/" + str(p.pattern) for p in urlpatterns}
    covered = {
        "dashboard/",
        "dashboard/sends/",
        "dashboard/sends/<int:send_id>/",
        "dashboard/contacts/",
        "dashboard/contacts/<int:contact_id>/",
        "dashboard/contacts/<int:contact_id>/unsubscribe",
        "dashboard/exports/sends.csv",
        "dashboard/exports/conversions.csv",
        "dashboard/install/",
        "dashboard/install/key",
        "dashboard/install/events",
        "dashboard/preview",
        "dashboard/test-send",
        "dashboard/flows/",
        "dashboard/flows/new/",
        "dashboard/flows/rules/",
        "dashboard/flows/<int:flow_id>/",
        "dashboard/flows/<int:flow_id>/state",
        "dashboard/flows/<int:flow_id>/steps/add",
        "dashboard/flows/<int:flow_id>/steps/remove",
    }
    assert dashboard == covered, "a new dashboard URL needs a line in _dashboard_requests"
