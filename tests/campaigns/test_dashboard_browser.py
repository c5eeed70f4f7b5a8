"""The dashboard in headless Chromium: it lays out at desktop and phone widths, without errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import SendStatus
from retargeting.sites.services import add_member
from tests.factories import SendFactory, StepFactory

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


@pytest.mark.parametrize("width", [1280, 390])
def test_the_dashboard_fits_the_screen_without_console_errors(signed_in, width, tmp_path):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    page.reload()
    assert page.locator("svg.chart").count() == 1
    assert page.inner_text("ol.funnel").count("\n") >= 5
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a {width}px screen"
    page.screenshot(path=str(tmp_path / f"dashboard-{width}.png"), full_page=True)
    assert page.console_errors == []
