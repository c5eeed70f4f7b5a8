"""Trust: no stranger can make Relance send an SMS, or change who gets one.

Each attack is tried as a hostile visitor would, with only what every shop page shows (the
public site key) and plain HTTP: the collector with a forged ``Origin``, the hosted page, the
server API without its key, signed webhooks through the real ``twilio`` SDK's validator, the
admin as a marketer. Each has a control, a legitimate request that must still work, so that
"send nothing" cannot pass. docs/reliability.md ("Trust") lists them with their figures.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.urls import reverse

from campaigns.dispatch import run_pass
from campaigns.models import Conversion, SendEvent, SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.keys import hash_secret_key, new_secret_key
from retargeting.sites.models import Site
from retargeting.sites.services import add_member
from retargeting.tracking.models import Cart, Event, Visitor
from tests.factories import SendFactory, SiteFactory, StepFactory
from tests.support.admin_forms import change_form_data
from tests.support.twilio_fixtures import SENDER

# Committed for real, as in production: identify and confirmations run after the commit.
pytestmark = pytest.mark.django_db(transaction=True)

# A Tuesday, 10:00 in Paris: inside the default quiet hours' window.
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CUSTOMER = "+33612345678"
ATTACKER_VID = "attacker0000000000000000000000aa"
CUSTOMER_VID = "customer0000000000000000000000bb"
ORIGIN = "https://www.shop.example"


@pytest.fixture
def shop():
    secret = new_secret_key()
    site = SiteFactory(name="Maison Demo", allowed_domains=["shop.example"], country="FR")
    site.secret_key_hash = hash_secret_key(secret)
    site.save()
    site.secret = secret
    StepFactory(flow__site=site, delay_minutes=30)
    return site


def collect(client, site, *events, vid=ATTACKER_VID, origin=ORIGIN, ip="203.0.113.7"):
    body = json.dumps({"site": site.public_key, "vid": vid, "events": list(events)})
    return client.post(
        "/t/e", data=body, content_type="text/plain", HTTP_ORIGIN=origin, REMOTE_ADDR=ip
    )


def server_identify(client, site, *, phone, vid=None):
    body = {
        "phone": phone,
        "first_name": "Marie",
        "consent": {"granted": True, "text": "J'accepte les SMS", "source": "checkout"},
    }
    if vid:
        body["vid"] = vid
    return client.post(
        "/api/v1/identify",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {site.secret}",
    )


def identify(phone, *, first_name="Marie"):
    return {
        "type": "identify",
        "phone": phone,
        "first_name": first_name,
        "consent": {"granted": True, "text": "J'accepte les SMS", "source": "checkout"},
    }


def cart(url="https://shop.example/panier?restore=1", item_url="https://shop.example/p/1"):
    return {
        "type": "cart",
        "cart": {
            "id": "c-1",
            "currency": "EUR",
            "total": 42,
            "url": url,
            "items": [
                {
                    "sku": "A1",
                    "name": "Chemise",
                    "price": 42,
                    "quantity": 1,
                    "url": item_url,
                    "image": "https://cdn.example-images.net/a1.jpg",
                }
            ],
        },
    }


def signed(client, twilio, path, params):
    """A webhook as Twilio sends it, signed with the real SDK's validator."""
    signature = twilio.sign("https://relance.example" + path, params)
    response = client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)
    return response.status_code, response.content


def reply(client, twilio, body):
    return signed(
        client, twilio, "/webhooks/twilio/inbound", twilio.inbound_params(CUSTOMER, SENDER, body)
    )


def sms_to(phone):
    return list(OutboxMessage.objects.filter(to=phone).values_list("body", flat=True))


def dispatch_an_hour_later():
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        return run_pass(deliver_inline=True)


def stored():
    return (Event.objects.count(), Visitor.objects.count(), Cart.objects.count())


# --- 1. Links stay home -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (cart(url="https://evil.example/login"), "events[1].cart.url"),
        (cart(url="https://shop.example@evil.example/"), "events[1].cart.url"),
        (cart(url="https://notshop.example/"), "events[1].cart.url"),
        (cart(url="javascript:alert(1)"), "events[1].cart.url"),
        (cart(item_url="https://evil.example/p/1"), "events[1].cart.items[0].url"),
    ],
)
def test_a_cart_link_off_the_shops_domains_is_refused_and_nothing_is_stored(
    client, shop, event, field
):
    response = collect(client, shop, {"type": "page_view", "url": "https://shop.example/"}, event)
    assert response.status_code == 400
    assert response.json()["error"].startswith(field + ":")
    assert stored() == (0, 0, 0)
    # Control: the same cart on the shop's own domains (a subdomain too) is taken.
    good = cart(url="https://www.shop.example/panier?restore=1")
    assert collect(client, shop, good).status_code == 204
    assert Cart.objects.get().url == "https://www.shop.example/panier?restore=1"


def _sent_link(site, *, target):
    send = SendFactory(site=site, cart__visitor__site=site, cart__url=target)
    now = MORNING
    return ShortLink.objects.create(
        send=send,
        code="Abc123defg",
        target_url=target,
        created_at=now,
        expires_at=now + timedelta(days=30),
    )


@time_machine.travel(MORNING, tick=False)
def test_a_link_whose_domain_was_removed_since_leads_home_without_the_contact_token(client, shop):
    _sent_link(shop, target="https://old-shop.example/panier?restore=1")
    response = client.get("/s/Abc123defg")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.netloc == "shop.example" and location.path == "/"
    # Control: a link on the shop's domain keeps its target and carries the token.
    ShortLink.objects.update(
        target_url="https://shop.example/panier?restore=1", token_issued_at=None
    )
    location = urlsplit(client.get("/s/Abc123defg")["Location"])
    assert (location.netloc, location.path) == ("shop.example", "/panier")
    assert "_rl" in parse_qs(location.query) and parse_qs(location.query)["restore"] == ["1"]


