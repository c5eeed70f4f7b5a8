"""RGPD erasure: no trace of the number is left but a keyed hash, and only after a STOP."""

from __future__ import annotations

import json
import re
import subprocess
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from campaigns.models import Click, Conversion, Send, ShortLink
from campaigns.sending import deliver
from optin.confirmation import confirmations_key
from optin.erasure import erase_contact, phone_hash
from optin.models import Contact, DoNotContact
from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.sites.models import Site
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor
from retargeting.web.ratelimit import store, window_key
from tests.factories import SendFactory, StepFactory
from tests.support.processes import MANAGE, PYTHON, ROOT, env_for_test_database

pytestmark = pytest.mark.django_db(transaction=True)
PHONE, NATIONAL, TYPED, NAME = "+33612345678", "612345678", "06 12 34 56 78", "Marguerite"
VID, OTHER_VID = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
OTHER_SENDER = "+33757000001"


def doi_bucket():
    """Today's confirmation-limit key of the number (read when used: the day's window
    changes at midnight UTC, and a suite that crosses it must not read yesterday's)."""
    return window_key(confirmations_key(PHONE), 86400)


@pytest.fixture
def shop():
    return create_site(name="Boutique", domains=["shop.example"], country="FR", quiet_hours="none")


@pytest.fixture
def other_shop():
    """Another shop, with its own sender, that knows the same number as well."""
    return create_site(
        name="Atelier",
        domains=["atelier.example"],
        country="FR",
        quiet_hours="none",
        sender=OTHER_SENDER,
    )


def a_full_history(client, shop):
    """The number goes through everything: snippet, server API, SMS, a reply, a click."""
    site, domain = shop.site, shop.site.allowed_domains[0]
    event = {
        "type": "identify",
        "phone": TYPED,
        "first_name": NAME,
        "consent": {"granted": True, "text": "J'accepte", "source": "checkout"},
    }
    cart = {
        "id": "c1",
        "currency": "EUR",
        "total": 30,
        "url": f"https://{domain}/cart?restore=c1",
        "items": [{"sku": "A1", "name": "Chemise", "price": 30, "quantity": 1}],
    }
    page = {"type": "page_view", "url": f"https://{domain}/p/chemise", "title": "Chemise"}
    collect(client, site, VID, [page, {"type": "cart", "cart": cart}, event])
    receive_inbound(
        provider="outbox",
        sms=InboundSms(
            provider_id=f"SMreply{site.pk}", sender=PHONE, recipient=site.sender, body="OUI"
        ),
    )
    contact = Contact.objects.get(site=site, phone=PHONE)
    assert contact.consent_status == "confirmed"
    # Another browser types the number: linked or not, its event holds the number.
    collect(client, site, OTHER_VID, [event])
    step = StepFactory(flow__site=site, template="{{ first_name }}, votre panier : {{ link }}")
    send = SendFactory(
        contact=contact,
        step=step,
        cart=Cart.objects.get(site=site, visitor__vid=VID),
        planned_at=timezone.now(),
        due_at=timezone.now(),
    )
    assert deliver(send_id=send.pk) == "accepted"
    link = ShortLink.objects.get(send=send)
    assert client.get(f"/s/{link.code}", HTTP_USER_AGENT="Mozilla/5.0 (iPhone)").status_code == 302
    assert Click.objects.filter(link=link).exists()
    purchase = client.post(
        "/api/v1/purchases",
        data=json.dumps({"order_id": "1", "total": 10, "currency": "EUR", "phone": PHONE}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )
    assert purchase.status_code == 200, purchase.content
    return contact


def collect(client, site, vid, events):
    response = client.post(
        "/t/e",
        data=json.dumps({"site": site.public_key, "vid": vid, "events": events}),
        content_type="text/plain",
        HTTP_ORIGIN=f"https://{site.allowed_domains[0]}",
    )
    assert response.status_code == 204, response.content


def text_fields(model):
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]


def traces(*needles):
    """Every row of every table whose text or JSON holds one of ``needles``, as
    ``(model label, field, pk)``: every model and column, those added later too."""
    found = set()
    for model in apps.get_models():
        for field in text_fields(model):
            for pk, value in model._default_manager.values_list("pk", field.attname):
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                if any(needle.lower() in (text or "").lower() for needle in needles):
                    found.add((model._meta.label, field.name, pk))
    return found


