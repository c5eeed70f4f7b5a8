from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from campaigns.models import Flow
from optin.consent import is_live
from optin.models import Contact
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "sites": Site.objects.count(),
        "flows": Flow.objects.count(),
        "contacts": Contact.objects.count(),
        "carts": Cart.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_demo_loads_a_site_a_flow_consenting_contacts_and_a_marketer():
    out = StringIO()
    call_command("demo", stdout=out)
    site = Site.objects.get()
    assert sorted(site.flows.values_list("trigger", flat=True)) == sorted(
        [
            "cart_abandoned",
            "welcome",
            "browse_abandoned",
            "back_in_stock",
            "order_confirmation",
            "shipping_update",
            "review_request",
        ]
    )
    # Those who subscribed; the demo's buyer gave his number with his order only.
    texters = list(site.contacts.exclude(phone="").exclude(consent_status="none"))
    assert len(texters) >= 3 and all(is_live(status=c.consent_status) for c in texters)
    # One gave an email address and email consent only: her reminder is an email.
    emailed = site.contacts.get(phone="")
    assert is_live(status=emailed.email_consent_status) and emailed.consent_status == "none"
    assert site.flows.get(trigger="cart_abandoned").steps.get().channel == "sms_else_email"
    # Its contacts subscribed before the welcome flow: the existing list is not welcomed.
    from campaigns.dispatch import run_pass

    run_pass()
    assert site.sends.exists()  # control: the demo's carts are reminded
    assert not site.sends.filter(step__flow__trigger="welcome").exists()
    assert all(
        c.consents.get().text for c in site.contacts.exclude(consent_status="none", phone__gt="")
    )
    user = get_user_model().objects.get(username="demo")
    assert user.memberships.get().site == site
    assert "demo login: demo / relance-demo" in out.getvalue()
    assert "shown once" in out.getvalue()


def test_demo_is_idempotent():
    call_command("demo", stdout=StringIO())
    before = counts()
    out = StringIO()
    call_command("demo", stdout=out)
    assert counts() == before
    assert "already loaded" in out.getvalue()
    assert "shown once" not in out.getvalue()


def test_the_demo_marketer_can_log_in_to_the_admin(client):
    call_command("demo", stdout=StringIO())
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "demo", "password": "relance-demo"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/campaigns/flow/").status_code == 200


@override_settings(SMS_BACKEND="twilio")
def test_demo_refuses_to_run_with_a_real_sms_provider():
    with pytest.raises(CommandError, match="SMS_BACKEND=outbox"):
        call_command("demo", stdout=StringIO())
    assert counts()["sites"] == 0


def _texts(phone: str) -> list[str]:
    from retargeting.gateways.models import OutboxMessage

    return list(
        OutboxMessage.objects.filter(to=phone).order_by("pk").values_list("body", flat=True)
    )


def test_the_demo_shows_each_journey_within_a_pass(admin_client):
    """The issue's "done means": on the demo, a product viewed and left brings a browse
    reminder linking to it; a paid then shipped order its two transactional messages (to a
    buyer without marketing consent); a restock from the shop one alert, once."""
    from campaigns.dispatch import run_pass
    from campaigns.links import destination
    from campaigns.models import Send, SendStatus, ShortLink

    call_command("demo", stdout=StringIO())
    site = Site.objects.get()
    run_pass(deliver_inline=True)
    browse = Send.objects.get(step__flow__trigger="browse_abandoned")
    # The phone simulator reports each message delivered, as a provider's webhook would.
    assert browse.status == SendStatus.DELIVERED and browse.contact.first_name == "Chloé"
    link = ShortLink.objects.get(send=browse)
    assert "/demo/shop/p/SA-03/" in destination(link, with_token=False)
    assert "Sac en toile" in browse.body
    hugo = Contact.objects.get(site=site, first_name="Hugo")
    assert hugo.consent_status == "none"  # transactional: no marketing consent
    order_texts = _texts(hugo.phone)
    assert len(order_texts) == 2 and "D-1001" in order_texts[0] and "D-1001" in order_texts[1]
    # No alert before the restock (control), one after, none more after a second one.
    lucas = Contact.objects.get(site=site, first_name="Lucas")
    before = len(_texts(lucas.phone))
    assert not Send.objects.filter(step__flow__trigger="back_in_stock").exists()
    page = admin_client.get("/demo/shop/p/FO-11/")
    assert "Remettre en stock" in page.content.decode()
    assert admin_client.post("/demo/shop/p/FO-11/stock/", {"available": "1"}).status_code == 302
    assert "Ajouter au panier" in admin_client.get("/demo/shop/p/FO-11/").content.decode()
    run_pass(deliver_inline=True)
    alerts = _texts(lucas.phone)[before:]
    assert len(alerts) == 1 and "Foulard" in alerts[0]
    admin_client.post("/demo/shop/p/FO-11/stock/", {"available": "0"})
    admin_client.post("/demo/shop/p/FO-11/stock/", {"available": "1"})
    run_pass(deliver_inline=True)
    assert len(_texts(lucas.phone)) == before + 1


def test_the_demos_cart_reminder_gives_its_cart_to_whichever_phone_opens_it(client):
    """Marie's reminder, tapped on a phone that never saw her cart: the landing page is given
    her cart's items (the demo shop's restore call rebuilds it), and nothing of hers else."""
    from urllib.parse import parse_qs, urlsplit

    from campaigns.dispatch import run_pass
    from campaigns.models import Send, ShortLink

    call_command("demo", stdout=StringIO())
    site = Site.objects.get()
    run_pass(deliver_inline=True)
    marie = Contact.objects.get(site=site, first_name="Marie")
    link = ShortLink.objects.get(send__in=Send.objects.filter(contact=marie, cart__isnull=False))
    landing = client.get(f"/s/{link.code}", HTTP_USER_AGENT="Mozilla/5.0 (Android) Mobile")
    target = urlsplit(landing["Location"])
    assert target.path == "/demo/shop/panier/"
    token = parse_qs(target.query)["_rc"][0]
    answer = client.get("/t/cart", {"site": site.public_key, "token": token})
    assert answer.status_code == 200
    cart = answer.json()["cart"]
    assert [(i["sku"], i["quantity"]) for i in cart["items"]] == [("CH-01", 2)]
    assert cart["total"] == 59.9 and marie.phone not in answer.content.decode()
    # Control: another shop's key gives nothing for it.
    other = Site.objects.create(name="Other", country="FR", allowed_domains=["other.example"])
    assert client.get("/t/cart", {"site": other.public_key, "token": token}).status_code == 404
