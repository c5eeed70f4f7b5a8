"""Every admin page, walked over the admin registry as an operator and as a shop's member: none
answers 500, and records (what the product wrote: visitors, carts and events, sends and their
history, clicks, conversions, consent history, the browsers' links to contacts, messages and
deliveries) can be read but never added, changed or deleted by hand, by anyone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Click, Conversion, Send, SendEvent, ShortLink
from optin.models import Consent, VisitorLink
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.platforms.models import PlatformConnection, PlatformDelivery
from retargeting.sites.services import add_member
from retargeting.tracking.models import Cart, Event, Visitor
from tests.factories import SiteFactory
from tests.support.tenants import rows_of

pytestmark = pytest.mark.django_db
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)
RECORDS = {
    Visitor,
    Cart,
    Event,
    Send,
    ShortLink,
    Click,
    Conversion,
    VisitorLink,
    InboundMessage,
    OutboxMessage,
    PlatformDelivery,
}
# Records shown inside another model's page (a send's history, a contact's consents).
RECORD_INLINES = {SendEvent, Consent}


@pytest.fixture
def world():
    """A shop with a row of every model, its member, and an operator."""
    site = SiteFactory(name="Shop A")
    member = User.objects.create_user("member-a", password="x")
    add_member(site=site, user=member)
    rows = rows_of(site, member=member)
    connection = PlatformConnection.objects.create(
        site=site, platform="shopify", signing_secret="s" * 32, shop_domain="shop.example"
    )
    rows[PlatformConnection] = connection
    rows[PlatformDelivery] = PlatformDelivery.objects.create(
        connection=connection,
        delivery_id="d-1",
        topic="orders/create",
        outcome="ok",
        received_at=timezone.now(),
    )
    rows[User] = member
    rows[Group] = Group.objects.get()
    operator = User.objects.create_superuser("root", password="x")
    return rows, {"operator": operator, "member": member}


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_the_admin_has_a_sample_row(world):
    rows, _ = world
    assert [m for m in REGISTERED if m not in rows] == []
    assert RECORDS <= set(REGISTERED)


@pytest.mark.parametrize("who", ["operator", "member"])
@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_no_admin_page_answers_a_server_error(client, world, who, model):
    rows, users = world
    client.force_login(users[who])
    obj = rows[model]
    for view, args in (
        ("changelist", ()),
        ("add", ()),
        ("change", (obj.pk,)),
        ("history", (obj.pk,)),
        ("delete", (obj.pk,)),
    ):
        response = client.get(_url(model, view, *args))
        assert response.status_code < 500, (view, response.status_code)
    # An empty form posted back: a form error or a refusal, never a 500.
    assert client.post(_url(model, "add"), {}).status_code < 500
    assert client.post(_url(model, "change", obj.pk), {}).status_code < 500


@pytest.mark.parametrize("who", ["operator", "member"])
@pytest.mark.parametrize("model", sorted(RECORDS, key=lambda model: model._meta.label))
def test_records_are_never_added_changed_or_deleted_in_the_admin(client, world, who, model):
    rows, users = world
    client.force_login(users[who])
    obj = rows[model]
    before = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}
    assert client.get(_url(model, "add")).status_code == 403
    assert client.post(_url(model, "add"), {}).status_code == 403
    change = client.get(_url(model, "change", obj.pk))
    if who == "member" and model in (InboundMessage, OutboxMessage, PlatformDelivery):
        # Rows of no shop, or a platform's: operators only.
        assert change.status_code in (403, 404)
    else:
        # Read, not edited: the page shows the record with no field to type in, no save.
        assert change.status_code == 200
        assert not change.context["adminform"].form.fields
        assert b'name="_save"' not in change.content
    posted = {name: str(value) for name, value in before.items() if value is not None}
    assert client.post(_url(model, "change", obj.pk), posted).status_code in (403, 404)
    assert client.get(_url(model, "delete", obj.pk)).status_code in (403, 404)
    assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code in (403, 404)
    changelist = client.post(
        _url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert changelist.status_code in (200, 302, 403)
    obj.refresh_from_db()
    assert {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields} == before


@pytest.mark.parametrize("who", ["operator", "member"])
def test_a_records_history_shown_in_its_page_is_read_only(client, world, who):
    rows, users = world
    client.force_login(users[who])
    for model, inline_model in ((Send, SendEvent), (type(rows[Consent].contact), Consent)):
        page = client.get(_url(model, "change", rows[model].pk))
        assert page.status_code == 200
        formsets = {f.formset.model: f for f in page.context["inline_admin_formsets"]}
        history = formsets[inline_model]
        assert not history.has_add_permission and not history.has_delete_permission
        assert not history.has_change_permission
    assert RECORD_INLINES == {SendEvent, Consent}


def test_a_hand_made_conversion_cannot_be_added_by_a_member_or_an_operator(client, world):
    rows, users = world
    for user in users.values():
        client.force_login(user)
        client.post(
            _url(Conversion, "add"),
            {
                "site": rows[Conversion].site_id,
                "order_id": "forged",
                "total": "10000",
                "currency": "EUR",
                "attribution": "clicked",
                "send": rows[Send].pk,
                "occurred_at_0": "2026-12-07",
                "occurred_at_1": "10:00:00",
            },
        )
    assert not Conversion.objects.filter(order_id="forged").exists()
    assert Conversion.objects.get().total == Decimal("10")


@pytest.mark.parametrize("who", ["operator", "member"])
def test_a_contacts_number_shop_and_confirmation_are_never_typed_in_the_admin(client, world, who):
    rows, users = world
    contact = type(rows[Consent].contact).objects.get(pk=rows[Consent].contact_id)
    before = (contact.site_id, contact.phone, contact.confirmation_code, contact.consent_status)
    other_site = SiteFactory(name="Shop A bis")
    add_member(site=other_site, user=users["member"])
    client.force_login(users[who])
    url = _url(type(contact), "change", contact.pk)
    page = client.get(url)
    for name in ("site", "phone", "confirmation_code", "confirmation_sent_at"):
        assert name not in page.context["adminform"].form.fields, name
    response = client.post(
        url,
        {
            "site": other_site.pk,
            "phone": "+33699999999",
            "confirmation_code": "Typed12345",
            "first_name": "Léa",
            "region": contact.region,
            "consents-TOTAL_FORMS": 1,
            "consents-INITIAL_FORMS": 1,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact.refresh_from_db()
    assert (
        contact.site_id,
        contact.phone,
        contact.confirmation_code,
        contact.consent_status,
    ) == before
    assert contact.first_name == "Léa"  # control: the name is the shop's to correct