@time_machine.travel(MORNING, tick=False)
def test_a_fallback_cart_page_off_the_shops_domains_is_never_used(client, shop):
    shop.cart_url = "https://evil.example/cart"
    shop.save()
    _sent_link(shop, target="https://gone.example/x")
    location = urlsplit(client.get("/s/Abc123defg")["Location"])
    assert location.netloc == "shop.example"


# --- 2. Identity needs proof ----------------------------------------------------------------


@pytest.fixture
def consenting_customer(client, shop):
    """A customer the shop's server identified, with consent, on their own browser."""
    with time_machine.travel(MORNING - timedelta(days=3), tick=False):
        assert server_identify(client, shop, phone=CUSTOMER, vid=CUSTOMER_VID).status_code == 200
    return Contact.objects.get(site=shop, phone=CUSTOMER)


def test_a_stranger_who_types_a_consenting_number_gets_no_sms_sent_to_it(
    client, shop, consenting_customer
):
    with time_machine.travel(MORNING, tick=False):
        assert (
            collect(client, shop, identify("06 12 34 56 78", first_name="Idiot")).status_code == 204
        )
        assert collect(client, shop, cart()).status_code == 204
    assert not VisitorLink.objects.filter(visitor__vid=ATTACKER_VID).exists()
    consenting_customer.refresh_from_db()
    assert consenting_customer.first_name == "Marie"  # nor is its name changed
    assert dispatch_an_hour_later().sent == 0
    assert sms_to(CUSTOMER) == []
    # Control: the customer's own browser (linked by the shop's server) gets its reminder.
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, cart(), vid=CUSTOMER_VID).status_code == 204
    assert dispatch_an_hour_later().sent == 1
    (body,) = sms_to(CUSTOMER)
    assert "/s/" in body


def test_a_stranger_cannot_undo_a_stop_through_the_snippet_or_the_hosted_page(
    client, shop, consenting_customer
):
    record_consent(
        contact=consenting_customer, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD
    )
    rows = Consent.objects.count()
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, identify(CUSTOMER)).status_code == 204
        page = client.post(
            f"/o/{shop.public_key}/",
            {"phone": "0612345678", "consent": "on"},
            REMOTE_ADDR="203.0.113.9",
        )
    assert page.status_code == 200  # the same answer as for any number: nothing to learn
    consenting_customer.refresh_from_db()
    assert consenting_customer.consent_status == ConsentStatus.REVOKED
    assert Consent.objects.count() == rows
    assert sms_to(CUSTOMER) == []
    # Control: a number new to the shop starts its double opt-in, one confirmation SMS.
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, identify("+33698765432")).status_code == 204
    assert Contact.objects.get(phone="+33698765432").consent_status == ConsentStatus.PENDING
    (confirmation,) = sms_to("+33698765432")
    assert "OUI" in confirmation


def test_the_shops_server_may_restore_a_number_after_stop(client, shop, consenting_customer):
    record_consent(
        contact=consenting_customer, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD
    )
    assert server_identify(client, shop, phone=CUSTOMER).status_code == 200
    consenting_customer.refresh_from_db()
    assert consenting_customer.consent_status == ConsentStatus.GRANTED


def test_tapping_our_link_links_the_browser_that_opened_it(client, shop, consenting_customer):
    """The owner's proof: the signed token a short link hands to the shop's page."""
    from optin.tokens import make_token

    with time_machine.travel(MORNING, tick=False):
        token = {"type": "identify", "token": make_token(consenting_customer, user_agent="")}
        assert collect(client, shop, token, vid=ATTACKER_VID).status_code == 204
    assert VisitorLink.objects.get(visitor__vid=ATTACKER_VID).contact == consenting_customer


# --- 3. No pumping --------------------------------------------------------------------------


def _new_number(index):
    return f"+336{index:08d}"


@time_machine.travel(MORNING, tick=False)
def test_one_browser_gets_at_most_its_daily_confirmations(client, shop):
    limit = shop.confirmations_per_visitor_per_day
    answers = [
        collect(client, shop, identify(_new_number(i)), ip=f"198.51.100.{i}").status_code
        for i in range(limit + 2)
    ]
    assert answers == [204] * limit + [429, 429]
    assert OutboxMessage.objects.count() == limit
    assert Contact.objects.count() == limit
    assert Event.objects.filter(type="identify").count() == limit  # refused: nothing stored


@time_machine.travel(MORNING, tick=False)
def test_one_address_gets_at_most_its_daily_confirmations(client, shop):
    limit = shop.confirmations_per_ip_per_day
    answers = [
        collect(client, shop, identify(_new_number(i)), vid=f"visitor{i:025d}").status_code
        for i in range(limit + 1)
    ]
    assert answers == [204] * limit + [429]
    assert OutboxMessage.objects.count() == limit


@time_machine.travel(MORNING, tick=False)
def test_a_site_gets_at_most_its_daily_confirmations_and_the_dashboard_shows_them(client, shop):
    Site.objects.filter(pk=shop.pk).update(confirmations_per_day=3)
    answers = [
        collect(
            client, shop, identify(_new_number(i)), vid=f"visitor{i:025d}", ip=f"198.51.100.{i}"
        ).status_code
        for i in range(5)
    ]
    assert answers == [204, 204, 204, 429, 429]
    assert OutboxMessage.objects.count() == 3
    # Over the limit a known number gets the same answer as a new one: nothing to learn.
    assert collect(client, shop, identify(_new_number(0)), vid="v" * 20).status_code == 429
    assert OutboxMessage.objects.count() == 3
    # The shop's server is not limited by the page's budget.
    assert server_identify(client, shop, phone=_new_number(9)).status_code == 200
    marketer = User.objects.create_user("marketer", password="x")
    add_member(site=shop, user=marketer)
    client.force_login(marketer)
    page = client.get(f"/dashboard/install/?site={shop.pk}").content.decode()
    assert re.search(r"3\s*/\s*3", page), "the day's confirmations against the limit"


