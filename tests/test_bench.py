"""`make bench`: wrk's report read correctly, and every benchmark script run at a tiny size
(so that a change that breaks one fails here, not at the next `make bench`)."""

from __future__ import annotations

import sys

import pytest

from bench import run as bench

pytest_plugins = ["tests.support.browser"]

REPORT = """Running 5s test @ http://127.0.0.1:8000/t/e
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   285.12ms   40.10ms 500.00ms   70.00%
  Latency Distribution
     50%  284.43ms
     75%  300.00ms
     90%  310.00ms
     99%    1.02s
  1100 requests in 5.00s, 120.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:    220.41
Transfer/sec:     24.00KB
"""


def test_a_wrk_report_is_read_into_figures():
    run = bench.parse_wrk("collector", 64, REPORT)
    assert run.requests_per_second == pytest.approx(220.41)
    assert run.p50_ms == pytest.approx(284.43)
    assert run.p99_ms == pytest.approx(1020.0)
    assert run.errors == 7 + 2 + 3


@pytest.mark.parametrize(("text", "ms"), [("850us", 0.85), ("2.5ms", 2.5), ("1.5s", 1500.0)])
def test_latency_units(text, ms):
    assert bench.milliseconds(text) == pytest.approx(ms)


def test_the_reference_view_is_off_unless_the_benchmark_asks(client, db):
    assert client.get("/bench/noop").status_code == 404


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_snippet_benchmark_loads_real_pages_with_and_without_the_tag(browser, live_server):
    from bench import snippet
    from retargeting.tracking.models import Event
    from tests.factories import SiteFactory
    from tests.support.processes import wait_for

    site = SiteFactory(allowed_domains=["localhost"])
    figures = snippet.measure(live_server.url, site.public_key, rounds=2, browser=browser)
    # Each round loads two pages with the tag: their page views and cart pushes reached us.
    # Beacons sent as the pages closed may still be arriving: wait until nothing more comes.
    counts = []

    def settled():
        counts.append(Event.objects.filter(site=site).count())
        return len(counts) > 3 and counts[-1] == counts[-2] == counts[-3]

    assert wait_for(settled, timeout=30, interval=0.5)
    assert Event.objects.filter(site=site, type="page_view").count() == 4
    assert Event.objects.filter(site=site, type="cart").exists()
    assert figures["page_script_ms_first_visit_with_snippet"] > 0
    assert figures["snippet_push_us"] > 0
    assert figures["snippet_long_tasks"] >= 0
    assert set(figures) >= {
        f"snippet_{name}_ms_{visit}_visit"
        for name in ("main_thread", "script")
        for visit in ("first", "next")
    }


