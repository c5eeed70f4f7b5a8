"""The dashboard benchmark, run by `make bench` (and at a tiny size by `make test`, on either
database); prints its figures as JSON.

1. Fills a fresh shop with SENDS carts over the last 90 days, each with one reminder (a tenth
   held out, the rest delivered, a tenth tapped, a twentieth bought after the tap), for
   contacts of whom a tenth abandoned two carts on different days and one in a hundred
   opted out the next day, with SQL both databases run. Both channels: the reminders of the
   contacts whose number ends in 1, 4 or 7 (three in ten) go by email (no cost, no segment;
   an opt-out of theirs is an email unsubscribe), the rest by SMS. Every trigger: three
   reminders in ten are about no cart (``cart`` empty, ``subject_id`` their own): two of a
   product view (``browse_abandoned``), one of an order (``order_confirmation``), each flow
   with its step, their taps and purchases kept (``TRIGGER_SHARES``).
2. Rolls up the 30 days the overview reads, day by day as the task does, and reports the
   time of one day's rollup (the median) and of the 30 (a fresh install's backfill of the
   90 days takes three times that).
3. Times the overview's three reads for the last 30 days (the best of three runs each, and
   their sum), for every channel (``dashboard_ms``, the target) and for email alone
   (``dashboard_email_ms``), and with LIVE=1 the same figures counted from the sends (once
   each). The overview reads today live (campaigns.dashboard.figures): its 30 days are 29
   rolled-up days and today counted from the sends.
4. Times today's figures alone, counted live as the overview counts them on each page load
   (``dashboard_today_ms``: funnel, per day and per step and channel, the best of three), with
   today's sends (``dashboard_sent_today``, a ninetieth of SENDS), against the reference of
   one day's rollup (``dashboard_today_vs_rollup_day``: the live read runs the same
   definitions for the same day without storing them, so it costs no more than the rollup
   the scheduler runs every five minutes).

Usage (bench/run.py does this): python bench/dashboard.py SENDS
"""

# ruff: noqa: S608 - the SQL is put together from constants of this file, never from input

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
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
from campaigns import figures as live  # noqa: E402
from campaigns import rollups  # noqa: E402
from campaigns.dashboard import figures  # noqa: E402
from campaigns.models import Flow  # noqa: E402

READ = 30
CHANNELS = ("sms", "email")
# The reminders moved off their cart to another trigger's flow, by a digit of their id mixed
# with its tens (the held-out carts follow the cart's own last digit: a send id shifted by the
# database's sequence must not make one trigger's share all held out).
TRIGGER_SHARES = {"browse_abandoned": (2, 8), "order_confirmation": (3,)}


def later(moment: str, seconds: str) -> str:
    """SQL for ``moment`` plus ``seconds`` (an SQL integer expression), in either database:
    PostgreSQL's intervals, SQLite's date modifiers on Django's text datetimes."""
    if connection.vendor == "postgresql":
        return f"(({moment})::timestamptz + ({seconds}) * interval '1 second')"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {moment}, ({seconds}) || ' seconds')"


def numbers(limit: str) -> str:
    return f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {limit})"