@time_machine.travel(MORNING, tick=False)
def test_the_limits_never_tell_a_known_number_from_an_unknown_one(client, shop):
    """A stranger with the public key probes a number: its identify, then fresh numbers from
    the same browser until the browser's daily budget says no. A known number spends the
    budget as an unknown one does, so the answers are the same for both (4 identifies told
    them apart when a known number spent nothing). Only the unknown one costs an SMS."""
    known = _new_number(1)
    server_identify(client, shop, phone=known)  # the shop's customer, with consent

    def probe(number, vid, ip):
        answers = [collect(client, shop, identify(number), vid=vid, ip=ip).status_code]
        for i in range(3):
            fresh = _new_number(10 + i + (0 if number == known else 10))
            answers.append(collect(client, shop, identify(fresh), vid=vid, ip=ip).status_code)
        return answers

    sent_before = OutboxMessage.objects.count()
    for_known = probe(known, "k" * 32, "198.51.100.1")
    sms_for_known = OutboxMessage.objects.count() - sent_before
    for_unknown = probe(_new_number(2), "u" * 32, "198.51.100.2")
    sms_for_unknown = OutboxMessage.objects.count() - sent_before - sms_for_known
    assert for_known == for_unknown == [204, 204, 204, 429]
    # Control: each new number got its one confirmation; the customer got none.
    assert (sms_for_known, sms_for_unknown) == (2, 3)
    assert not OutboxMessage.objects.filter(to=known).exists()


@time_machine.travel(MORNING, tick=False)
def test_the_next_day_brings_a_new_budget(client, shop):
    Site.objects.filter(pk=shop.pk).update(confirmations_per_day=1)
    assert collect(client, shop, identify(_new_number(1))).status_code == 204
    assert collect(client, shop, identify(_new_number(2)), vid="w" * 20).status_code == 429
    with time_machine.travel(MORNING + timedelta(days=1), tick=False):
        assert collect(client, shop, identify(_new_number(3)), vid="x" * 20).status_code == 204


def test_a_batch_carries_at_most_one_identify(client, shop):
    response = collect(client, shop, identify(_new_number(1)), identify(_new_number(2)))
    assert response.status_code == 400
    assert response.json()["error"].startswith("events[1]:")
    assert stored() == (0, 0, 0) and OutboxMessage.objects.count() == 0
    assert collect(client, shop, identify(_new_number(1))).status_code == 204


def test_numbers_from_other_countries_are_refused_from_pages_but_not_from_the_server(client, shop):
    british = "+447400123456"
    response = collect(client, shop, identify(british))
    assert response.status_code == 400
    assert (
        response.json()["error"].startswith("events[0].phone:") and "FR" in response.json()["error"]
    )
    page = client.post(f"/o/{shop.public_key}/", {"phone": british, "consent": "on"})
    assert page.status_code == 400
    assert stored() == (0, 0, 0) and not Contact.objects.exists()
    assert OutboxMessage.objects.count() == 0
    # Controls: the shop's server identifies any country; a site may list more countries.
    assert server_identify(client, shop, phone=british).status_code == 200
    shop.enrol_countries = ["FR", "GB"]
    shop.save()
    assert collect(client, shop, identify("+447400123457")).status_code == 204


@time_machine.travel(MORNING, tick=False)
def test_the_hosted_page_shares_the_confirmation_limits(client, shop):
    Site.objects.filter(pk=shop.pk).update(confirmations_per_ip_per_day=1)
    first = client.post(f"/o/{shop.public_key}/", {"phone": _new_number(1), "consent": "on"})
    second = client.post(f"/o/{shop.public_key}/", {"phone": _new_number(2), "consent": "on"})
    assert (first.status_code, second.status_code) == (200, 429)
    assert OutboxMessage.objects.count() == 1 and Contact.objects.count() == 1


# --- 4. Replies act where they belong ---------------------------------------------------------


def _pending_at(site, *, sent_at):
    contact = Contact.objects.create(site=site, phone=CUSTOMER, region="FR")
    record_consent(contact=contact, status=ConsentStatus.PENDING, source=ConsentSource.SNIPPET)
    Contact.objects.filter(pk=contact.pk).update(confirmation_sent_at=sent_at)
    return contact


def test_oui_confirms_only_the_opt_in_whose_confirmation_it_answers(client, twilio):
    older = _pending_at(SiteFactory(name="Shop A"), sent_at=MORNING)
    latest = _pending_at(SiteFactory(name="Shop B"), sent_at=MORNING + timedelta(minutes=5))
    status, body = reply(client, twilio, "Oui")
    assert status == 200 and b"Shop B" in body and b"Shop A" not in body
    older.refresh_from_db(), latest.refresh_from_db()
    assert (older.consent_status, latest.consent_status) == ("pending", "confirmed")
    # STOP still acts for every site sending from the number.
    reply(client, twilio, "STOP")
    older.refresh_from_db(), latest.refresh_from_db()
    assert (older.consent_status, latest.consent_status) == ("revoked", "revoked")


def test_oui_never_confirms_an_opt_in_whose_confirmation_was_not_sent(client, twilio):
    never_asked = _pending_at(SiteFactory(name="Shop A"), sent_at=None)
    reply(client, twilio, "OUI")
    never_asked.refresh_from_db()
    assert never_asked.consent_status == ConsentStatus.PENDING


# --- 5. Roles -------------------------------------------------------------------------------