def _run_bench_script(script: str, *args: str, postgresql_only: bool = False) -> dict:
    """A benchmark script at a tiny size, on this test session's database, as make bench runs
    it: so that a change of the schema that breaks one fails here, not at the next make bench."""
    import json
    import subprocess

    from django.db import connection

    from tests.support.processes import ROOT, env_for_test_database
    from tests.support.servers import missing

    if postgresql_only and connection.vendor != "postgresql":
        missing(f"bench/{script} fills its shop with PostgreSQL's SQL: set DATABASE_URL")
    result = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env_for_test_database(SMS_DEFAULT_MPS="0"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_dispatch_benchmark_runs_at_a_tiny_size():
    # 60 sends for the workers, then 40 in one process after its untimed first batch (100).
    figures = _run_bench_script("dispatch.py", "600", "200", "60", "40")
    assert figures["dispatch_planned"] == 200
    assert figures["dispatch_plan_us_per_cart"] > 0
    assert figures["dispatch_plan_us_per_planned"] >= figures["dispatch_plan_us_per_cart"]
    # Two workers, given the sends in batches as beat hands them on (more than one batch).
    assert figures["send_accepted_by_provider"] == figures["send_finished"] == 60
    assert figures["send_sms_per_second"] > 0
    # One process: the bare SDK loop, and Relance's batches beside it, every send accepted.
    assert figures["send_one_process_accepted"] == 40
    assert figures["send_one_process_warm_up"] == 100
    assert figures["bare_sdk_sms_per_second"] > 0
    assert figures["send_vs_bare_sdk"] > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_email_benchmark_runs_at_a_tiny_size():
    # 30 emails timed on each side, after each side's untimed first batch (100).
    figures = _run_bench_script("email_sending.py", "30")
    assert figures["email_one_process_warm_up"] == 100
    assert figures["email_one_process_accepted"] == 30
    # The server got every message of both sides: Relance's 130 and the bare loop's 130.
    assert figures["email_smtp_received"] == 260
    assert figures["bare_smtplib_emails_per_second"] > 0
    assert figures["email_send_vs_bare_smtplib"] > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_benchmark_runs_at_a_tiny_size():
    figures = _run_bench_script("dashboard.py", "300")
    assert figures["dashboard_sends"] == 300
    # 300 carts over 90 days, 9 in 10 messaged: about a third of them in the last 30 days.
    assert 60 < figures["dashboard_sent_in_30_days"] < 120
    assert figures["dashboard_rollup_day_ms"] > 0
    # Today's figures, read live, with their ratio to one day's rollup.
    assert figures["dashboard_today_ms"] > 0 and figures["dashboard_today_vs_rollup_day"] > 0
    assert figures["dashboard_sent_today"] >= 0
    assert all(figures[name] >= 0 for name in figures if name.endswith("_ms"))


@pytest.mark.slow
def test_make_bench_runs_at_a_tiny_size(tmp_path):
    """bench/run.py, one second per wrk run: the sync and the threaded servers, the collector's
    server, the snippet's
    size, ingest (with PostgreSQL and Redis, as in CI), the workers' memory, every figure
    printed beside its target. Its three scripts run at a tiny size in the tests above."""
    import json
    import os
    import shutil
    import subprocess

    from tests.support.processes import ROOT
    from tests.support.servers import missing

    if not shutil.which("wrk"):
        missing("make bench needs wrk: apt-get install wrk (.ci/run installs it)")
    env = {
        **os.environ,
        "BENCH_SECONDS": "1",
        "BENCH_RESULTS": str(tmp_path),
        "BENCH_SCRIPTS": "0",
        "BENCH_THREADS": "4",
    }
    env.pop("BENCH_DASHBOARD_LARGE_SENDS", None)
    done = subprocess.run(
        [sys.executable, "bench/run.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (written,) = tmp_path.glob("*.json")
    report = json.loads(written.read_text())
    runs = {(run["name"], run["connections"]) for run in report["runs"]}
    names = ("noop", "collector", "pixel", "noop-t4", "collector-t4", "collector-loop")
    for name in (*names, "collector-views-loop"):
        assert {(name, 4), (name, 64)} <= runs, name
    assert all(run["requests_per_second"] > 0 for run in report["runs"])
    figures = report["figures"]
    for name in (
        "collector_vs_noop_rps_at_64",
        "threaded_collector_vs_noop_rps_at_64",
        "loop_collector_vs_noop_rps_at_64",
        "loop_collector_views_vs_noop_rps_at_64",
        "loop_pixel_vs_noop_rps_at_64",
        "collector_p99_ms_at_4",
        "loop_collector_p99_ms_at_4",
        "snippet_gzip_bytes",
        "web_worker_rss_mb",
    ):
        assert figures[name] > 0, name
    if os.environ.get("REDIS_URL"):
        assert figures["ingest_events_vs_collector_rps"] > 0
        assert figures["ingest_events_vs_loop_collector_rps"] > 0
        # The product page's batches were taken (a 400, say a product's URL off the bench
        # site's domains, would store nothing) and their product views reached the table.
        assert figures["ingest_product_views"] > 0
    assert figures["celery_worker_rss_mb"] > 0
    assert "threaded (4): collector / no-op, 64 c." in done.stdout
    assert "collector server: collector / no-op, 64 c." in done.stdout
    assert "collector server: product page / no-op, 64 c." in done.stdout


def test_the_scratch_database_is_dropped_with_a_session_still_open_on_it():
    """make bench ends by dropping its scratch database, even with a session left on it."""
    import os

    import psycopg

    from tests.support.servers import require_server

    require_server("PostgreSQL", "DATABASE_URL")
    url = os.environ["DATABASE_URL"]
    scratch = bench.ScratchDatabase(url)
    left = psycopg.connect(scratch.url)
    try:
        scratch.drop()
        with psycopg.connect(scratch.admin) as admin:
            found = admin.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", [scratch.name]
            ).fetchone()
        assert found == (0,)
    finally:
        left.close()


def test_a_session_force_may_not_end_is_waited_for(monkeypatch):
    """An autovacuum worker on the scratch database: FORCE is refused to a role that is not a
    superuser; a plain DROP (which stops autovacuum and waits for it) is tried until it
    goes."""
    import psycopg

    scratch = bench.ScratchDatabase("sqlite:///unused")
    scratch.name = "relance_bench_0"
    answers = [
        psycopg.errors.InsufficientPrivilege("must be a member of the role"),
        psycopg.errors.ObjectInUse("is being accessed by other users"),
        None,
    ]
    run: list[str] = []

    def execute(sql: str) -> None:
        run.append(sql)
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    monkeypatch.setattr(scratch, "_run", execute)
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: None)
    scratch.drop()
    assert run == [
        'DROP DATABASE IF EXISTS "relance_bench_0" WITH (FORCE)',
        'DROP DATABASE IF EXISTS "relance_bench_0"',
        'DROP DATABASE IF EXISTS "relance_bench_0"',
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_browse_benchmark_runs_at_a_tiny_size():
    figures = _run_bench_script("browse.py", "20000", "2000", "200", postgresql_only=True)
    assert figures["browse_views"] == 20000
    # Both flows plan: the cart reminders as the reference pass did, and browse reminders.
    assert figures["browse_cart_planned"] == figures["browse_reference_cart_planned"] == 200
    assert 0 < figures["browse_planned"] <= 200  # one per contact at most
    assert figures["browse_plan_seconds"] > 0 and figures["browse_plan_vs_cart_plan"] > 0
    assert figures["browse_views_in_48h"] > 0
