"""RGPD erasure: no trace of the number is left but a keyed hash, and only after a STOP."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from campaigns.models import Send
from optin.erasure import erase_contact, phone_hash
from optin.models import Contact, DoNotContact
from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound
from retargeting.sites.services import create_site
from tests.factories import SendFactory, StepFactory
from tests.support.processes import MANAGE, PYTHON, ROOT, env_for_test_database

pytestmark = pytest.mark.django_db(transaction=True)
PHONE, NATIONAL, NAME = "+33612345678", "612345678", "Marguerite"
VID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def shop():
    return create_site(name="Boutique", domains=["shop.example"], country="FR")


def a_full_history(client, shop):
    """The number goes through everything: snippet, server API, SMS, a reply."""
    event = {
        "type": "identify",
        "phone": "06 12 34 56 78",
        "first_name": NAME,
        "consent": {"granted": True, "text": "J'accepte", "source": "checkout"},
    }
    client.post(
        "/t/e",
        data=json.dumps({"site": shop.site.public_key, "vid": VID, "events": [event]}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )
    client.post(
        "/api/v1/purchases",
        data=json.dumps({"order_id": "1", "total": 10, "currency": "EUR", "phone": PHONE}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )
    contact = Contact.objects.get(phone=PHONE)
    step = StepFactory(flow__site=shop.site)
    SendFactory(
        contact=contact,
        step=step,
        cart__visitor=contact.visitor_links.get().visitor,
        body=f"{NAME}, votre panier vous attend",
        planned_at=timezone.now(),
        due_at=timezone.now() + timedelta(hours=1),
    )
    receive_inbound(
        provider="outbox",
        sms=InboundSms(provider_id="SMreply", sender=PHONE, recipient="", body="OUI"),
    )
    return contact


def traces(*needles):
    """Every row of every table whose text or JSON holds one of ``needles``."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                for needle in needles:
                    lookup = {f"{field.attname}__icontains": needle}
                    if isinstance(field, models.JSONField):
                        rows = [
                            r
                            for r in model.objects.values_list(field.attname, flat=True)
                            if needle.lower() in json.dumps(r, ensure_ascii=False).lower()
                        ]
                    else:
                        rows = list(model.objects.filter(**lookup).values_list("pk", flat=True))
                    if rows:
                        found.append(f"{model._meta.label}.{field.name} has {needle!r}")
    return found


def test_erasure_leaves_no_trace_of_the_number_or_the_name(client, shop):
    a_full_history(client, shop)
    assert traces(NATIONAL, NAME)  # the scan sees them before
    report = erase_contact(site=shop.site, raw_phone="06 12 34 56 78")
    assert report.contact_found and report.events_scrubbed >= 2
    assert traces(NATIONAL, NAME) == []
    assert not Contact.objects.exists()
    assert Send.objects.get().contact is None  # the send stays for the figures


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
    assert set(traces(NATIONAL)) == {
        "optin.Contact.phone has '612345678'",
        "tracking.Event.payload has '612345678'",
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
    assert out.getvalue().startswith("erased: contact found")
    assert not Contact.objects.exists()


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