def test_a_marketer_cannot_rename_their_shop_or_take_another_shops_sender(client):
    shop_a = SiteFactory(name="Shop A", sender="SHOPA")
    shop_b = SiteFactory(name="Shop B", sender="SHOPB")
    marketer = User.objects.create_user("marketer-a", password="x")
    add_member(site=shop_a, user=marketer)
    client.force_login(marketer)
    url = reverse("admin:sites_site_change", args=[shop_a.pk])
    data = change_form_data(client.get(url))
    data.update(
        name="Shop B",
        sender="SHOPB",
        allowed_domains='["evil.example"]',
        confirmations_per_day="1000000",
        cap_per_24h="1",
        stale_after_hours="24",
    )
    response = client.post(url, data)
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    shop_a.refresh_from_db()
    assert (shop_a.name, shop_a.sender, shop_a.allowed_domains) == (
        "Shop A",
        "SHOPA",
        ["shop.example"],
    )
    assert shop_a.confirmations_per_day == 200
    # Control: what is the marketer's to set is saved.
    assert shop_a.stale_after_hours == 24
    assert Site.objects.get(pk=shop_b.pk).sender == "SHOPB"


def test_cookie_consent_is_the_operators_choice_in_the_admin(client):
    shop = SiteFactory(name="Shop A")
    assert shop.cookie_consent == "required"  # a French shop
    marketer = User.objects.create_user("marketer-a", password="x")
    add_member(site=shop, user=marketer)
    url = reverse("admin:sites_site_change", args=[shop.pk])
    client.force_login(marketer)
    data = change_form_data(client.get(url))
    data.update(cookie_consent="not_required", stale_after_hours="24")
    assert client.post(url, data).status_code == 302
    shop.refresh_from_db()
    assert (shop.cookie_consent, shop.stale_after_hours) == ("required", 24)
    operator = User.objects.create_superuser("operator", password="x")
    client.force_login(operator)
    data = change_form_data(client.get(url))
    data.update(cookie_consent="not_required")
    response = client.post(url, data)
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    shop.refresh_from_db()
    assert shop.cookie_consent == "not_required"


def test_a_sender_belongs_to_one_site_even_for_an_operator(client):
    SiteFactory(name="Shop A", sender="SHOPA")
    shop_b = SiteFactory(name="Shop B", sender="SHOPB")
    operator = User.objects.create_superuser("operator", password="x")
    client.force_login(operator)
    url = reverse("admin:sites_site_change", args=[shop_b.pk])
    data = change_form_data(client.get(url))
    data["sender"] = "shopa"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "sender" in response.context["adminform"].form.errors
    assert Site.objects.get(pk=shop_b.pk).sender == "SHOPB"
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.filter(pk=shop_b.pk).update(sender="SHOPA")
    # Control: an operator renames a shop and gives it a sender of its own.
    data.update(sender="SHOPB2", name="Shop Bee")
    assert client.post(url, data).status_code == 302
    assert Site.objects.get(pk=shop_b.pk).name == "Shop Bee"
    # The platform's default sender (empty) is shared by any number of sites.
    SiteFactory(sender=""), SiteFactory(sender="")


