"""The dashboard benchmark (PostgreSQL only), run by `make bench`; prints its figures as JSON.

Fills a fresh shop with SENDS sends over the last 90 days (one cart each, delivered, a tenth
clicked), then times the overview's three queries for the last 30 days: the funnel, the daily
chart and the per-step table (the best of three runs each, and their sum).

Usage (bench/run.py does this): python bench/dashboard.py SENDS
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.shop import bench_shop  # noqa: E402
from campaigns.dashboard import figures  # noqa: E402


def fill(site_id: int, step_id: int, sends: int) -> float:
    started = time.monotonic()
    with connection.cursor() as cursor:
        # Spread over the last 90 days, at every second of the day.
        cursor.execute(
            """
            INSERT INTO tracking_visitor (vid, first_seen_at, last_seen_at, site_id)
            SELECT 'dash-' || %(site)s || '-' || g, t, t, %(site)s
            FROM generate_series(1, %(n)s) g,
                 LATERAL (SELECT now() - (g %% 90) * interval '1 day'
                                 - (g %% 86400) * interval '1 second' AS t) spread
            """,
            {"site": site_id, "n": sends},
        )
        cursor.execute(
            """
            INSERT INTO tracking_cart (external_id, status, currency, total, item_count, items,
                url, created_at, last_change_at, converted_at, site_id, visitor_id)
            SELECT 'cart-' || v.id, CASE WHEN v.id %% 20 = 0 THEN 'converted' ELSE 'open' END,
                   'EUR', 59.90, 2, '[]'::jsonb, '', v.first_seen_at, v.first_seen_at,
                   CASE WHEN v.id %% 20 = 0 THEN v.first_seen_at + interval '2 hours' END,
                   %(site)s, v.id
            FROM tracking_visitor v WHERE v.site_id = %(site)s
            """,
            {"site": site_id},
        )
        cursor.execute(
            """
            INSERT INTO campaigns_send (status, reason, reason_detail, planned_at, due_at,
                claimed_at, sent_at, body, segments, encoding, provider_id, error_code,
                updated_at, cart_id, contact_id, site_id, step_id, cost)
            SELECT 'delivered', '', '', c.last_change_at + interval '30 minutes',
                   c.last_change_at + interval '30 minutes',
                   c.last_change_at + interval '30 minutes',
                   c.last_change_at + interval '31 minutes', 'Marie, votre panier', 1, 'GSM-7',
                   'SM' || c.id, '', now(), c.id, NULL, %(site)s, %(step)s, 0.045
            FROM tracking_cart c WHERE c.site_id = %(site)s
            """,
            {"site": site_id, "step": step_id},
        )
        cursor.execute(
            """
            INSERT INTO campaigns_shortlink (code, target_url, send_id, created_at, expires_at)
            SELECT 'b' || s.id, 'https://shop.example/panier', s.id, s.sent_at,
                   s.sent_at + interval '30 days'
            FROM campaigns_send s WHERE s.site_id = %(site)s AND s.id %% 10 = 0
            """,
            {"site": site_id},
        )
        cursor.execute(
            """
            INSERT INTO campaigns_click (link_id, at, user_agent_class, ip)
            SELECT l.id, l.created_at + interval '5 minutes', 'mobile', NULL
            FROM campaigns_shortlink l JOIN campaigns_send s ON s.id = l.send_id
            WHERE s.site_id = %(site)s
            """,
            {"site": site_id},
        )
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def best_of_three(query) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(3):
        started = time.monotonic()
        query()
        runs.append(time.monotonic() - started)
    return round(min(runs) * 1000, 1)


def main() -> None:
    count = int(sys.argv[1])
    result = bench_shop("Dashboard bench")
    site, step = result.site, result.flow.steps.get(position=1)
    out: dict[str, float] = {"dashboard_sends": count}
    out["dashboard_fill_seconds"] = round(fill(site.pk, step.pk, count), 1)
    end = timezone.localdate()
    start = end - timedelta(days=29)
    period = {"site": site, "start": start, "end": end}
    out["dashboard_funnel_ms"] = best_of_three(lambda: figures.funnel(**period))
    out["dashboard_daily_ms"] = best_of_three(lambda: figures.daily(**period))
    out["dashboard_by_step_ms"] = best_of_three(lambda: figures.by_step(**period))
    out["dashboard_ms"] = round(
        out["dashboard_funnel_ms"] + out["dashboard_daily_ms"] + out["dashboard_by_step_ms"], 1
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
