"""The contact token in real browsers: the tap on ``/s/CODE``, the demo shop's snippet sending
the token back, and the same landing URL opened in other browsers."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, VisitorLink
from retargeting.demoshop.views import DEMO_SITE_NAME
from retargeting.sites.models import Site
from retargeting.tracking.models import Event
from tests.factories import ContactFactory, SendFactory, StepFactory
from tests.support.processes import wait_for

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile"


@pytest.fixture
def link(live_server, development_mode):
    call_command("demo", stdout=StringIO())
    site = Site.objects.get(name=DEMO_SITE_NAME)
    contact = ContactFactory(site=site, phone="+33612345678")
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
    now = timezone.now()
    send = SendFactory(
        cart__visitor__site=site,
        step=StepFactory(flow__site=site),
        contact=contact,
        status=SendStatus.SENT,
        sent_at=now,
    )
    return ShortLink.objects.create(
        send=send,
        code="Tok3nLink0",
        target_url=f"{live_server.url}/demo/shop/panier/?restore=1",
        created_at=now,
        expires_at=now + timedelta(days=30),
    )


def _identifies():
    return Event.objects.filter(type="identify").count()


def _open(browser, url, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    response = page.goto(url)
    # The demo shop waits for cookie consent (a French shop): its banner's yes.
    page.click("#cookies button[data-choice='yes']")
    return context, page, response


def test_only_the_tapping_browser_is_linked_by_a_posted_landing_url(browser, live_server, link):
    tapper, page, landing = _open(browser, f"{live_server.url}/s/{link.code}")
    tap = landing.request.redirected_from
    assert tap is not None and "/s/" in tap.url
    posted = tap.response().headers["location"]  # the landing URL, with the token
    assert "_rl=" in posted
    mine = VisitorLink.objects.filter(contact=link.send.contact)
    assert wait_for(lambda: mine.exists(), timeout=15, interval=0.2)
    tappers_vid = page.evaluate("document.cookie")
    tapper.close()
    # Two followers open the posted URL: another phone, and a browser like the tapper's.
    for options in ({"user_agent": ANDROID}, {}):
        before = _identifies()
        context, _, _ = _open(browser, posted, **options)
        # Its snippet sent the token (stored as any identify), and nothing was linked.
        assert wait_for(lambda before=before: _identifies() > before, timeout=15, interval=0.2)
        context.close()
    # Control: the tapper's browser is the contact's, and no other is.
    ((vid, method),) = mine.values_list("visitor__vid", "method")
    assert method == "token" and vid in tappers_vid