def test_a_test_send_goes_only_to_a_number_the_member_proved_is_theirs(client, shop):
    marketer = User.objects.create_user("marketer", password="x")
    add_member(site=shop, user=marketer)
    client.force_login(marketer)
    flow = shop.flows.get()
    fields = {"flow": flow.pk, "template": "{{ first_name }}, votre panier : {{ link }} STOP"}
    first = client.post("/dashboard/test-send", {**fields, "phone": "06 98 76 54 32"})
    assert first.status_code == 202 and first.json()["code_needed"]
    (code_sms,) = sms_to("+33698765432")
    assert "[TEST]" not in code_sms
    code = re.search(r"\b(\d{6})\b", code_sms).group(1)
    wrong = client.post(
        "/dashboard/test-send",
        {**fields, "phone": "+33698765432", "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 400 and len(sms_to("+33698765432")) == 1
    proved = client.post("/dashboard/test-send", {**fields, "phone": "+33698765432", "code": code})
    assert proved.status_code == 200 and "sent" in proved.json()
    assert sms_to("+33698765432")[-1].startswith("[TEST] ")
    # Once proved, the member's number needs no code; another number does again.
    again = client.post("/dashboard/test-send", {**fields, "phone": "+33698765432"})
    assert again.status_code == 200 and len(sms_to("+33698765432")) == 3
    other = client.post("/dashboard/test-send", {**fields, "phone": CUSTOMER})
    assert other.status_code == 202
    assert not any(body.startswith("[TEST]") for body in sms_to(CUSTOMER))
    # A code proves the number for the member who asked for it only.
    colleague = User.objects.create_user("colleague", password="x")
    add_member(site=shop, user=colleague)
    client.force_login(colleague)
    stolen = client.post("/dashboard/test-send", {**fields, "phone": "+33698765432", "code": code})
    assert stolen.status_code == 400


# --- 6. Development tools stay in development -----------------------------------------------


@pytest.mark.parametrize(
    "path", ["/dev/phone/", "/dev/phone/+33612345678/", "/demo/shop/", "/demo/shop/p/CH-01/"]
)
def test_development_tools_are_a_404_in_production_except_for_operators(client, path):
    SiteFactory(name="Maison Demo")
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        assert client.get(path).status_code == 404
        marketer = User.objects.create_user("marketer", password="x", is_staff=True)
        client.force_login(marketer)
        assert client.get(path).status_code == 404
        client.force_login(User.objects.create_superuser("operator", password="x"))
        assert client.get(path).status_code == 200
    client.logout()
    with override_settings(DEBUG=True):
        assert client.get(path).status_code == 200  # make run's development mode


@pytest.mark.slow
def test_production_does_not_start_on_the_outbox_unless_told_on_purpose():
    from tests.support.processes import PRODUCTION, base_env, run_python

    env = base_env(**{k: v for k, v in PRODUCTION.items() if k != "SMS_OUTBOX_IN_PRODUCTION"})
    refused = run_python("import django; django.setup()", env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "relance: SMS_BACKEND=outbox sends no SMS: with DEBUG off set SMS_BACKEND=twilio, or "
        "SMS_OUTBOX_IN_PRODUCTION=1 to run without sending on purpose"
    ]
    allowed = run_python("import django; django.setup(); print('up')", base_env(**PRODUCTION))
    assert allowed.returncode == 0 and allowed.stdout.strip() == "up", allowed.stderr


# --- 7. Callbacks are idempotent --------------------------------------------------------------


def test_a_replayed_unsubscribed_callback_does_not_revoke_a_consent_restored_since(
    client, twilio, shop, consenting_customer
):
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, cart(), vid=CUSTOMER_VID).status_code == 204
    assert dispatch_an_hour_later().sent == 1
    (message,) = twilio.sent_to(CUSTOMER)
    callback = twilio.status_params(message.sid, "undelivered", "21610")
    url = "/webhooks/twilio/status"
    with time_machine.travel(MORNING + timedelta(hours=2), tick=False):
        assert signed(client, twilio, url, callback)[0] == 204
    consenting_customer.refresh_from_db()
    assert consenting_customer.consent_status == ConsentStatus.REVOKED  # control: it acts once
    events = SendEvent.objects.count()
    with time_machine.travel(MORNING + timedelta(hours=3), tick=False):
        reply(client, twilio, "START")
    consenting_customer.refresh_from_db()
    assert consenting_customer.consent_status == ConsentStatus.GRANTED
    with time_machine.travel(MORNING + timedelta(hours=4), tick=False):
        assert signed(client, twilio, url, callback)[0] == 204  # replayed, signature and all
        late = twilio.status_params(message.sid, "failed", "21610")
        assert signed(client, twilio, url, late)[0] == 204  # about the same, older message
    consenting_customer.refresh_from_db()
    assert consenting_customer.consent_status == ConsentStatus.GRANTED
    assert SendEvent.objects.count() == events + 1  # the replay added nothing; "failed" is new
    assert SendEvent.objects.filter(status=SendStatus.UNDELIVERED, error_code="21610").count() == 1


@time_machine.travel(MORNING, tick=False)
def test_an_ipv6_client_cannot_rotate_addresses_within_its_network(client, shop):
    Site.objects.filter(pk=shop.pk).update(confirmations_per_ip_per_day=2)
    answers = [
        collect(
            client, shop, identify(_new_number(i)), vid=f"visitor{i:025d}", ip=f"2001:db8:1:2::{i}"
        ).status_code
        for i in range(1, 4)
    ]
    assert answers == [204, 204, 429]
    # Control: another subscriber's network has its own budget.
    other = collect(client, shop, identify(_new_number(9)), vid="z" * 20, ip="2001:db8:1:3::1")
    assert other.status_code == 204


def test_bootstrap_site_refuses_a_sender_another_site_has_in_one_line():
    from io import StringIO

    from django.core.management import CommandError, call_command

    call_command(
        "bootstrap_site",
        "--name",
        "A",
        "--domain",
        "a.example",
        "--country",
        "FR",
        "--sender",
        "MAISON",
        stdout=StringIO(),
    )
    with pytest.raises(CommandError) as refused:
        call_command(
            "bootstrap_site",
            "--name",
            "B",
            "--domain",
            "b.example",
            "--country",
            "FR",
            "--sender",
            "maison",
            stdout=StringIO(),
        )
    assert "Another site sends as this sender" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert Site.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://boß.example/panier",  # "boss.example" to Python's IDNA 2003, not to browsers
        "https://sh\u200dop.example/panier",
        "https://shop%2Eexample/panier",
        "https://SHOP.éxample/panier",
    ],
)
def test_a_unicode_host_never_passes_for_the_shops_domain(client, url):
    site = SiteFactory(allowed_domains=["boss.example", "shop.example"])
    response = collect(client, site, cart(url=url), origin="https://shop.example")
    assert response.status_code == 400 and "cart.url" in response.json()["error"]
    # Control: the punycode form of a shop's international domain is its own.
    idn = SiteFactory(allowed_domains=["xn--bo-hia.example"])
    good = cart(url="https://xn--bo-hia.example/panier", item_url="https://xn--bo-hia.example/p")
    assert collect(client, idn, good, origin="https://xn--bo-hia.example").status_code == 204


@pytest.mark.parametrize("origin", ["http://[", "https://[evil.example]"])
def test_a_malformed_origin_is_refused_not_a_server_error(client, shop, origin):
    assert collect(client, shop, cart(), origin=origin).status_code == 403
    assert client.options("/t/e", HTTP_ORIGIN=origin).status_code == 403
    assert stored() == (0, 0, 0)


def test_a_confirmation_decided_before_a_stop_committed_does_not_undo_it(shop):
    """An OUI (or the confirmation link) and a STOP racing: the change that takes the lock
    second sees the first one's result."""
    contact = Contact.objects.create(site=shop, phone=CUSTOMER, region="FR")
    record_consent(contact=contact, status=ConsentStatus.PENDING, source=ConsentSource.SNIPPET)
    stale = Contact.objects.get(pk=contact.pk)  # read while pending, by the OUI's request
    record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    late = record_consent(
        contact=stale,
        status=ConsentStatus.CONFIRMED,
        source=ConsentSource.CONFIRMATION_LINK,
        only_from={ConsentStatus.PENDING},
    )
    assert late is None and stale.consent_status == ConsentStatus.REVOKED
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED
    # Control: with no STOP in between, the confirmation is taken.
    other = Contact.objects.create(site=shop, phone="+33698765432", region="FR")
    record_consent(contact=other, status=ConsentStatus.PENDING, source=ConsentSource.SNIPPET)
    assert record_consent(
        contact=other,
        status=ConsentStatus.CONFIRMED,
        source=ConsentSource.CONFIRMATION_LINK,
        only_from={ConsentStatus.PENDING},
    )


