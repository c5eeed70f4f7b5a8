from __future__ import annotations

import pytest
from django.utils import timezone

from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.celery import app as celery_app
from tests.factories import CartFactory, ContactFactory, SiteFactory, VisitorLinkFactory
from tests.support.brevo_fixtures import brevo, brevo_accepted  # noqa: F401 - shared fixtures
from tests.support.smtp_fixtures import smtp  # noqa: F401 - shared fixtures
from tests.support.twilio_fixtures import handlers, twilio  # noqa: F401 - shared fixtures

# Tasks enqueued by the code under test run in the test, on its database; the tests of real
# workers send their tasks by name (send_task), which always goes through the broker.
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that drives Chromium (the ``browser`` fixture, or ``page`` built on it) is
    marked ``browser``, so ``make test-fast`` leaves them out without each file saying so."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _marks_connection_closed(django_db_setup, django_db_blocker):
    """The sending's marks connection (kept from batch to batch, as in a worker) is closed
    before the test database is dropped."""
    yield
    from campaigns.sending import close_marks_connection

    with django_db_blocker.unblock():
        close_marks_connection()


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def consenting_contact(site):
    contact = ContactFactory(site=site)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="J'accepte de recevoir des SMS.",
    )
    return contact


@pytest.fixture
def abandoned_cart_of(site):
    """Make an open cart with items, last changed at ``at``, for a visitor linked to ``contact``."""

    def make(contact, *, at=None, **fields):
        link = VisitorLinkFactory(visitor__site=site, contact=contact)
        at = at or timezone.now()
        return CartFactory(visitor=link.visitor, created_at=at, last_change_at=at, **fields)

    return make


@pytest.fixture(autouse=True)
def _no_sms_throttle(settings):
    """Sending tests do not wait on the per-sender rate limit; its own tests turn it on."""
    settings.SMS_DEFAULT_MPS = 0


@pytest.fixture(autouse=True)
def _collector_writes_in_the_request(settings):
    """Tests read what the collector took from the database at once; the buffer's own tests
    (tests/retargeting/test_collector_buffer.py) turn it on."""
    settings.COLLECTOR_BUFFER = False


@pytest.fixture(autouse=True)
def _default_language():
    """A test that activates a language (a French shop's page, a command) leaves none behind:
    the next test on the same worker starts in the default language."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rate-limit counters (the limits store) and the site lookup start empty in every test."""
    from django.core.cache import cache

    from retargeting.sites import lookup
    from retargeting.web.ratelimit import store

    cache.clear()
    store().clear()
    lookup.clear()
    yield
    lookup.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Passwords are hashed with a fast hasher in tests; production keeps Django's default."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def development_mode(settings):
    """``make run``'s development mode (DEBUG on), where the phone simulator and the demo shop
    answer everyone; with DEBUG off they are for operators only (tests/test_trust.py)."""
    settings.DEBUG = True