# Messages belong to no site but to a sender: the site whose sender it is.
SENDER_OF = {"gateways.InboundMessage": "recipient", "gateways.OutboxMessage": "sender"}


def owner(label, pk):
    """The site a row belongs to (its ``site_path``, or its sender for messages)."""
    model = apps.get_model(label)
    if label in SENDER_OF:
        sender = model._default_manager.values_list(SENDER_OF[label], flat=True).get(pk=pk)
        return Site.objects.get(sender=sender).pk
    site_path = getattr(model, "site_path", None)
    assert site_path, f"{label} holds personal data: give it a site_path (retargeting.sites.access)"
    return model._default_manager.values_list(site_path, flat=True).get(pk=pk)


def rows_per_site(site):
    """How many rows of each model belong to ``site``."""
    counts = {}
    for model in apps.get_models():
        site_path = getattr(model, "site_path", None)
        if site_path:
            rows = model._default_manager.filter(**{site_path: site.pk})
            counts[model._meta.label] = rows.count()
    return counts


NEEDLES = (PHONE, NATIONAL, TYPED, NAME)


def test_erasure_leaves_no_trace_of_the_number_or_the_name_on_that_site_only(
    client, shop, other_shop
):
    a_full_history(client, shop)
    a_full_history(client, other_shop)
    before = traces(*NEEDLES)
    mine = {row for row in before if owner(row[0], row[2]) == shop.site.pk}
    theirs = before - mine
    # The scan sees the number and the name everywhere they are stored, for both shops.
    for found in (mine, theirs):
        assert {label for label, _, _ in found} >= {
            "optin.Contact",
            "tracking.Event",
            "campaigns.Send",
            "gateways.InboundMessage",
            "gateways.OutboxMessage",
        }
    kept = rows_per_site(other_shop.site)
    assert store().get(doi_bucket()) is not None

    report = erase_contact(site=shop.site, raw_phone=TYPED)

    assert report.contact_found and report.visitors_deleted >= 1
    assert report.events_scrubbed >= 1  # the server's purchase (and an unlinked browser's)
    assert traces(*NEEDLES) == theirs
    assert rows_per_site(other_shop.site) == kept
    site = shop.site
    assert not Contact.objects.filter(site=site).exists()
    assert not Visitor.objects.filter(site=site, vid=VID).exists()
    assert not Cart.objects.filter(site=site).exists()
    assert not Send.objects.filter(site=site).exists()
    assert not ShortLink.objects.filter(send__site=site).exists()
    assert not Click.objects.filter(link__send__site=site).exists()
    assert not Event.objects.filter(site=site).exclude(payload__phone="erased").exists()
    assert Conversion.objects.filter(site=site).exists()  # anonymous, for the revenue figures
    assert store().get(doi_bucket()) is None  # the confirmation limit held the number


def test_messages_over_a_shared_sender_stay_while_another_shop_knows_the_number(client, shop):
    neighbour = create_site(
        name="Voisin", domains=["voisin.example"], country="FR", quiet_hours="none"
    )
    a_full_history(client, shop)
    a_full_history(client, neighbour)  # the same sender: the platform's
    shared = InboundMessage.objects.filter(sender=PHONE).count()
    reminder = Send.objects.get(site=shop.site).provider_id
    erase_contact(site=shop.site, raw_phone=PHONE)
    # Its own reminder goes; the replies may be the neighbour's too, and stay.
    assert not OutboxMessage.objects.filter(provider_id=reminder).exists()
    assert InboundMessage.objects.filter(sender=PHONE).count() == shared
    assert Contact.objects.filter(site=neighbour.site, phone=PHONE).exists()
    erase_contact(site=neighbour.site, raw_phone=PHONE)
    assert traces(*NEEDLES) == set()