def test_a_stop_committed_after_the_first_check_stops_the_sms(shop, monkeypatch):
    """The worker checks consent when it claims the send, renders the text, then checks again
    with the contact locked, just before the provider: a STOP in between stops the SMS."""
    from campaigns import sending
    from campaigns.sms_text import render_body

    contact = Contact.objects.create(site=shop, phone=CUSTOMER, region="FR")
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    step = shop.flows.get().steps.get()
    Site.objects.filter(pk=shop.pk).update(quiet_hours="none")
    send = SendFactory(
        site=shop,
        step=step,
        contact=contact,
        cart__visitor__site=shop,
        cart__last_change_at=MORNING - timedelta(hours=1),
        planned_at=MORNING - timedelta(minutes=20),
        due_at=MORNING - timedelta(minutes=5),
        status=SendStatus.PLANNED,
    )

    def render_then_stop(send, **links):
        rendered = render_body(send, **links)  # the STOP arrives while the text is being made
        record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
        return rendered

    monkeypatch.setattr(sending, "render_body", render_then_stop)
    with time_machine.travel(MORNING, tick=False):
        assert sending.deliver(send_id=send.pk) == "opted_out"
    assert sms_to(CUSTOMER) == []
    send.refresh_from_db()
    assert (send.status, send.reason) == (SendStatus.CANCELLED, "opted_out")


@time_machine.travel(MORNING, tick=False)
def test_the_contact_token_goes_to_a_person_tapping_not_to_a_preview_or_head(client, shop):
    _sent_link(shop, target="https://shop.example/panier?restore=1")
    bot = "WhatsApp/2.23.20.0 link preview"
    for response in (
        client.get("/s/Abc123defg", HTTP_USER_AGENT=bot),
        client.head("/s/Abc123defg"),
    ):
        assert response.status_code == 302
        assert "_rl" not in parse_qs(urlsplit(response["Location"]).query)
    tapped = client.get("/s/Abc123defg", HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile")
    assert "_rl" in parse_qs(urlsplit(tapped["Location"]).query)


def test_a_page_view_never_stores_the_contact_token(client, shop):
    url = "https://shop.example/panier?restore=1&_rl=signed.token-value"
    assert collect(client, shop, {"type": "page_view", "url": url}).status_code == 204
    assert Event.objects.get().payload["url"] == "https://shop.example/panier?restore=1"


@pytest.mark.parametrize("name", ["Sweat Nonstop", "Stop&Go"])
def test_the_word_stop_in_a_product_or_shop_name_is_no_opt_out_mention(name):
    from campaigns.flows import has_stop_mention

    site = SiteFactory(name="Maison Demo")
    assert not has_stop_mention(f"Marie, votre {name} vous attend", site=site, stop_link="")
    assert has_stop_mention(f"Marie, votre {name}. Répondez STOP", site=site, stop_link="")


def test_a_page_claiming_an_order_number_first_does_not_keep_the_real_order_from_its_cart(
    client, shop, consenting_customer
):
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, cart(), vid=CUSTOMER_VID).status_code == 204
        forged = {"type": "purchase", "order_id": "10457", "total": 1, "currency": "EUR"}
        assert collect(client, shop, forged).status_code == 204  # another browser claims it
        real = client.post(
            "/api/v1/purchases",
            data=json.dumps(
                {"order_id": "10457", "total": 42, "currency": "EUR", "vid": CUSTOMER_VID}
            ),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {shop.secret}",
        )
    assert real.status_code == 200 and real.json()["cart_converted"] is True
    assert Cart.objects.get(visitor__vid=CUSTOMER_VID).status == Cart.Status.CONVERTED
    assert dispatch_an_hour_later().sent == 0
    assert sms_to(CUSTOMER) == []
    # Control: the buyer's own thank-you page reloaded is still one order.
    with time_machine.travel(MORNING, tick=False):
        again = {"type": "purchase", "order_id": "10457", "total": 42, "currency": "EUR"}
        assert collect(client, shop, again, vid=CUSTOMER_VID).status_code == 204
    assert Conversion.objects.filter(order_id="10457").count() == 1


def test_a_stop_to_a_shared_sender_holds_for_shops_that_never_knew_the_number(client, twilio):
    shop_a, shop_b = SiteFactory(name="Shop A"), SiteFactory(name="Shop B")  # the platform's
    own_sender = SiteFactory(name="Shop C", sender="SHOPC")
    known = Contact.objects.create(site=shop_a, phone=CUSTOMER, region="FR")
    record_consent(contact=known, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    status, body = reply(client, twilio, "STOP")
    assert status == 200 and b"Shop A" in body and b"Shop B" not in body
    at_b = Contact.objects.get(site=shop_b, phone=CUSTOMER)
    assert at_b.consent_status == ConsentStatus.REVOKED
    assert not Contact.objects.filter(site=own_sender).exists()  # another sender: untouched
    # A page at shop B cannot enrol the number any more; a new number still can.
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop_b, identify(CUSTOMER)).status_code == 204
        assert collect(client, shop_b, identify("+33698765432"), vid="w" * 20).status_code == 204
    assert Contact.objects.get(site=shop_b, phone=CUSTOMER).consent_status == "revoked"
    assert Contact.objects.get(site=shop_b, phone="+33698765432").consent_status == "pending"


# --- Email: every attack above, for an email address ----------------------------------------

CUSTOMER_EMAIL = "marie@example.fr"


def email_identify(address, *, first_name="Marie"):
    return {
        "type": "identify",
        "email": address,
        "first_name": first_name,
        "email_consent": {"granted": True, "text": "J'accepte les emails", "source": "footer"},
    }


def emails_to(address):
    from django.core import mail

    return [message for message in mail.outbox if message.to == [address]]


def _new_address(index):
    return f"new{index}@example.fr"


