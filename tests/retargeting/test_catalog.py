"""The stock service (``retargeting.tracking.catalog.update_products``): the one home of the
restock rule. ``restocked_at`` moves exactly when a product goes from unavailable to available;
two reports at once neither lose a restock nor invent one; a batch costs the same queries
whatever its size."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from retargeting.sites.services import create_site
from retargeting.tracking import signals
from retargeting.tracking.catalog import update_products
from retargeting.tracking.models import Product
from tests.support.servers import missing, require_server

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def site(db):
    return create_site(name="Shop", domains=["shop.example"], country="FR").site


@pytest.fixture
def restocks():
    """Every ``products_restocked`` sent, as (site_id, product_ids, at)."""
    sent: list[tuple[int, list[int], datetime]] = []
    lock = threading.Lock()

    def receiver(sender, *, site_id, product_ids, at, **kwargs):
        with lock:
            sent.append((site_id, sorted(product_ids), at))

    signals.products_restocked.connect(receiver, weak=False)
    yield sent
    signals.products_restocked.disconnect(receiver)


def report(site, *products, at=NOW):
    return update_products(site=site, products=list(products), now=at)


def product(site, external_id="P1"):
    return Product.objects.get(site=site, external_id=external_id)


def test_a_product_back_from_unavailable_is_restocked_once(
    site, restocks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report(site, {"id": "P1", "available": False, "quantity": 0})
    assert product(site).restocked_at is None  # control: unavailable is no restock
    assert restocks == []
    with django_capture_on_commit_callbacks(execute=True):
        assert report(site, {"id": "P1", "available": True, "quantity": 4}, at=LATER) == 1
    row = product(site)
    assert (row.available, row.quantity, row.restocked_at, row.stock_changed_at) == (
        True,
        4,
        LATER,
        LATER,
    )
    assert restocks == [(site.pk, [row.pk], LATER)]


def test_staying_available_is_no_new_restock(site, restocks, django_capture_on_commit_callbacks):
    report(site, {"id": "P1", "available": False})
    with django_capture_on_commit_callbacks(execute=True):
        report(site, {"id": "P1", "available": True}, at=LATER)
        report(site, {"id": "P1", "available": True, "quantity": 9}, at=LATER + timedelta(1))
    row = product(site)
    assert row.restocked_at == LATER  # the first change only
    assert row.stock_changed_at == LATER + timedelta(1)  # the quantity did change
    assert len(restocks) == 1


def test_a_product_first_heard_of_as_available_has_not_come_back(site, restocks):
    report(site, {"id": "P1", "available": True})
    report(site, {"id": "P2", "name": "Chemise"})  # unknown stays unknown
    report(site, {"id": "P2", "available": True}, at=LATER)  # unknown → available
    assert product(site, "P1").restocked_at is None
    assert product(site, "P2").restocked_at is None
    assert product(site, "P2").available is True
    # Control: the same product, unavailable first, does come back.
    report(site, {"id": "P2", "available": False}, at=LATER + timedelta(1))
    report(site, {"id": "P2", "available": True}, at=LATER + timedelta(2))
    assert product(site, "P2").restocked_at == LATER + timedelta(2)


def test_a_second_restock_after_selling_out_again_counts_again(site):
    report(site, {"id": "P1", "available": False})
    report(site, {"id": "P1", "available": True}, at=NOW + timedelta(1))
    report(site, {"id": "P1", "available": False}, at=NOW + timedelta(2))
    assert product(site).restocked_at == NOW + timedelta(1)  # selling out keeps the date
    report(site, {"id": "P1", "available": True}, at=NOW + timedelta(3))
    assert product(site).restocked_at == NOW + timedelta(3)


def test_a_quantity_alone_says_whether_the_product_can_be_bought(site):
    report(site, {"id": "P1", "quantity": 0})
    assert product(site).available is False
    report(site, {"id": "P1", "quantity": 3}, at=LATER)
    assert (product(site).available, product(site).restocked_at) == (True, LATER)
    # An explicit ``available`` wins over the count (a product sold on backorder).
    report(site, {"id": "P1", "available": True, "quantity": -2}, at=LATER + timedelta(1))
    assert product(site).available is True


def test_a_report_keeps_what_it_does_not_say(site):
    report(
        site,
        {
            "id": "P1",
            "name": "Chemise",
            "url": "https://shop.example/p/1",
            "price": Decimal("29.90"),
            "currency": "EUR",
            "available": True,
            "quantity": 2,
        },
    )
    report(site, {"id": "P1", "available": False}, at=LATER)
    row = product(site)
    assert (row.name, row.url, row.price, row.currency, row.quantity, row.available) == (
        "Chemise",
        "https://shop.example/p/1",
        Decimal("29.90"),
        "EUR",
        2,
        False,
    )
    assert row.updated_at == LATER


def test_a_platforms_address_never_replaces_the_pages_own(site):
    report(site, {"id": "P1", "url": "https://shop.example/p/chemise"})
    update_products(
        site=site,
        products=[{"id": "P1", "url": "https://x.myshopify.com/products/chemise"}],
        now=LATER,
        keep_urls=True,
    )
    assert product(site).url == "https://shop.example/p/chemise"
    # Control: a product without one takes it.
    update_products(
        site=site,
        products=[{"id": "P2", "url": "https://x.myshopify.com/products/jupe"}],
        now=LATER,
        keep_urls=True,
    )
    assert product(site, "P2").url == "https://x.myshopify.com/products/jupe"


def test_products_are_the_sites_own(site):
    other = create_site(name="Other", domains=["other.example"], country="FR").site
    report(site, {"id": "P1", "available": False})
    report(other, {"id": "P1", "available": True}, at=LATER)
    assert product(site).available is False
    assert product(other).restocked_at is None


def test_a_product_named_twice_in_one_report_counts_once_the_last_wins(site):
    report(site, {"id": "P1", "available": False})
    written = report(
        site, {"id": "P1", "available": True}, {"id": "P1", "available": False}, at=LATER
    )
    assert written == 1
    assert (product(site).available, product(site).restocked_at) == (False, None)


def queries(site, count, *, prefix):
    products = [
        {"id": f"{prefix}{n}", "available": n % 2 == 0, "quantity": n} for n in range(count)
    ]
    report(site, *products)  # half unavailable
    again = [{"id": f"{prefix}{n}", "available": True, "quantity": n + 1} for n in range(count)]
    with CaptureQueriesContext(connection) as captured:
        report(site, *again, at=LATER)
    return len(captured.captured_queries)


def test_a_batch_costs_the_same_queries_whatever_its_size(site):
    small = queries(site, 2, prefix="a")
    large = queries(site, 60, prefix="b")
    assert small == large
    # The savepoint, the insert of unknown ids, the locking read, the one update, the release.
    assert small == 5
    assert Product.objects.filter(external_id__startswith="b", restocked_at=LATER).count() == 30


@pytest.mark.django_db(transaction=True)
def test_two_reports_at_once_restock_a_product_once(restocks):
    """Two webhooks saying "back in stock" at the same moment: PostgreSQL row locks make the
    second read what the first wrote. Without the lock both read "unavailable" (the row's
    committed state) while a third transaction holds the row, and both would restock it."""
    require_server("PostgreSQL", "DATABASE_URL")
    if connection.vendor != "postgresql":
        # DATABASE_URL names another database: a failure in CI, as a missing server is.
        missing("PostgreSQL is needed: row locks are PostgreSQL's (SQLite has one writer)")
    site = create_site(name="Shop", domains=["shop.example"], country="FR").site
    update_products(site=site, products=[{"id": "P1", "available": False}], now=NOW)
    errors: list[BaseException] = []

    def webhook(at: datetime) -> None:
        try:
            update_products(site=site, products=[{"id": "P1", "available": True}], now=at)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        # A third writer holds the row while both reports arrive.
        Product.objects.select_for_update().get(site=site, external_id="P1")
        threads = [
            threading.Thread(target=webhook, args=(NOW + timedelta(minutes=n),)) for n in (1, 2)
        ]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(2)
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    row = Product.objects.get(site=site, external_id="P1")
    assert row.available is True
    assert row.restocked_at in (NOW + timedelta(minutes=1), NOW + timedelta(minutes=2))
    assert len(restocks) == 1


def _wait_for_lock_waiters(count: int) -> None:
    with connections["default"].cursor() as cursor:
        for _ in range(300):
            # Inside a transaction the statistics views keep their first snapshot.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.05)
    raise AssertionError(f"{count} reports never waited for the row")


def test_a_claim_fills_what_is_unknown_and_never_dates_a_return(site, restocks):
    """A browser's ``product_view`` says what its page shows; anyone can send one, so it may
    fill an unknown product, never change the shop's word on its stock."""
    update_products(
        site=site,
        products=[{"id": "P1", "available": True, "name": "Chemise"}],
        now=NOW,
        claimed=True,
    )
    assert (product(site).available, product(site).name) == (True, "Chemise")  # unknown: filled
    report(site, {"id": "P1", "available": False, "quantity": 0}, at=LATER)
    update_products(
        site=site,
        products=[{"id": "P1", "available": True, "quantity": 9, "name": "Autre"}],
        now=LATER + timedelta(1),
        claimed=True,
    )
    row = product(site)
    assert (row.available, row.quantity, row.name, row.restocked_at) == (
        False,
        0,
        "Chemise",
        None,
    )
    assert restocks == []
    report(site, {"id": "P1", "available": True}, at=LATER + timedelta(2))  # control: the shop
    assert product(site).restocked_at == LATER + timedelta(2)


def test_a_failing_receiver_loses_nothing(site, django_capture_on_commit_callbacks, caplog):
    """The signal is an accelerator: a receiver that fails (its broker down, say) is logged,
    and the restock stays recorded for the back-in-stock pass to read."""

    def broken(sender, **kwargs):
        raise ConnectionError("broker down")

    signals.products_restocked.connect(broken, weak=False)
    try:
        report(site, {"id": "P1", "available": False})
        with django_capture_on_commit_callbacks(execute=True):
            assert report(site, {"id": "P1", "available": True}, at=LATER) == 1
    finally:
        signals.products_restocked.disconnect(broken)
    assert product(site).restocked_at == LATER
    assert "broker down" in caplog.text
