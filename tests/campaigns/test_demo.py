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
    assert sorted(site.flows.values_list("trigger", flat=True)) == ["cart_abandoned", "welcome"]
    texters = list(site.contacts.exclude(phone=""))
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
    assert all(c.consents.get().text for c in site.contacts.all())
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