def server_identify_email(client, site, *, email, vid=None):
    body = {
        "email": email,
        "first_name": "Marie",
        "email_consent": {"granted": True, "text": "J'accepte les emails", "source": "account"},
    }
    if vid:
        body["vid"] = vid
    return client.post(
        "/api/v1/identify",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {site.secret}",
    )


@pytest.fixture
def consenting_address(client, shop):
    """A customer the shop's server identified by email address, with email consent."""
    with time_machine.travel(MORNING - timedelta(days=3), tick=False):
        answer = server_identify_email(client, shop, email=CUSTOMER_EMAIL, vid=CUSTOMER_VID)
        assert answer.status_code == 200
    return Contact.objects.get(site=shop, email=CUSTOMER_EMAIL)


def test_a_stranger_who_types_a_consenting_address_gets_no_email_sent_to_it(
    client, shop, consenting_address
):
    with time_machine.travel(MORNING, tick=False):
        typed = email_identify("Marie@Example.FR", first_name="Idiot")
        assert collect(client, shop, typed).status_code == 204
        assert collect(client, shop, cart()).status_code == 204
    assert not VisitorLink.objects.filter(visitor__vid=ATTACKER_VID).exists()
    consenting_address.refresh_from_db()
    assert consenting_address.first_name == "Marie"
    assert consenting_address.consents.count() == 1
    assert emails_to(CUSTOMER_EMAIL) == []
    # Control: a new address from the same page starts its double opt-in, one email.
    with time_machine.travel(MORNING, tick=False):
        assert (
            collect(client, shop, email_identify("paul@example.fr"), vid="p" * 32).status_code
            == 204
        )
    assert Contact.objects.get(email="paul@example.fr").email_consent_status == "pending"
    assert len(emails_to("paul@example.fr")) == 1


def _server(client, site, body):
    return client.post(
        "/api/v1/identify",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {site.secret}",
    )


def test_a_claim_on_one_channel_never_ties_a_browser_to_a_contact_live_on_the_other(client, shop):
    # The shop's server knows Marie by her number (SMS consent) and her address (no email
    # consent yet): the address has no state, the contact is a consenting customer's.
    sms_consent = {"granted": True, "text": "J'accepte les SMS", "source": "account"}
    with time_machine.travel(MORNING - timedelta(days=3), tick=False):
        body = {"phone": CUSTOMER, "email": CUSTOMER_EMAIL, "consent": sms_consent}
        assert _server(client, shop, body).status_code == 200
    marie = Contact.objects.get(site=shop, phone=CUSTOMER)
    assert (marie.email, marie.email_consent_status) == (CUSTOMER_EMAIL, "none")
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, email_identify(CUSTOMER_EMAIL)).status_code == 204
        assert collect(client, shop, cart()).status_code == 204
    # Her address's own double opt-in starts (she decides), and the stranger's browser is not
    # hers: its cart would have become an SMS to her number.
    assert not VisitorLink.objects.filter(visitor__vid=ATTACKER_VID).exists()
    marie.refresh_from_db()
    assert marie.email_consent_status == ConsentStatus.PENDING
    dispatch_an_hour_later()
    assert sms_to(CUSTOMER) == []
    # The mirror: known by her address (email consent), her number given without consent.
    email_consent = {"granted": True, "text": "J'accepte les emails", "source": "account"}
    with time_machine.travel(MORNING - timedelta(days=3), tick=False):
        body = {
            "phone": "+33698765432",
            "email": "paul@example.fr",
            "consent": {"granted": False, "text": "", "source": "account"},
            "email_consent": email_consent,
        }
        assert _server(client, shop, body).status_code == 200
    paul = Contact.objects.get(site=shop, email="paul@example.fr")
    assert (paul.phone, paul.consent_status) == ("+33698765432", "none")
    with time_machine.travel(MORNING, tick=False):
        typed = collect(client, shop, identify("06 98 76 54 32"), vid="s" * 32)
        assert typed.status_code == 204
    assert not VisitorLink.objects.filter(visitor__vid="s" * 32).exists()
    # Control: a number whose contact has no state on either channel is tied to the browser
    # that typed it (its double opt-in decides whether anything is ever sent).
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, identify("06 11 22 33 44"), vid="c" * 32).status_code == 204
    assert VisitorLink.objects.filter(visitor__vid="c" * 32).exists()


def test_a_stranger_cannot_undo_an_unsubscribe_through_the_snippet(
    client, shop, consenting_address
):
    from optin.consent import revoke

    revoke(contact=consenting_address, channel="email", source=ConsentSource.UNSUBSCRIBE)
    rows = Consent.objects.count()
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, email_identify(CUSTOMER_EMAIL)).status_code == 204
    consenting_address.refresh_from_db()
    assert consenting_address.email_consent_status == ConsentStatus.REVOKED
    assert Consent.objects.count() == rows
    assert emails_to(CUSTOMER_EMAIL) == []
    # Control: the shop's server (its secret key) may restore it.
    assert server_identify_email(client, shop, email=CUSTOMER_EMAIL).status_code == 200
    consenting_address.refresh_from_db()
    assert consenting_address.email_consent_status == ConsentStatus.GRANTED


@time_machine.travel(MORNING, tick=False)
def test_one_browser_gets_at_most_its_daily_confirmation_emails(client, shop):
    limit = shop.confirmations_per_visitor_per_day
    answers = [
        collect(client, shop, email_identify(_new_address(i)), ip=f"198.51.100.{i}").status_code
        for i in range(limit + 2)
    ]
    assert answers == [204] * limit + [429, 429]
    from django.core import mail

    assert len(mail.outbox) == limit
    assert Contact.objects.count() == limit


@time_machine.travel(MORNING, tick=False)
def test_one_client_address_gets_at_most_its_daily_confirmation_emails(client, shop):
    limit = shop.confirmations_per_ip_per_day
    answers = [
        collect(client, shop, email_identify(_new_address(i)), vid=f"visitor{i:025d}").status_code
        for i in range(limit + 1)
    ]
    assert answers == [204] * limit + [429]