def fill(site_id: int, step_id: int, sends: int, others: dict[str, int] | None = None) -> float:
    """Visitors, carts, contacts, sends, links, taps, purchases and STOPs in a few statements.
    Each cart n was left n % 90 days and n % 86400 seconds ago; its row ids follow n."""
    started = time.monotonic()
    # A tenth of the contacts get two carts, n and n + contacts: on different days, as the
    # number of contacts is no multiple of 90 (for any size a multiple of ten).
    contacts = sends - sends // 10 - 7
    params = {
        "site": site_id,
        "step": step_id,
        "n": sends,
        "contacts": contacts,
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
        "items": "[]",
    }
    left = later("%(now)s", "-(n %% 90) * 86400 - (n %% 86400)")
    items = "%(items)s::jsonb" if connection.vendor == "postgresql" else "%(items)s"
    statements = [
        f"""{numbers("%(n)s")}
        INSERT INTO tracking_visitor (vid, customer_id, first_seen_at, last_seen_at, site_id)
        SELECT 'dash-' || %(site)s || '-' || n, '', {left}, {left}, %(site)s FROM g""",
        f"""{numbers("%(contacts)s")}
        INSERT INTO optin_contact (phone, email, first_name, region, consent_status,
            email_consent_status, confirmation_code, created_at, updated_at, site_id)
        SELECT '+336' || (10000000 + n), 'marie' || n || '@example.fr', 'Marie', 'FR',
               'confirmed', 'confirmed', '', %(now)s, %(now)s, %(site)s
        FROM g""",
        f"""
        INSERT INTO tracking_cart (external_id, status, currency, total, item_count, items,
            url, ref, created_at, last_change_at, converted_at, site_id, visitor_id)
        SELECT 'cart-' || v.id, CASE WHEN v.n %% 20 = 0 THEN 'converted' ELSE 'open' END,
               'EUR', 59.90, 2, {items}, '', '', v.first_seen_at, v.first_seen_at,
               CASE WHEN v.n %% 20 = 0 THEN {later("v.first_seen_at", "7200")} END,
               %(site)s, v.id
        FROM (SELECT id, first_seen_at, id - (SELECT min(id) FROM tracking_visitor
                                              WHERE site_id = %(site)s) + 1 AS n
              FROM tracking_visitor WHERE site_id = %(site)s) v
        ORDER BY v.id""",
        # Cart n is for contact ((n - 1) %% contacts) + 1.
        f"""
        INSERT INTO campaigns_send (status, reason, reason_detail, planned_at, due_at,
            claimed_at, sent_at, body, segments, encoding, provider_id, error_code,
            updated_at, cart_id, contact_id, site_id, step_id, cost, channel, subject)
        SELECT CASE WHEN c.n %% 10 = 5 THEN 'held_out' ELSE 'delivered' END,
               CASE WHEN c.n %% 10 = 5 THEN 'held_out' ELSE '' END, '',
               {later("c.last_change_at", "1800")}, {later("c.last_change_at", "1800")},
               CASE WHEN c.n %% 10 = 5 THEN NULL ELSE {later("c.last_change_at", "1800")} END,
               CASE WHEN c.n %% 10 = 5 THEN NULL ELSE {later("c.last_change_at", "1860")} END,
               'Marie, votre panier', 1, 'GSM-7', 'SM' || c.id, '', %(now)s, c.id,
               (SELECT min(id) FROM optin_contact WHERE site_id = %(site)s)
                   + (c.n - 1) %% %(contacts)s,
               %(site)s, %(step)s, CASE WHEN c.n %% 10 = 5 THEN NULL ELSE 0.045 END,
               'sms', ''
        FROM (SELECT id, last_change_at, id - (SELECT min(id) FROM tracking_cart
                                               WHERE site_id = %(site)s) + 1 AS n
              FROM tracking_cart WHERE site_id = %(site)s) c
        ORDER BY c.id""",
        f"""
        INSERT INTO campaigns_shortlink (code, target_url, send_id, created_at, expires_at)
        SELECT 'b' || s.id, 'https://shop.example/panier', s.id, s.sent_at,
               {later("s.sent_at", str(30 * 86400))}
        FROM campaigns_send s
        WHERE s.site_id = %(site)s AND s.sent_at IS NOT NULL AND s.id %% 10 = 0""",
        f"""
        INSERT INTO campaigns_click (link_id, at, user_agent_class, ip)
        SELECT l.id, {later("l.created_at", "300")}, 'mobile', NULL
        FROM campaigns_shortlink l JOIN campaigns_send s ON s.id = l.send_id
        WHERE s.site_id = %(site)s""",
        # The bought carts that were tapped: purchases after a tap, two hours after the cart.
        """
        INSERT INTO campaigns_conversion (order_id, total, currency, occurred_at, attribution,
            site_id, cart_id, send_id, contact_id, visitor_id)
        SELECT 'order-' || c.id, 59.90, 'EUR', c.converted_at,
               CASE WHEN l.id IS NULL THEN 'none' ELSE 'clicked' END,
               %(site)s, c.id, CASE WHEN l.id IS NULL THEN NULL ELSE s.id END, s.contact_id,
               c.visitor_id
        FROM tracking_cart c JOIN campaigns_send s ON s.cart_id = c.id
        LEFT JOIN campaigns_shortlink l ON l.send_id = s.id
        WHERE c.site_id = %(site)s AND c.status = 'converted'""",
        f"""
        INSERT INTO optin_consent (status, source, text, ip, user_agent, inbound_message_id,
            created_at, contact_id)
        SELECT 'revoked', 'keyword', 'STOP', NULL, '', '', {later("s.sent_at", "86400")},
               s.contact_id
        FROM campaigns_send s
        JOIN (SELECT min(id) AS id FROM campaigns_send
              WHERE site_id = %(site)s
                AND (contact_id - (SELECT min(id) FROM optin_contact WHERE site_id = %(site)s))
                    %% 200 IN (7, 13)
              GROUP BY contact_id) f
          ON f.id = s.id
        WHERE s.sent_at IS NOT NULL""",
    ]
    # The contacts whose number ends in 1, 4 or 7 are emailed: their sends (on every day,
    # tapped, bought and held out alike) and their opt-outs are email's.
    emailed = "(contact_id - (SELECT min(id) FROM optin_contact WHERE site_id = %(site)s)) %% 10"
    statements += [
        f"""
        UPDATE campaigns_send SET channel = 'email', segments = 0, cost = NULL, encoding = '',
            subject = 'Votre panier vous attend'
        WHERE site_id = %(site)s AND {emailed} IN (0, 3, 6)""",
        """
        UPDATE optin_consent SET channel = 'email', source = 'unsubscribe', text = ''
        WHERE contact_id IN (SELECT contact_id FROM campaigns_send
                             WHERE site_id = %(site)s AND channel = 'email')""",
    ]
    # Every trigger: some reminders are about a product view or an order, not a cart.
    for trigger, digits in TRIGGER_SHARES.items():
        if not others or trigger not in others:
            continue
        statements.append(
            f"""
            UPDATE campaigns_send SET step_id = {int(others[trigger])}, cart_id = NULL,
                subject_id = id
            WHERE site_id = %(site)s
              AND (id + id / 10) %% 10 IN ({", ".join(str(d) for d in digits)})"""
        )
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def other_flows(site: Any) -> dict[str, int]:
    """A flow of one step for each trigger of TRIGGER_SHARES: its step's id by trigger."""
    steps = {}
    for trigger in TRIGGER_SHARES:
        flow = Flow.objects.create(site=site, name=trigger, slug=trigger, trigger=trigger)
        steps[trigger] = flow.steps.create(position=1, template="{{ shop }} {{ link }}").pk
    return steps


