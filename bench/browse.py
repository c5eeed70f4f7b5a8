"""The browse benchmark, run by `make bench` (and at a tiny size by `make test`, on PostgreSQL):
one dispatch pass planning browse and cart reminders over VIEWS product views and CARTS carts;
prints its figures as JSON.

1. Fills a fresh shop (the default cart flow, 30 minutes, and a browse flow, 60 minutes) with
   PostgreSQL's ``generate_series``: CARTS visitors, each with an open cart with items changed
   3 hours (one in seven) to 6 days ago; ELIGIBLE of them linked to a consenting contact;
   PRODUCTS products, a hundredth unavailable; VIEWS product views (one row per browser,
   product and day, as the collector keeps them), spread evenly over the 30 days the views
   are kept, every browser idle for 61 minutes.
2. The reference, in the same run: the pass with the cart flow alone (the dispatch
   benchmark's work, on this shop); its sends are then deleted.
3. The pass with both flows, timed: ``browse_plan_seconds`` (target < 10 s, the issue's), and
   its ratio to the reference, ``browse_plan_vs_cart_plan``; beside them, the time PostgreSQL
   takes to count the views of the last 48 hours (the least any browse planning reads).

Usage (bench/run.py does this): python bench/browse.py VIEWS CARTS ELIGIBLE
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.shop import bench_shop  # noqa: E402
from campaigns.dispatch import run_pass  # noqa: E402
from campaigns.models import Flow, Send, SendEvent, Step, Trigger  # noqa: E402
from campaigns.trigger_registry import trigger_room  # noqa: E402

ITEMS = '[{"sku": "A1", "name": "Chemise", "price": "29.95", "quantity": 2}]'
RETENTION_SECONDS = 30 * 86400
IDLE_SECONDS = 61 * 60


def fill(site_id: int, views: int, carts: int, eligible: int) -> dict[str, float]:
    """The shop's visitors, carts, contacts, products and views, in a few statements."""
    products = max(100, min(10_000, views // 100))
    params = {
        "site": site_id,
        "views": views,
        "carts": carts,
        "eligible": eligible,
        "products": products,
        "every": max(1, carts // eligible),
        "items": ITEMS,
        "now": timezone.now(),
        "retention": RETENTION_SECONDS - IDLE_SECONDS,
        "idle": IDLE_SECONDS,
    }
    timings = {}
    statements = {
        "visitors": """
            INSERT INTO tracking_visitor (vid, customer_id, first_seen_at, last_seen_at, site_id)
            SELECT 'browse-' || %(site)s || '-' || n, '', %(now)s - interval '30 days',
                   %(now)s - %(idle)s * interval '1 second', %(site)s
            FROM generate_series(1, %(carts)s) n""",
        "carts": """
            INSERT INTO tracking_cart (external_id, status, currency, total, item_count, items,
                url, ref, created_at, last_change_at, site_id, visitor_id)
            SELECT 'cart-' || v.id, 'open', 'EUR', 59.90, 2, %(items)s::jsonb,
                   'https://shop.example/panier', '', changed, changed, %(site)s, v.id
            FROM (SELECT id, %(now)s - interval '3 hours' - (id %% 7) * interval '1 day' changed
                  FROM tracking_visitor WHERE site_id = %(site)s) v""",
        "contacts": """
            INSERT INTO optin_contact (phone, first_name, region, consent_status,
                confirmation_code, created_at, updated_at, site_id)
            SELECT '+3361' || (1000000 + n), 'Marie', 'FR', 'confirmed', '', %(now)s, %(now)s,
                   %(site)s
            FROM generate_series(1, %(eligible)s) n""",
        "links": """
            INSERT INTO optin_visitorlink (method, linked_at, contact_id, visitor_id)
            SELECT 'server', %(now)s, c.id, v.id
            FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM optin_contact
                  WHERE site_id = %(site)s) c
            JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM tracking_visitor
                  WHERE site_id = %(site)s) v ON v.n = c.n * %(every)s""",
        "products": """
            INSERT INTO tracking_product (external_id, sku, name, url, image, price, currency,
                available, updated_at, site_id)
            SELECT 'p' || n, '', 'Produit ' || n, 'https://shop.example/p/' || n, '', 49.90,
                   'EUR', n %% 100 <> 0, %(now)s, %(site)s
            FROM generate_series(1, %(products)s) n""",
        # View i: browser i mod CARTS, its (i div CARTS)-th product (so no two rows share a
        # browser, product and day), at a time spread evenly over the retention; written in
        # time order, as the collector writes them.
        "views": """
            INSERT INTO tracking_productview (day, viewed_at, site_id, visitor_id, product_id)
            SELECT (seen AT TIME ZONE 'UTC')::date, seen, %(site)s, v0 + i %% %(carts)s,
                   p0 + ((i %% %(carts)s) * 31 + i / %(carts)s) %% %(products)s
            FROM (SELECT i, %(now)s - %(idle)s * interval '1 second'
                         - ((i * 7919) %% %(retention)s) * interval '1 second' seen
                  FROM generate_series(0::bigint, %(views)s - 1) i) g,
                 (SELECT min(id) v0 FROM tracking_visitor WHERE site_id = %(site)s) v,
                 (SELECT min(id) p0 FROM tracking_product WHERE site_id = %(site)s) p
            ORDER BY seen""",
    }
    with connection.cursor() as cursor:
        for name, sql in statements.items():
            started = time.monotonic()
            if name == "views":
                with foreign_keys_checked_once(cursor, "tracking_productview"):
                    cursor.execute(sql, params)
            else:
                cursor.execute(sql, params)
            timings[f"browse_fill_{name}_seconds"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        cursor.execute("ANALYZE")
        timings["browse_fill_analyze_seconds"] = round(time.monotonic() - started, 1)
    return timings


@contextmanager
def foreign_keys_checked_once(cursor: Any, table: str) -> Iterator[None]:
    """Insert into ``table`` without a check of its foreign keys per row (30 million lookups
    for 10 million views, most of the fill's time), then check them all at once: each key is
    added again and validated by one join."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    keys = cursor.fetchall()
    for name, _ in keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    try:
        yield
    finally:
        for name, definition in keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID')
            cursor.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')


def forget_sends(site_id: int) -> None:
    """Delete what the reference pass planned, and refresh the statistics."""
    SendEvent.objects.filter(send__site_id=site_id).delete()
    Send.objects.filter(site_id=site_id).delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_send")
        cursor.execute("ANALYZE campaigns_sendevent")


def window_count(now: object) -> tuple[int, float]:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM tracking_productview WHERE viewed_at > %s",
            [now - timedelta(hours=48)],  # type: ignore[operator]
        )
        (count,) = cursor.fetchone()
    return count, time.monotonic() - started


def main() -> None:
    views, carts, eligible = (int(value) for value in sys.argv[1:4])
    if connection.vendor != "postgresql":
        raise SystemExit("bench/browse.py fills its shop with PostgreSQL's generate_series")
    shop = bench_shop("Browse bench")
    site = shop.site
    browse = Flow.objects.create(
        site=site, name="Browse", slug="browse", trigger=Trigger.BROWSE_ABANDONED
    )
    Step.objects.create(
        flow=browse,
        position=1,
        delay_minutes=trigger_room(Trigger.BROWSE_ABANDONED).default_delay_minutes,
        template="{{ product_name }} vous attend : {{ link }} {{ stop }}",
    )
    figures: dict[str, float] = {
        "browse_views": views,
        "browse_carts": carts,
        "browse_eligible": eligible,
    }
    started = time.monotonic()
    figures.update(fill(site.pk, views, carts, eligible))
    figures["browse_fill_seconds"] = round(time.monotonic() - started, 1)
    now = timezone.now()

    # The reference: the same shop's pass with the cart flow alone.
    Flow.objects.filter(pk=browse.pk).update(is_active=False)
    started = time.monotonic()
    reference = run_pass(now=now)
    figures["browse_reference_cart_plan_seconds"] = round(time.monotonic() - started, 2)
    figures["browse_reference_cart_planned"] = reference.planned + reference.held_out
    forget_sends(site.pk)
    Flow.objects.filter(pk=browse.pk).update(is_active=True)

    started = time.monotonic()
    report = run_pass(now=now)
    elapsed = time.monotonic() - started
    figures["browse_plan_seconds"] = round(elapsed, 2)
    planned = Send.objects.filter(site=site)
    figures["browse_planned"] = planned.filter(step__flow=browse).count()
    figures["browse_cart_planned"] = planned.exclude(step__flow=browse).count()
    assert figures["browse_planned"] + figures["browse_cart_planned"] == (
        report.planned + report.held_out
    )
    figures["browse_plan_vs_cart_plan"] = round(
        elapsed / max(figures["browse_reference_cart_plan_seconds"], 0.001), 2
    )
    count, seconds = window_count(now)
    figures["browse_views_in_48h"] = count
    figures["browse_count_48h_seconds"] = round(seconds, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
