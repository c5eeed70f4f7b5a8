"""The admin at a phone's width, in a real Chromium: the flow editor and the changelists of
flows, contacts and sends never scroll sideways as a page. A changelist's table of results may
scroll inside its own box (Django's admin puts it in one; its columns are the operator's choice,
each one sortable, and a list of cards would lose the sorting and the bulk actions): that box
is the only thing allowed to scroll, and only there."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from retargeting.sites.services import add_member
from tests.support.browser import log_in, sideways
from tests.support.dashboard_pages import sample_shop
from tests.support.screens import shoot

pytest_plugins = ["tests.support.browser"]
pytestmark = pytest.mark.django_db(transaction=True)

PHONE = 390
# Django admin's own scroll box around a changelist's table of results.
RESULTS = "div.results"  # as tests/support/browser.py's sideways() names it


def signed_in(page, live_server, site, language):
    user = User.objects.create_user("marketer", password="pass-word-123", is_staff=True)
    add_member(site=site, user=user)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.set_viewport_size({"width": PHONE, "height": 844})
    return log_in(page, live_server, username="marketer", password="pass-word-123", then="/admin/")


def admin_pages(shop):
    return {
        "flow-editor": reverse("admin:campaigns_flow_change", args=[shop.flow.pk]),
        "flows": reverse("admin:campaigns_flow_changelist"),
        "contacts": reverse("admin:optin_contact_changelist"),
        "sends": reverse("admin:campaigns_send_changelist"),
    }


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_admins_pages_a_marketer_uses_fit_a_phone(page, live_server, site, language):
    shop = sample_shop(site)
    signed_in(page, live_server, site, language)
    failures = {}
    for name, path in admin_pages(shop).items():
        page.console_errors.clear()
        response = page.goto(live_server.url + path)
        assert response and response.ok, name
        found = [where for where in sideways(page) if not where.startswith(RESULTS + ":")]
        found += [f"console: {error}" for error in page.console_errors]
        if found:
            failures[name] = found
        shoot(page, f"admin-{name}-{language}", PHONE)
    assert failures == {}


def test_only_the_results_box_is_let_scroll_and_the_page_never(page, live_server, site):
    """The control: the contacts' table is wider than a phone, and it is its box that
    scrolls (the exception above), not the page; a page made wider is caught."""
    shop = sample_shop(site)
    signed_in(page, live_server, site, "en")
    page.goto(live_server.url + admin_pages(shop)["contacts"])
    found = sideways(page)
    assert [where.split(":")[0] for where in found] == [RESULTS]
    page.evaluate(
        "document.querySelector('#content').insertAdjacentHTML('beforeend', "
        "'<div style=\"width: 700px\">wide</div>')"
    )
    assert sideways(page)[0].startswith("page: ")