def test_a_number_that_said_stop_stays_blocked_after_erasure_whatever_asks(client, shop):
    a_full_history(client, shop)
    receive_inbound(
        provider="outbox",
        sms=InboundSms(provider_id="SMstop", sender=PHONE, recipient="", body="STOP"),
    )
    assert erase_contact(site=shop.site, raw_phone=PHONE).kept_do_not_contact
    assert DoNotContact.objects.get().phone_hash == phone_hash(PHONE) != PHONE
    # Imported again by the shop's server: the contact may exist, consent may not.
    response = client.post(
        "/api/v1/identify",
        data=json.dumps({"phone": PHONE, "consent": {"granted": True, "text": "import"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )
    assert response.status_code == 200
    assert Contact.objects.get().consent_status == "none"
    # Only what the new request itself brought: the contact row and its event.
    assert {(label, field) for label, field, _ in traces(NATIONAL)} == {
        ("optin.Contact", "phone"),
        ("tracking.Event", "payload"),
    }


def test_without_a_stop_an_erased_number_can_consent_again(client, shop):
    a_full_history(client, shop)
    assert not erase_contact(site=shop.site, raw_phone=PHONE).kept_do_not_contact
    client.post(
        "/api/v1/identify",
        data=json.dumps({"phone": PHONE, "consent": {"granted": True, "text": "again"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )
    assert Contact.objects.get().consent_status == "granted"


def test_the_command_erases_and_says_what_it_did(client, shop):
    a_full_history(client, shop)
    out = StringIO()
    call_command("erase_contact", "--site", str(shop.site.pk), "--phone", PHONE, stdout=out)
    assert re.match(r"erased: contact found, \d+ browser\(s\) deleted", out.getvalue())
    assert not Contact.objects.exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "999", "--phone", PHONE], "no site with id 999"),
        (["--site", "SITE", "--phone", "hello"], "is not a phone number"),
    ],
)
def test_the_command_fails_with_one_line(shop, args, message):
    args = [str(shop.site.pk) if a == "SITE" else a for a in args]
    result = subprocess.run(
        [PYTHON, MANAGE, "erase_contact", *args],
        cwd=ROOT,
        env=env_for_test_database(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_the_admin_action_asks_then_erases(admin_client, client, shop):
    contact = a_full_history(client, shop)
    url = "/admin/optin/contact/"
    asked = admin_client.post(url, {"action": "erase_selected", "_selected_action": [contact.pk]})
    assert asked.status_code == 200 and b"cannot be undone" in asked.content
    assert Contact.objects.exists()
    done = admin_client.post(
        url, {"action": "erase_selected", "_selected_action": [contact.pk], "confirmed": "yes"}
    )
    assert done.status_code == 302
    assert not Contact.objects.exists()
    assert admin_client.get(f"/admin/optin/contact/{contact.pk}/delete/").status_code == 404


def test_turning_double_opt_in_off_warns_in_the_admin(admin_client, shop):
    site = shop.site
    response = admin_client.post(
        f"/admin/sites/site/{site.pk}/change/",
        {
            "name": site.name,
            "allowed_domains": json.dumps(site.allowed_domains),
            "country": "FR",
            "time_zone": "Europe/Paris",
            "language": "fr",
            "sender": "",
            "stop_number": "",
            "cart_url": "",
            "quiet_hours": "fr_strict",
            "cap_per_24h": 1,
            "cap_per_7d": 3,
            "stale_after_hours": 48,
            "attribution_window_days": 5,
            "link_ttl_days": 30,
            "confirmations_per_day": 200,
            "confirmations_per_ip_per_day": 5,
            "confirmations_per_visitor_per_day": 3,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
        follow=True,
    )
    assert b"double opt-in is off" in response.content


def test_a_number_stored_as_typed_is_found_in_any_form(shop):
    """Events keep numbers in E.164; one kept as typed (an older event) is erased as well."""
    site, now = shop.site, timezone.now()
    for typed in ("06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "07 00 00 00 00"):
        Event.objects.create(
            site=site,
            type=Event.Type.PURCHASE,
            source=Event.Source.SERVER,
            payload={"type": "purchase", "phone": typed, "first_name": NAME},
            received_at=now,
        )
    report = erase_contact(site=site, raw_phone=PHONE)
    assert report.events_scrubbed == 3
    assert sorted(Event.objects.values_list("payload__phone", flat=True)) == [
        "07 00 00 00 00",
        "erased",
        "erased",
        "erased",
    ]


def test_an_erasure_is_not_undone_when_the_cache_is_away(client, shop, monkeypatch, caplog):
    a_full_history(client, shop)

    def away(**kwargs):
        raise ConnectionError("cache away")

    monkeypatch.setattr("optin.erasure.forget", away)
    assert erase_contact(site=shop.site, raw_phone=PHONE).contact_found
    assert not Contact.objects.exists()
    assert "rate-limit counts of +3361234•••• not forgotten" in caplog.text