@time_machine.travel(MORNING, tick=False)
def test_numbers_and_addresses_share_the_sites_daily_confirmations(client, shop):
    Site.objects.filter(pk=shop.pk).update(confirmations_per_day=2)
    first = collect(client, shop, identify(_new_number(1)), vid="a" * 20, ip="198.51.100.1")
    second = collect(client, shop, email_identify(_new_address(1)), vid="b" * 20, ip="198.51.100.2")
    third = collect(client, shop, email_identify(_new_address(2)), vid="c" * 20, ip="198.51.100.3")
    assert [first.status_code, second.status_code, third.status_code] == [204, 204, 429]
    assert not Contact.objects.filter(email=_new_address(2)).exists()


@time_machine.travel(MORNING, tick=False)
def test_the_limits_never_tell_a_known_address_from_an_unknown_one(client, shop):
    known = _new_address(1)
    server_identify_email(client, shop, email=known)

    def probe(address, vid, ip):
        answers = [collect(client, shop, email_identify(address), vid=vid, ip=ip).status_code]
        for i in range(3):
            fresh = _new_address(10 + i + (0 if address == known else 10))
            answers.append(collect(client, shop, email_identify(fresh), vid=vid, ip=ip).status_code)
        return answers

    assert (
        probe(known, "k" * 32, "198.51.100.1")
        == probe(_new_address(2), "u" * 32, "198.51.100.2")
        == [204, 204, 204, 429]
    )
    assert emails_to(known) == []  # control: the new addresses got theirs
    assert len(emails_to(_new_address(2))) == 1


def test_a_platforms_claimed_email_consent_for_a_consenting_address_ties_nothing(
    client, shop, consenting_address
):
    """A Shopify guest checkout with the customer's address and the box ticked: a claim."""
    from retargeting.platforms.connections import connect
    from tests.optin.test_gate_table import SHOPIFY_CHECKOUT, _sign

    connection = connect(site=shop, platform="shopify", secret="gate-table-secret")
    checkout = {**SHOPIFY_CHECKOUT, "buyer_accepts_marketing": True, "email": CUSTOMER_EMAIL}
    checkout["customer"] = {**SHOPIFY_CHECKOUT["customer"], "id": 999}
    raw = json.dumps(checkout).encode()
    answer = client.post(
        urlsplit(connection.webhook_url).path,
        data=raw,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="checkouts/create",
        HTTP_X_SHOPIFY_HMAC_SHA256=_sign(raw),
    )
    assert answer.status_code == 200
    cart = Cart.objects.get(external_id=SHOPIFY_CHECKOUT["token"])
    assert not VisitorLink.objects.filter(visitor=cart.visitor).exists()
    assert consenting_address.consents.count() == 1 and emails_to(CUSTOMER_EMAIL) == []


def test_a_confirmation_link_forwarded_or_posted_ties_no_browser(client, shop):
    """Token fixation for an email's link: the confirmation link confirms the address (its
    owner's answer) and ties nobody's browser to it, whoever opens it."""
    with time_machine.travel(MORNING, tick=False):
        collect(client, shop, email_identify(CUSTOMER_EMAIL), vid=CUSTOMER_VID)
    (message,) = emails_to(CUSTOMER_EMAIL)
    path = "/o/e/" + message.body.split("/o/e/", 1)[1].split()[0]
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        for _ in range(3):  # posted for others: every follower opens and presses it
            assert client.post(path, HTTP_USER_AGENT="Follower").status_code == 200
            assert collect(client, shop, cart(), vid=ATTACKER_VID).status_code == 204
    contact = Contact.objects.get(email=CUSTOMER_EMAIL)
    assert contact.email_consent_status == ConsentStatus.CONFIRMED
    assert contact.consents.filter(status="confirmed").count() == 1
    assert not VisitorLink.objects.filter(visitor__vid=ATTACKER_VID).exists()
    # Control: the browser that typed the address is hers.
    assert VisitorLink.objects.get(contact=contact).visitor.vid == CUSTOMER_VID


def test_an_email_contacts_token_is_honoured_once(client, shop, consenting_address):
    from optin.tokens import make_token

    with time_machine.travel(MORNING, tick=False):
        token = {"type": "identify", "token": make_token(consenting_address, user_agent="")}
        assert collect(client, shop, token, vid=ATTACKER_VID).status_code == 204
        assert (
            collect(client, shop, token, vid="follower000000000000000000000000").status_code == 204
        )
    # The first browser is hers (the owner's tap); the same token again ties no other.
    assert VisitorLink.objects.get(visitor__vid=ATTACKER_VID).contact == consenting_address
    assert not VisitorLink.objects.filter(visitor__vid="follower000000000000000000000000").exists()


def test_a_strangers_address_typed_with_a_customers_number_never_joins_her_contact(
    client, shop, consenting_customer
):
    """Her number and his own address in one identify: his address stays his own contact, so
    confirming it gives him none of her carts."""
    both = {**identify("06 12 34 56 78"), **email_identify("stranger@example.fr")}
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, both).status_code == 204
    consenting_customer.refresh_from_db()
    assert consenting_customer.email == ""
    his = Contact.objects.get(email="stranger@example.fr")
    assert his.pk != consenting_customer.pk and his.phone == ""
    assert not VisitorLink.objects.filter(contact=consenting_customer, visitor__vid=ATTACKER_VID)
    # Control: a new number with an address joins them in one contact.
    new = {**identify("06 98 76 54 32"), **email_identify("paul@example.fr")}
    with time_machine.travel(MORNING, tick=False):
        assert collect(client, shop, new, vid="p" * 32).status_code == 204
    paul = Contact.objects.get(phone="+33698765432")
    assert (paul.email, paul.consent_status, paul.email_consent_status) == (
        "paul@example.fr",
        "pending",
        "pending",
    )
