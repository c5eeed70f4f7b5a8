"""Every admin page keeps a marketer to their own sites: generated over the admin registry, so
a model registered tomorrow is covered (or fails here until it has a sample row)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from campaigns.models import Flow, Send, Step
from retargeting.sites.models import Site
from retargeting.sites.scoped_admin import SiteScopedAdmin, SiteScopedInline
from retargeting.sites.services import add_member
from tests.factories import SiteFactory
from tests.support.admin_forms import change_form_data
from tests.support.tenants import rows_of

pytestmark = pytest.mark.django_db
OUR_APPS = {"sites", "tracking", "gateways", "optin", "campaigns"}
REGISTERED = sorted(
    (model for model in admin.site._registry if model._meta.app_label in OUR_APPS),
    key=lambda model: model._meta.label,
)


@pytest.fixture
def world(client):
    """Sites A and B with a row of everything; the client is logged in as A's marketer."""
    site_a, site_b = SiteFactory(name="Shop A"), SiteFactory(name="Shop B")
    marketer = User.objects.create_user("marketer-a", password="x")
    add_member(site=site_a, user=marketer)
    other = User.objects.create_user("marketer-b", password="x")
    rows_a, rows_b = rows_of(site_a, member=marketer), rows_of(site_b, member=other)
    client.force_login(marketer)
    return rows_a, rows_b


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_admin_and_inline_of_relance_is_scoped():
    assert REGISTERED, "no model of ours in the admin?"
    for model in REGISTERED:
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, SiteScopedAdmin), model
        for inline in model_admin.inlines:
            assert issubclass(inline, SiteScopedInline), inline


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_a_marketer_sees_only_their_sites_rows(client, world, model):
    rows_a, rows_b = world
    assert model in rows_a and model in rows_b, f"add a sample {model.__name__} to rows_of()"
    own, foreign = rows_a[model], rows_b[model]
    changelist = client.get(_url(model, "changelist"))
    if getattr(model, "site_path", None) is None:
        # Rows of no site (the provider's raw messages) are for the platform's operators.
        assert changelist.status_code == 403
        assert client.get(_url(model, "change", own.pk)).status_code in (403, 404)
        return
    assert changelist.status_code == 200
    listed = set(changelist.context["cl"].queryset.values_list("pk", flat=True))
    assert own.pk in listed and foreign.pk not in listed
    assert client.get(_url(model, "change", own.pk)).status_code == 200
    for view in ("change", "delete", "history"):
        assert client.get(_url(model, view, foreign.pk)).status_code == 404, view
    assert client.post(_url(model, "delete", foreign.pk), {"post": "yes"}).status_code == 404
    assert type(foreign).objects.filter(pk=foreign.pk).exists()


def test_a_marketer_cannot_pick_another_sites_rows_in_a_form(client, world):
    _, rows_b = world
    site_b, flow_model = rows_b[Site], Flow
    response = client.post(
        _url(flow_model, "add"),
        {
            "site": site_b.pk,
            "name": "Intruder",
            "slug": "intruder",
            "trigger": "cart_abandoned",
            "holdout_percent": 0,
            "min_cart_total": "",
            "max_segments": 3,
            "steps-TOTAL_FORMS": 0,
            "steps-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "site" in response.context["adminform"].form.errors
    assert not flow_model.objects.filter(name="Intruder").exists()
    page = client.get(_url(flow_model, "add")).content.decode()
    assert "Shop A" in page and "Shop B" not in page


def test_the_site_filter_lists_only_the_users_sites(client, world):
    rows_a, _ = world
    send_model = Send
    page = client.get(_url(send_model, "changelist")).content.decode()
    assert "Shop A" in page and "Shop B" not in page
    other = rows_a[send_model].site_id + 1
    filtered = client.get(_url(send_model, "changelist") + f"?site={other}")
    assert filtered.status_code == 200 and list(filtered.context["cl"].queryset) == []


def test_step_code_import_of_another_site_is_a_404(client, world):
    _, rows_b = world
    step = rows_b[Step]
    assert client.get(reverse("admin:campaigns_step_codes", args=[step.pk])).status_code == 404


def test_contact_import_offers_only_the_users_sites(client, world):
    page = client.get(reverse("admin:optin_contact_import")).content.decode()
    assert "Shop A" in page and "Shop B" not in page


def test_marketers_cannot_create_sites_or_edit_members(client, world):
    rows_a, _ = world
    site_model = Site
    assert client.get(_url(site_model, "add")).status_code == 403
    page = client.get(_url(site_model, "change", rows_a[site_model].pk)).content.decode()
    assert "marketer-a" in page and 'name="memberships-0-user"' not in page


def test_a_superuser_sees_every_sites_rows(client, world):
    rows_a, rows_b = world
    client.force_login(User.objects.create_superuser("root", password="x"))
    for model in REGISTERED:
        listed = set(
            client.get(_url(model, "changelist"))
            .context["cl"]
            .queryset.values_list("pk", flat=True)
        )
        assert {rows_a[model].pk, rows_b[model].pk} <= listed, model


# What widens what a stranger's page may make a shop spend: operators only.
SPENDING = {
    "country": "BE",
    "enrol_countries": '["FR", "BE", "DE", "GB"]',
    "double_opt_in": None,  # unticked: off
    "confirmations_per_day": "100000",
    "confirmations_per_ip_per_day": "500",
    "confirmations_per_visitor_per_day": "300",
}


def _post_spending(client, site):
    url = _url(Site, "change", site.pk)
    data = change_form_data(client.get(url))
    for name, value in SPENDING.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    data["stale_after_hours"] = "24"  # the member's own setting, the control
    return client.post(url, data)


def _spending(site):
    site.refresh_from_db()
    return (
        site.country,
        site.enrol_countries,
        site.double_opt_in,
        site.confirmations_per_day,
        site.confirmations_per_ip_per_day,
        site.confirmations_per_visitor_per_day,
    )


def test_a_member_cannot_widen_what_strangers_may_make_the_shop_spend(client, world):
    rows_a, _ = world
    site = rows_a[Site]
    before = _spending(site)
    assert before[:3] == ("FR", [], True)
    response = _post_spending(client, site)
    assert response.status_code in (302, 403)
    assert _spending(site) == before
    page = client.get(_url(Site, "change", site.pk)).content.decode()
    for name in SPENDING:
        assert f'name="{name}"' not in page, name  # shown read-only
    # Control: the member's own setting is saved.
    assert response.status_code == 302 and site.stale_after_hours == 24


def test_an_operator_may_widen_what_strangers_may_make_the_shop_spend(client, world):
    rows_a, _ = world
    site = rows_a[Site]
    client.force_login(User.objects.create_superuser("root", password="x"))
    response = _post_spending(client, site)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert _spending(site) == ("BE", ["FR", "BE", "DE", "GB"], False, 100000, 500, 300)