def best_of_three(query: Callable[[], Any]) -> float:
    runs = []
    for _ in range(3):
        started = time.monotonic()
        query()
        runs.append(time.monotonic() - started)
    return round(min(runs) * 1000, 1)


def once(query: Callable[[], Any]) -> float:
    started = time.monotonic()
    query()
    return round((time.monotonic() - started) * 1000, 1)


def main() -> None:
    count = int(sys.argv[1])
    result = bench_shop(f"Dashboard bench, {count} sends")
    site, step = result.site, result.flow.steps.get(position=1)
    out: dict[str, float] = {"dashboard_sends": count}
    out["dashboard_fill_seconds"] = round(fill(site.pk, step.pk, count, other_flows(site)), 1)
    today = rollups.local_today(site)
    per_day = []
    started = time.monotonic()
    for day in rollups.days(today - timedelta(days=READ - 1), today):
        day_started = time.monotonic()
        rollups.roll_up_day(site=site, day=day)
        per_day.append(time.monotonic() - day_started)
    out["dashboard_rollup_30_days_seconds"] = round(time.monotonic() - started, 1)
    out["dashboard_rollup_day_ms"] = round(statistics.median(per_day) * 1000, 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    period = {"site": site, "start": today - timedelta(days=READ - 1), "end": today}
    out["dashboard_funnel_ms"] = best_of_three(lambda: figures.funnel(**period))
    out["dashboard_daily_ms"] = best_of_three(lambda: figures.daily(**period))
    out["dashboard_by_step_ms"] = best_of_three(lambda: figures.by_step(**period))
    out["dashboard_by_step_and_channel_ms"] = best_of_three(
        lambda: figures.by_step_and_channel(**period, every_step=True)
    )
    out["dashboard_ms"] = round(
        out["dashboard_funnel_ms"]
        + out["dashboard_daily_ms"]
        + out["dashboard_by_step_and_channel_ms"],
        1,
    )
    email = {**period, "channel": "email"}
    out["dashboard_email_ms"] = round(
        best_of_three(lambda: figures.funnel(**email))
        + best_of_three(lambda: figures.daily(**email))
        + best_of_three(lambda: figures.by_step(**email)),
        1,
    )
    rolled = figures.funnel(**period)
    out["dashboard_cart_sent_in_30_days"] = rolled.sent
    steps = figures.by_step(**period)
    flows = figures.by_flow(steps)
    out["dashboard_sent_in_30_days"] = sum(flow.sent for flow in flows)
    for flow in flows:
        out[f"dashboard_{flow.trigger}_sent_in_30_days"] = flow.sent
    # Every trigger's reminders are counted, the cart's and the others'.
    assert len(flows) == 1 + len(TRIGGER_SHARES), flows
    assert all(flow.sent for flow in flows), flows
    by_channel = {channel: figures.funnel(**period, channel=channel) for channel in CHANNELS}
    for channel, part in by_channel.items():
        out[f"dashboard_{channel}_messages_in_30_days"] = part.messages
    # Each reminder went by one channel: the channels' messages add up to the total.
    assert sum(part.messages for part in by_channel.values()) == rolled.messages
    if os.environ.get("LIVE") or count <= 100_000:
        # The rollups hold what the sends say (counting them takes seconds at a million).
        for channel in (None, *CHANNELS):
            shown = figures.funnel(**period, channel=channel)
            counted = live.funnel(**period, channel=channel)
            assert (shown.sent, shown.opt_outs, shown.recovered_revenue, shown.cost) == (
                counted.sent,
                counted.opt_outs,
                counted.recovered_revenue,
                counted.cost,
            ), (channel, shown, counted)
        # And the activity of every flow and step, whatever its trigger.
        assert steps == live.by_step(**period), (steps, live.by_step(**period))
    today_only = {"site": site, "start": today, "end": today}
    out["dashboard_sent_today"] = sum(day.sends for day in figures.daily(**today_only))
    out["dashboard_today_ms"] = round(
        best_of_three(lambda: figures.funnel(**today_only))
        + best_of_three(lambda: figures.daily(**today_only))
        + best_of_three(lambda: figures.by_step_and_channel(**today_only, every_step=True)),
        1,
    )
    out["dashboard_today_vs_rollup_day"] = round(
        out["dashboard_today_ms"] / max(out["dashboard_rollup_day_ms"], 0.1), 2
    )
    if os.environ.get("LIVE"):
        out["dashboard_live_ms"] = round(
            once(lambda: live.funnel(**period))
            + once(lambda: live.daily(**period))
            + once(lambda: live.by_step(**period)),
            1,
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
