"""The dispatch benchmark, run by `make bench` (and at a tiny size by `make test`, on either
database); prints its figures as JSON.

1. Fills a fresh shop with CARTS open carts of which ELIGIBLE belong to a visitor linked to a
   consenting contact (the others are anonymous), all idle for three hours, with SQL.
2. Times one dispatch pass's detection and planning (`run_pass`, French quiet hours).
3. Sends SEND of the planned reminders through the Twilio emulator (a process of its own)
   with the real SDK: two Celery worker processes on the sms queue, given the sends in the
   batches beat hands on, the per-sender rate limit off. Reports SMS per second from the
   first claim to the last send, and the workers' CPU time per send.
4. Side by side in this one process, on the same emulator: a bare loop of the twilio SDK
   creating ALONE messages, then Relance delivering ALONE more sends in batches; the ratio
   of the two rates is what Relance's own work costs beside the provider call.

Usage (bench/run.py does this): python bench/dispatch.py CARTS ELIGIBLE SEND [ALONE]
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.run import children  # noqa: E402
from bench.shop import bench_shop  # noqa: E402
from campaigns.dispatch import run_pass  # noqa: E402
from campaigns.models import Send, SendStatus  # noqa: E402
from campaigns.sending import SEND_BATCH, deliver_batch  # noqa: E402
from retargeting.celery import app  # noqa: E402
from retargeting.sites.models import QuietHours, Site  # noqa: E402
from tests.support.twilio_emulator import ACCOUNT_SID, AUTH_TOKEN  # noqa: E402

# The untimed first batch of each side of the one-process comparison.
WARM_UP = SEND_BATCH

ITEMS = '[{"sku": "A1", "name": "Chemise", "price": "29.95", "quantity": 2}]'


# PostgreSQL reads the items' JSON with a cast; SQLite keeps JSON as text.
_CARTS = """
    INSERT INTO tracking_cart (external_id, status, currency, total, item_count, items,
        url, ref, created_at, last_change_at, site_id, visitor_id)
    SELECT 'cart-' || v.id, 'open', 'EUR', 59.90, 2, ITEMS,
           'https://shop.example/panier', '', %(idle)s, %(idle)s, %(site)s, v.id
    FROM tracking_visitor v WHERE v.site_id = %(site)s
"""
CARTS_SQL = {
    "postgresql": _CARTS.replace("ITEMS", "%(items)s::jsonb"),
    "sqlite": _CARTS.replace("ITEMS", "%(items)s"),
}


def fill(site_id: int, carts: int, eligible: int) -> float:
    """The shop's carts and contacts in a few statements, on PostgreSQL (make bench) and SQLite
    (the tiny run in make test) alike."""
    started = time.monotonic()
    ops = connection.ops
    params = {
        "site": site_id,
        "carts": carts,
        "eligible": eligible,
        "items": ITEMS,
        "idle": ops.adapt_datetimefield_value(timezone.now() - timedelta(hours=3)),
        "now": ops.adapt_datetimefield_value(timezone.now()),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %(carts)s)
            INSERT INTO tracking_visitor (vid, customer_id, first_seen_at, last_seen_at, site_id)
            SELECT 'bench-' || %(site)s || '-' || n, '', %(idle)s, %(idle)s, %(site)s FROM g
            """,
            params,
        )
        cursor.execute(CARTS_SQL[connection.vendor], params)
        cursor.execute(
            """
            WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %(eligible)s)
            INSERT INTO optin_contact (phone, first_name, region, consent_status,
                confirmation_code, created_at, updated_at, site_id)
            SELECT '+3361' || (1000000 + n), 'Marie', 'FR', 'confirmed', '', %(now)s, %(now)s,
                   %(site)s
            FROM g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO optin_visitorlink (method, linked_at, contact_id, visitor_id)
            SELECT 'server', %(now)s, c.id, v.id
            FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM optin_contact
                  WHERE site_id = %(site)s) c
            JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM tracking_visitor
                  WHERE site_id = %(site)s) v ON v.n = c.n * (%(carts)s / %(eligible)s)
            """,
            params,
        )
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


class EmulatorProcess:
    """The Twilio emulator in a process of its own, as a provider is: the processes measured
    do not share their interpreter with it. ``messages()`` counts what it accepted."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.twilio_emulator"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()  # the emulator stops when its input ends
        self._process.wait(timeout=30)

    def messages(self) -> int:
        request = urllib.request.Request(
            f"{self.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            headers={"Authorization": _basic_auth()},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return len(json.load(answer)["messages"])


def _basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


def due_now(site: Site, count: int) -> list[int]:
    """``count`` of the site's planned sends, made due now."""
    chosen = list(
        Send.objects.filter(site=site, status=SendStatus.PLANNED)
        .order_by("pk")
        .values_list("pk", flat=True)[:count]
    )
    Send.objects.filter(pk__in=chosen).update(due_at=timezone.now())
    return chosen


def twilio_env(base_url: str) -> dict[str, str]:
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+33700000000",
        "TWILIO_API_BASE_URL": base_url,
        "SMS_DEFAULT_MPS": "0",
    }


