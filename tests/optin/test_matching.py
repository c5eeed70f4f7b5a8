"""Matching visitors to contacts, and consent arriving with identify events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from optin.confirmation import send_confirmation
from optin.consent import record_consent
from optin.gate import Proof, identify
from optin.matching import link_visitor
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from optin.tokens import contact_for_token, make_token
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import create_site
from tests.factories import ContactFactory, SiteFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)  # receivers run on commit, as in production
VID = "0123456789abcdef0123456789abcdef"
CONSENT = {"granted": True, "text": "J'accepte les SMS de la boutique", "source": "checkout"}


@pytest.fixture
def shop():
    return create_site(name="Boutique", domains=["shop.example"], country="FR")


def snippet_identify(client, site, phone="06 12 34 56 78", vid=VID, **headers):
    event = {"type": "identify", "phone": phone, "consent": CONSENT}
    return client.post(
        "/t/e",
        data=json.dumps({"site": site.public_key, "vid": vid, "events": [event]}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
        **headers,
    )


def server_identify(client, created, phone="+33612345678", vid=VID):
    return client.post(
        "/api/v1/identify",
        data=json.dumps({"phone": phone, "vid": vid, "consent": CONSENT}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {created.secret_key}",
    )


def test_the_snippet_starts_a_double_opt_in_and_sends_the_confirmation(client, shop):
    assert snippet_identify(client, shop.site, HTTP_USER_AGENT="Mozilla/5.0").status_code == 204
    contact = Contact.objects.get()
    assert (contact.phone, contact.consent_status) == ("+33612345678", "pending")
    consent = contact.consents.get()
    assert (consent.source, consent.text, consent.user_agent) == (
        "snippet",
        CONSENT["text"],
        "Mozilla/5.0",
    )
    confirmation = OutboxMessage.objects.get()
    assert confirmation.to == "+33612345678" and "OUI" in confirmation.body
    assert VisitorLink.objects.get().contact == contact
    contact.refresh_from_db()
    assert contact.confirmation_sent_at is not None


def test_a_site_without_double_opt_in_takes_the_snippets_consent_at_once(client, shop):
    shop.site.double_opt_in = False
    shop.site.save()
    snippet_identify(client, shop.site)
    assert Contact.objects.get().consent_status == "granted"
    assert not OutboxMessage.objects.exists()


def test_the_shop_servers_consent_is_immediate(client, shop):
    assert server_identify(client, shop).status_code == 200
    contact = Contact.objects.get()
    assert contact.consent_status == "granted"
    assert contact.consents.get().source == "server_api"
    assert VisitorLink.objects.get().method == "server"
    assert not OutboxMessage.objects.exists()


def test_consent_already_live_is_not_recorded_again(client, shop):
    server_identify(client, shop)
    server_identify(client, shop)
    snippet_identify(client, shop.site)
    assert Contact.objects.get().consents.count() == 1


def test_a_number_gets_at_most_three_confirmations_a_day(client, shop):
    snippet_identify(client, shop.site)
    contact = Contact.objects.get(phone="+33612345678")
    for _ in range(4):  # a confirmation the provider lost, asked again by the next passes
        Contact.objects.filter(pk=contact.pk).update(confirmation_sent_at=None)
        send_confirmation(contact_id=contact.pk)
    assert OutboxMessage.objects.count() == 3


def test_typing_a_pending_number_again_elsewhere_links_nothing_and_sends_nothing(client, shop):
    snippet_identify(client, shop.site)
    snippet_identify(client, shop.site, vid="f" * 32)
    assert OutboxMessage.objects.count() == 1
    assert list(VisitorLink.objects.values_list("visitor__vid", flat=True)) == [VID]


def test_the_server_relinks_a_visitor_the_latest_identification_wins(shop):
    site = shop.site
    visitor = VisitorFactory(site=site)
    first, second = ContactFactory(site=site), ContactFactory(site=site)
    assert link_visitor(visitor=visitor, contact=first, method="server")
    assert link_visitor(visitor=visitor, contact=second, method="server")
    assert VisitorLink.objects.get(visitor=visitor).contact == second


@pytest.mark.parametrize("method", ["snippet", "token"])
def test_a_visitor_linked_by_the_server_is_never_taken_by_the_snippet_or_a_token(shop, method):
    visitor = VisitorFactory(site=shop.site)
    owner, other = ContactFactory(site=shop.site), ContactFactory(site=shop.site)
    link_visitor(visitor=visitor, contact=owner, method="server")
    assert not link_visitor(visitor=visitor, contact=other, method=method)
    assert VisitorLink.objects.get(visitor=visitor).contact == owner


def test_an_unauthenticated_identify_never_steals_a_linked_visitor(shop):
    visitor = VisitorFactory(site=shop.site)
    owner, other = ContactFactory(site=shop.site), ContactFactory(site=shop.site)
    link_visitor(visitor=visitor, contact=owner, method="snippet")
    assert not link_visitor(visitor=visitor, contact=other, method="snippet")
    assert VisitorLink.objects.get(visitor=visitor).contact == owner


def test_a_token_moves_a_visitor_the_snippet_linked(shop):
    visitor = VisitorFactory(site=shop.site)
    typed, clicked = ContactFactory(site=shop.site), ContactFactory(site=shop.site)
    link_visitor(visitor=visitor, contact=typed, method="snippet")
    assert link_visitor(visitor=visitor, contact=clicked, method="token")
    assert VisitorLink.objects.get(visitor=visitor).method == "token"


def test_one_contact_owns_many_visitors_a_phone_and_a_laptop(client, shop):
    server_identify(client, shop, vid="a" * 32)
    contact = Contact.objects.get()
    laptop = VisitorFactory(site=shop.site, vid="b" * 32)
    identify(
        site=shop.site,
        visitor=laptop,
        event={"type": "identify", "token": make_token(contact, user_agent="")},
        proof=Proof.CLAIM,
    )
    assert set(contact.visitor_links.values_list("visitor__vid", flat=True)) == {"a" * 32, "b" * 32}


def test_a_concurrent_link_is_settled_by_the_database(shop, monkeypatch):
    visitor = VisitorFactory(site=shop.site)
    first, second = ContactFactory(site=shop.site), ContactFactory(site=shop.site)
    real_filter = VisitorLink.objects.filter

    def racing_filter(*args, **kwargs):
        # Another request links the visitor between our read and our insert.
        result = real_filter(*args, **kwargs)
        if not VisitorLink.objects.all().exists() and kwargs.get("visitor") == visitor:
            VisitorLink.objects.create(
                visitor=visitor, contact=first, method="snippet", linked_at=timezone.now()
            )
            return real_filter(pk=-1)
        return result

    monkeypatch.setattr(VisitorLink.objects, "filter", racing_filter)
    assert not link_visitor(visitor=visitor, contact=second, method="snippet")
    assert VisitorLink.objects.count() == 1
    assert VisitorLink.objects.get().contact == first


class Read:
    """A query's result as it was read, before another request changed the row."""

    def __init__(self, row):
        self.row = row

    def first(self):
        return self.row


