"""Every page of the marketer's app (tests/support/dashboard_pages.py's PAGES) in a real
Chromium at a phone's width, in French and in English: nothing scrolls sideways, neither the
page nor a box inside it (a table cut off in a scroll box is as unreadable), and no console
error. A new page is covered as soon as it has its sample.

``SCREENSHOT_DIR=docs/img/dashboard`` keeps a full-page screenshot of each
(tests/support/screens.py).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from retargeting.sites.services import add_member
from tests.factories import SiteFactory
from tests.support.browser import log_in, sideways
from tests.support.dashboard_pages import PAGES, sample_shop
from tests.support.screens import shoot

pytest_plugins = ["tests.support.browser"]
pytestmark = pytest.mark.django_db(transaction=True)

PHONE = 390


def signed_in(page, live_server, site, language):
    user = User.objects.create_user("marketer", password="pass-word-123", is_staff=True)
    add_member(site=site, user=user)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.set_viewport_size({"width": PHONE, "height": 844})
    return log_in(
        page, live_server, username="marketer", password="pass-word-123", then="/dashboard/"
    )


def what_does_not_fit(page, url) -> list[str]:
    page.console_errors.clear()
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    found = [] if response and response.ok else [f"answered {response and response.status}"]
    found += sideways(page)
    found += [f"console: {error}" for error in page.console_errors]
    return found


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_a_phone_without_console_errors(page, live_server, site, name, language):
    shop = sample_shop(site)
    signed_in(page, live_server, site, language)
    found = what_does_not_fit(page, live_server.url + PAGES[name](shop))
    assert page.evaluate("document.documentElement.lang") == language
    shoot(page, f"{name}-{language}", PHONE)
    assert found == []


def test_the_check_sees_a_page_wider_than_a_phone(page, live_server, site):
    """The control: a page made wider than the screen is caught, by name."""
    shop = sample_shop(site)
    signed_in(page, live_server, site, "en")
    page.goto(live_server.url + PAGES["dashboard-install"](shop))
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', "
        "'<div style=\"width: 600px\">wide</div>')"
    )
    assert sideways(page) and sideways(page)[0].startswith("page: ")


def test_the_navigation_fits_a_phone_for_a_member_of_several_shops(page, live_server, site):
    """The shop chooser, the language button and the admin link share the first line; the
    pages wrap below; nothing is wider than the screen, even with long shop names."""
    shop = sample_shop(site)
    signed_in(page, live_server, site, "fr")
    user = User.objects.get(username="marketer")
    other = SiteFactory(name="La Maison des Chaussettes Dépareillées de Bretagne")
    add_member(site=other, user=user)
    page.goto(live_server.url + PAGES["dashboard-install"](shop))
    assert page.locator("nav.top select[name=site] option").count() == 2
    assert sideways(page) == []
    tabs = page.locator("nav.top > a").all()
    end = page.locator("nav.top .end").bounding_box()
    assert end is not None and all(
        (tab.bounding_box() or {"y": 0})["y"] > end["y"] for tab in tabs
    )  # the pages below the shop's line
    assert page.console_errors == []
    shoot(page, "navigation-two-shops", PHONE)