def send(site: Site, count: int, twilio: EmulatorProcess) -> dict[str, float]:
    """Deliver ``count`` planned sends with two worker processes, in the batches beat hands
    them on in."""
    chosen = due_now(site, count)
    env = {**os.environ, **twilio_env(twilio.base_url)}
    before = twilio.messages()
    for start in range(0, len(chosen), SEND_BATCH):
        batch = chosen[start : start + SEND_BATCH]
        app.send_task("campaigns.tasks.deliver_sends", args=[batch], queue="sms")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "retargeting.celery:app",
            "worker",
            "--concurrency=2",
            "--prefetch-multiplier=1",
            "--loglevel=WARNING",
            "-Q",
            "sms",
            "-n",
            f"bench-sms-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    pending = Send.objects.filter(pk__in=chosen, status__in=[SendStatus.PLANNED, "sending"])
    deadline = started + 600
    pids: list[int] = []
    used = 0.0
    while pending.exists() and time.monotonic() < deadline:
        pids = [worker.pid, *children(worker.pid)]
        used = cpu_seconds(pids)
        time.sleep(0.2)
    seconds = time.monotonic() - started
    used = max(used, cpu_seconds(pids))
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    accepted = twilio.messages() - before
    done = Send.objects.filter(pk__in=chosen).exclude(status__in=[SendStatus.PLANNED, "sending"])
    # From the first claim to the last send's last change: the workers' start is left out.
    span = Send.objects.filter(pk__in=chosen).aggregate(
        first=Min("claimed_at"), last=Max("updated_at")
    )
    sending = (span["last"] - span["first"]).total_seconds() if span["first"] else seconds
    return {
        "send_count": len(chosen),
        "send_finished": done.count(),
        "send_accepted_by_provider": accepted,
        "send_seconds_with_worker_start": round(seconds, 2),
        "send_seconds": round(sending, 2),
        "send_sms_per_second": round(accepted / max(sending, 0.001), 1),
        "send_cpu_ms_per_sms": round(1000 * used / max(accepted, 1), 2),
    }


def one_process(site: Site, count: int, twilio: EmulatorProcess) -> dict[str, float]:
    """Side by side, in this one process and on the same emulator: a bare loop of the twilio
    SDK creating ``count`` messages, then Relance delivering ``count`` sends in batches.

    Each side first runs one batch untimed (``WARM_UP`` messages): what a process does once
    (the SDK's modules imported on first use, the first connection, Relance's URL map read for
    the status callback's address) is not what each SMS costs, and a worker pays it once."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class ToEmulator(TwilioHttpClient):  # type: ignore[misc]
        """The SDK's own HTTP client as it ships, sent to the emulator's address."""

        def request(self, method: str, url: str, *args: object, **kwargs: object) -> object:
            path = url.split("://", 1)[-1].partition("/")[2]
            return super().request(method, f"{twilio.base_url}/{path}", *args, **kwargs)

    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=ToEmulator())

    def bare_loop(first: int, last: int) -> None:
        for n in range(first, last):
            client.messages.create(to=f"+3361{2000000 + n}", from_="+33700000000", body="Bonjour")

    bare_loop(0, WARM_UP)
    started = time.perf_counter()
    bare_loop(WARM_UP, WARM_UP + count)
    bare = time.perf_counter() - started

    for name, value in twilio_env(twilio.base_url).items():
        setattr(settings, name, int(value) if name == "SMS_DEFAULT_MPS" else value)
    ids = due_now(site, WARM_UP + count)
    warm_up, chosen = ids[:WARM_UP], ids[WARM_UP:]
    deliver_batch(send_ids=warm_up)
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(0, len(chosen), SEND_BATCH):
        outcomes.update(deliver_batch(send_ids=chosen[start : start + SEND_BATCH]).values())
    relance = time.perf_counter() - started
    bare_rate, relance_rate = count / bare, outcomes["accepted"] / relance
    return {
        "send_one_process_count": count,
        "send_one_process_warm_up": len(warm_up),
        "send_one_process_accepted": outcomes["accepted"],
        "bare_sdk_sms_per_second": round(bare_rate, 1),
        "send_one_process_sms_per_second": round(relance_rate, 1),
        "send_vs_bare_sdk": round(relance_rate / bare_rate, 3),
    }


def main() -> None:
    carts, eligible, count = (int(value) for value in sys.argv[1:4])
    alone = int(sys.argv[4]) if len(sys.argv) > 4 else count
    result = bench_shop("Dispatch bench")
    site = result.site
    figures: dict[str, float] = {"dispatch_carts": carts, "dispatch_eligible": eligible}
    figures["dispatch_fill_seconds"] = round(fill(site.pk, carts, eligible), 1)
    started = time.monotonic()
    report = run_pass()
    figures["dispatch_plan_seconds"] = round(time.monotonic() - started, 2)
    figures["dispatch_planned"] = report.planned + report.held_out
    # What the pass costs per cart of the shop (the scan) and per reminder it plans.
    elapsed = time.monotonic() - started
    figures["dispatch_plan_us_per_cart"] = round(elapsed / max(carts, 1) * 1e6, 2)
    figures["dispatch_plan_us_per_planned"] = round(
        elapsed / max(figures["dispatch_planned"], 1) * 1e6, 1
    )
    # Any hour of the run: the worker's own quiet-hour check must not hold them.
    Site.objects.filter(pk=site.pk).update(quiet_hours=QuietHours.NONE)
    with EmulatorProcess() as twilio:
        figures.update(send(site, count, twilio))
        figures.update(one_process(site, alone, twilio))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