def test_a_link_replaced_meanwhile_by_the_shops_server_is_judged_again(shop, monkeypatch):
    """A browser's identify reads a token's link it may replace; before it writes, the shop's
    server links the browser to someone else: the server's link stands."""
    visitor = VisitorFactory(site=shop.site)
    poster, follower, customer = (ContactFactory(site=shop.site) for _ in range(3))
    link = VisitorLink.objects.create(
        visitor=visitor, contact=poster, method="token", linked_at=timezone.now()
    )
    real_filter = VisitorLink.objects.filter
    raced = []

    def racing_filter(*args, **kwargs):
        result = real_filter(*args, **kwargs)
        if not raced and kwargs.get("visitor") == visitor:
            raced.append(True)
            stale = result.first()  # what this request read, as it read it
            real_filter(pk=link.pk).update(contact=customer, method="server")
            return Read(stale)
        return result

    monkeypatch.setattr(VisitorLink.objects, "filter", racing_filter)
    assert not link_visitor(visitor=visitor, contact=follower, method="snippet")
    assert (VisitorLink.objects.get().contact, VisitorLink.objects.get().method) == (
        customer,
        "server",
    )
    # Control: with nothing changed meanwhile, the browser's own identify replaces the token's.
    monkeypatch.undo()
    other = VisitorFactory(site=shop.site)
    VisitorLink.objects.create(
        visitor=other, contact=poster, method="token", linked_at=timezone.now()
    )
    assert link_visitor(visitor=other, contact=follower, method="snippet")
    assert VisitorLink.objects.get(visitor=other).contact == follower


def test_tokens_are_bound_to_their_site_and_browser_expire_and_work_once(shop):
    contact = ContactFactory(site=shop.site)
    token = make_token(contact, user_agent="Firefox")
    assert contact_for_token(token, site=SiteFactory(), user_agent="Firefox") is None
    assert contact_for_token(token, site=shop.site, user_agent="Chrome") is None
    assert (
        contact_for_token(
            token[:-1] + ("A" if token[-1] != "A" else "B"), site=shop.site, user_agent="Firefox"
        )
        is None
    )
    assert contact_for_token("garbage", site=shop.site, user_agent="Firefox") is None
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert contact_for_token(token, site=shop.site, user_agent="Firefox") is None
    # None of the refusals spent it: its browser uses it, once.
    assert contact_for_token(token, site=shop.site, user_agent="Firefox") == contact
    assert contact_for_token(token, site=shop.site, user_agent="Firefox") is None


def test_a_token_sent_by_the_snippet_links_the_browser(client, shop):
    contact = ContactFactory(site=shop.site)
    response = client.post(
        "/t/e",
        data=json.dumps(
            {
                "site": shop.site.public_key,
                "vid": VID,
                "events": [{"type": "identify", "token": make_token(contact, user_agent="")}],
            }
        ),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code == 204
    assert VisitorLink.objects.get().contact == contact


def test_a_tampered_token_links_nothing(client, shop):
    contact = ContactFactory(site=shop.site)
    token = make_token(contact, user_agent="").replace(str(contact.pk), str(contact.pk + 1), 1)
    client.post(
        "/t/e",
        data=json.dumps(
            {
                "site": shop.site.public_key,
                "vid": VID,
                "events": [{"type": "identify", "token": token}],
            }
        ),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )
    assert not VisitorLink.objects.exists()


def test_a_first_name_typed_without_consent_is_never_the_one_the_owner_confirms(client, shop):
    """A stranger types the number and a first name of his choosing, consenting to nothing;
    the owner later consents with her own name (or none) and confirms: her SMS carry hers."""
    site = shop.site
    for name, confirmed in (("Marie", "Marie"), ("", "")):
        phone = "06 12 34 56 78" if name else "06 98 76 54 32"
        stranger = {"type": "identify", "phone": phone, "first_name": "Payez ici"}
        identify(site=site, visitor=None, event=stranger, proof=Proof.CLAIM)
        owner = {"type": "identify", "phone": phone, "first_name": name, "consent": CONSENT}
        contact = identify(site=site, visitor=None, event=owner, proof=Proof.CLAIM)
        assert contact is not None and contact.consent_status == "pending"
        record_consent(
            contact=contact, status=ConsentStatus.CONFIRMED, source=ConsentSource.KEYWORD
        )
        assert Contact.objects.get(pk=contact.pk).first_name == confirmed
