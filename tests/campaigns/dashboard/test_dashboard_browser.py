"""The dashboard in headless Chromium: it lays out at desktop and phone widths, without errors."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import Flow, SendStatus
from retargeting.sites.services import add_member
from retargeting.tracking.models import Event, Refusal
from tests.factories import SendFactory, StepFactory
from tests.support.browser import sideways

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.browser"]


@pytest.fixture
def signed_in(page, live_server, site):
    user = User.objects.create_user("marketer", password="pass-word-123", is_staff=True)
    add_member(site=site, user=user)
    step = StepFactory(flow__site=site)
    for _ in range(3):
        SendFactory(
            step=step,
            cart__visitor__site=site,
            cart__last_change_at=timezone.now() - timedelta(days=1),
            status=SendStatus.DELIVERED,
            sent_at=timezone.now() - timedelta(hours=20),
        )
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    return page


def _fits_and_shoot(page, name, width, folder):
    """No horizontal overflow at ``width``, no console error; a full-page screenshot kept in
    ``folder`` (``SCREENSHOT_DIR`` when set, to look at them)."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
    folder = Path(os.environ.get("SCREENSHOT_DIR") or folder)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000
    assert page.console_errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_dashboard_fits_the_screen_without_console_errors(signed_in, width, tmp_path):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    page.reload()
    assert page.locator("svg.chart").count() == 3  # one small chart per measure
    assert page.inner_text("ol.funnel").count("\n") >= 5
    _fits_and_shoot(page, "dashboard", width, tmp_path)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_flow_editor_previews_as_one_types(signed_in, live_server, site, width, tmp_path):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    flow = Flow.objects.get(site=site)
    flow.transliterate = False
    flow.save()
    page.goto(f"{live_server.url}/admin/campaigns/flow/{flow.pk}/change/")
    page.wait_for_selector(".relance-preview .relance-sms")
    assert "1 segment" in page.inner_text(".relance-facts")
    # The mention that works for the shop's sender (the simulator's receive replies).
    assert "STOP" in page.inner_text(".relance-mention")
    page.fill("textarea[name='steps-0-template']", "Marie, votre panier 🎁 {{ link }} STOP")
    page.wait_for_selector(".relance-sms mark")
    assert page.inner_text(".relance-sms mark") == "🎁"
    assert "UCS-2" in page.inner_text(".relance-facts")
    assert "🎁" in page.inner_text(".relance-advice")
    page.fill("textarea[name='steps-0-template']", "Bonjour {{ password }}")
    page.wait_for_selector(".relance-preview .errorlist li")
    assert "password" in page.inner_text(".relance-preview .errorlist")
    page.fill("textarea[name='steps-0-template']", "Votre panier {{ link }} STOP")
    page.wait_for_selector(".relance-preview .relance-sms")
    _fits_and_shoot(page, "flow-editor", width, tmp_path)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_installation_page_shows_events_as_they_arrive(
    signed_in, live_server, site, width, tmp_path
):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/dashboard/install/?site={site.pk}")
    assert site.public_key in page.inner_text("#tag")
    assert page.locator("#live-events tbody tr").count() == 0
    Event.objects.create(
        site=site,
        type="page_view",
        received_at=timezone.now(),
        payload={"type": "page_view", "url": "https://shop.example/chemises"},
    )
    page.wait_for_selector("#live-events tbody tr", timeout=15_000)
    assert "shop.example/chemises" in page.inner_text("#live-events")
    # Each cell that arrives names its column: on a phone the row is a card that says so.
    labels = page.eval_on_selector_all(
        "#live-events tbody td", "cells => cells.map(c => c.dataset.label)"
    )
    assert labels[:2] == ["Quand", "Événement"]  # the marketer's shop is French
    assert sideways(page) == []
    _fits_and_shoot(page, "installation", width, tmp_path)


def test_the_installation_page_shows_a_refused_identify_as_it_arrives(signed_in, live_server, site):
    page = signed_in
    page.goto(f"{live_server.url}/dashboard/install/?site={site.pk}")
    assert page.locator("#live-events tbody tr").count() == 0
    Refusal.objects.create(
        site=site,
        type="identify",
        reason="events[0].phone: expected a mobile number ('01 23 45 •• ••' is not a mobile "
        "number, so it cannot receive SMS.)",
        received_at=timezone.now(),
    )
    page.wait_for_selector("#live-events tbody tr", timeout=15_000)
    cells = page.locator("#live-events tbody tr td").all_inner_texts()
    assert cells[1] == "Identification"  # its type in the page's language
    assert cells[4].startswith("Refusé : ") and "'01 23 45 •• ••' is not a mobile" in cells[4]
    assert page.console_errors == []


def test_no_page_of_the_dashboard_or_the_admin_breaks_its_content_security_policy(
    signed_in, live_server, site
):
    page = signed_in
    page.add_init_script(
        """window.violations = [];
        document.addEventListener("securitypolicyviolation",
          (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));"""
    )
    flow = Flow.objects.get(site=site)
    paths = [
        "/dashboard/",
        "/dashboard/sends/",
        f"/dashboard/install/?site={site.pk}",
        f"/admin/campaigns/flow/{flow.pk}/change/",
        "/admin/",
    ]
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.violations") == [], path
    # The listener does see a violation, so the checks above can fail.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = '1'; "
        "document.body.appendChild(s); }"
    )
    page.wait_for_function("window.violations.length > 0")
    assert page.console_errors  # Chromium reports it as a console error too
    page.console_errors.clear()


@pytest.mark.parametrize("width", [1280, 390])
def test_an_owner_sees_the_platforms_webhook_address(page, live_server, site, width, tmp_path):
    from retargeting.platforms.connections import connect
    from retargeting.sites.models import Membership

    connection = connect(site=site, platform="shopify", secret="shpss_0123456789")
    user = User.objects.create_user("owner", password="pass-word-123", is_staff=True)
    add_member(site=site, user=user, role=Membership.Role.OWNER)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/install/?site={site.pk}")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#platforms")
    assert connection.webhook_url in page.inner_text("#platforms")
    page.locator("#platforms").scroll_into_view_if_needed()
    _fits_and_shoot(page, "installation-platforms", width, tmp_path)


def test_the_overview_at_390_px_scrolls_nowhere_and_its_charts_read(signed_in):
    page = signed_in
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    assert sideways(page) == []
    # Labels of the charts are at least 11 px on the phone.
    smallest = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll(
            '.small-chart text.x-tick, .small-chart text.y-tick')]
            .map(t => t.getBoundingClientRect().height))"""
    )
    assert smallest >= 11, smallest
    # A day's value shows on keyboard focus (and not before).
    point = page.locator(".small-chart[data-measure=sent] .point").last
    tip = point.locator("text.tip")
    assert not tip.is_visible()
    point.focus()
    assert tip.is_visible() and " : " in (tip.text_content() or "")
    # The per-step table is a list of cards, its cells labelled.
    assert page.locator("#steps td[data-label]").first.is_visible()
