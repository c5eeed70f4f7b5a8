"""`make bench`: Relance's benchmarks on 127.0.0.1, with every figure beside its reference.

Starts the production web server command of docker-compose (gunicorn, 2 sync workers) on
PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set, otherwise on the embedded
defaults (a fresh SQLite file), and measures with wrk (Debian's package):

- a no-op Django view in the same project and server: the reference; and nginx's empty_gif
  when nginx is installed (the ceiling for any answer over HTTP on these cores);
- the collector, `POST /t/e` with a page view and a cart, and the pixel, `GET /t/p.gif`,
  at 4 and 64 connections (requests per second, p50 and p99 latency); in the collector's
  server also with a product page's batch (a page view and a product view);
- the snippet's size, gzipped, and its main-thread time on a page load in Chromium;
- the resident memory of a web worker after the runs, and of a Celery worker.

Writes bench/results/<name>.json (figures, machine, versions, date) and prints a table.
Each run is bounded (BENCH_SECONDS, default 10 s); the whole takes about two minutes.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Where the figures are written (`make test` runs it at a tiny size into a folder of its own).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results")
PYTHON = sys.executable
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
VID = "b" * 32
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
THREADS = int(os.environ.get("BENCH_THREADS", "8"))  # the threaded server's, per worker
# 0: leave out bench/snippet.py, dispatch.py, dashboard.py and email_sending.py (make test runs
# each on its own).
SCRIPTS = os.environ.get("BENCH_SCRIPTS", "1") != "0"
TARGETS = {
    # The collector's server (docker-compose's collector service, to which the TLS proxy
    # routes /t/e and /t/p.gif) against the no-op Django view in the web server.
    "loop_collector_vs_noop_rps": 1.0,  # at least the no-op view's requests per second
    # A product page's batch (page view + product view), at 64 connections: twice the no-op.
    "loop_collector_views_vs_noop_rps": 2.0,
    "loop_collector_p99_ms_at_4": 3.0,
    "snippet_gzip_bytes": 3072,
    "worker_rss_mb": 150.0,
    "ingest_events_vs_loop_collector_rps": 5.0,
    "dispatch_plan_seconds": 10.0,
    # A pass planning browse and cart reminders over 10M product views and 1M carts (the
    # issue's), and its ratio to the same shop's pass with the cart flow alone.
    "browse_plan_seconds": 10.0,
    "browse_plan_vs_cart_plan": 2.0,
    "send_sms_per_second": 500.0,
    "send_vs_bare_sdk": 0.5,  # Relance's SMS/s in one process over a bare SDK loop's
    "email_send_vs_bare_smtplib": 0.5,  # Relance's emails/s in one process over bare smtplib's
    "dashboard_ms": 300.0,
    # Today's figures, counted live at each page load, against one day's rollup: at most it.
    "dashboard_today_vs_rollup_day": 1.0,
    "dashboard_10m_ms": 1000.0,
}


@dataclass
class Run:
    name: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Report:
    date: str
    machine: dict[str, object]
    database: str
    cache: str
    seconds_per_run: int
    runs: list[Run] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=lambda: dict(TARGETS))
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench: nothing answers at {url}")


def milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(name: str, url: str, connections: int, env: dict[str, str], script: str = "") -> Run:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    # A run that completed no request (a worker still loading Django, a machine busy elsewhere:
    # it happens in make test's one-second runs) is run once more rather than reported as 0.
    for _ in range(2):
        output = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        run = parse_wrk(name, connections, output.stdout)
        if run.requests_per_second > 0:
            break
    return run


def parse_wrk(name: str, connections: int, output: str) -> Run:
    """A run's figures from wrk's ``--latency`` report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = milliseconds(re.search(r"50%\s+([\d.]+\w+)", output).group(1))  # type: ignore[union-attr]
    p99 = milliseconds(re.search(r"99%\s+([\d.]+\w+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Run(name, connections, rps, p50, p99, errors)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def versions(env: dict[str, str]) -> dict[str, object]:
    import django

    info: dict[str, object] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
    }
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    info["wrk"] = (wrk_version.stdout or wrk_version.stderr).split("\n")[0]
    return info


def main() -> int:
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is needed (apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="relance-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "COLLECTOR_RATE_LIMIT": "0",
        "COLLECTOR_VISITOR_RATE_LIMIT": "0",
        "BENCHMARK_ENDPOINTS": "1",
        "SMS_OUTBOX_IN_PRODUCTION": "1",
        # Without REDIS_URL the bench measures the embedded default, limits on this machine.
        "EMBEDDED_LIMITS_IN_PRODUCTION": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    scratch = ScratchDatabase(env["DATABASE_URL"])
    env["DATABASE_URL"] = scratch.url
    try:
        return measure(env, workdir, port)
    finally:
        scratch.drop()


class ScratchDatabase:
    """On PostgreSQL, a fresh database next to DATABASE_URL's, dropped afterwards: the
    benchmarks never write to the database they were pointed at."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = ""
        if not url.startswith(("postgres://", "postgresql://")):
            return
        base, _, name = url.rpartition("/")
        self.name = f"{name.split('?')[0]}_bench_{os.getpid()}"
        self.admin = f"{base}/postgres"
        self._run(f'CREATE DATABASE "{self.name}"')
        self.url = f"{base}/{self.name}"

    def _run(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as connection:
            connection.execute(sql)

    def drop(self) -> None:
        """Drop the scratch database, whatever is still connected to it. FORCE ends the
        benchmark's own leftover sessions, but a role that is not a superuser may not end
        an autovacuum worker that is analyzing the tables just written: then a plain DROP,
        which asks autovacuum to stop and waits for it, is tried for up to half a minute."""
        if not self.name:
            return
        import psycopg

        try:
            self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            pass
        deadline = time.monotonic() + 30
        while True:
            try:
                self._run(f'DROP DATABASE IF EXISTS "{self.name}"')
                return
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def measure(env: dict[str, str], workdir: Path, port: int) -> int:
    report = Report(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=versions(env),
        database=env["DATABASE_URL"].split(":", 1)[0],
        cache="redis" if env.get("REDIS_URL") else "file system",
        seconds_per_run=SECONDS,
    )

    def manage(*args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode:
            raise SystemExit(f"bench: manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    manage("migrate", "--noinput")
    created = json.loads(
        manage("bootstrap_site", "--name", "Bench", "--domain", "127.0.0.1", "--country", "FR")
    )
    public_key = created["public_key"]
    batch = json.dumps(
        {
            "site": public_key,
            "vid": "VISITOR_ID",
            "events": [
                {"type": "page_view", "url": "https://127.0.0.1/panier", "title": "Panier"},
                {
                    "type": "cart",
                    "cart": {
                        "id": "bench-cart",
                        "currency": "EUR",
                        "total": 59.9,
                        "url": "https://127.0.0.1/panier?restore=1",
                        "items": [
                            {"sku": "A1", "name": "Chemise", "price": 29.95, "quantity": 2},
                        ],
                    },
                },
            ],
        }
    )
    env["RELANCE_BATCH"] = batch
    # A product page's batch: its page view and its product view (docs/collector.md).
    env["RELANCE_VIEWS_BATCH"] = json.dumps(
        {
            "site": public_key,
            "vid": "VISITOR_ID",
            "events": [
                {"type": "page_view", "url": "https://127.0.0.1/p/chemise", "title": "Chemise"},
                {
                    "type": "product_view",
                    "product": {
                        "id": "P1",
                        "sku": "A1",
                        "name": "Chemise",
                        "price": 29.95,
                        "currency": "EUR",
                        "url": "https://127.0.0.1/p/chemise",
                        "image": "https://cdn.example/chemise.jpg",
                        "available": True,
                    },
                },
            ],
        }
    )
    env["RELANCE_KEY"] = public_key
    server = web_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz")
        snippet = urllib.request.urlopen(f"{base}/t.js").read()
        report.figures["snippet_bytes"] = len(snippet)
        report.figures["snippet_gzip_bytes"] = len(gzip.compress(snippet, 9))
        pixel = (
            f"{base}/t/p.gif?site={public_key}&vid={VID}&type=page_view"
            "&url=https%3A%2F%2F127.0.0.1%2F"
        )
        script = str(ROOT / "bench" / "collector.lua")
        for connections in (4, 64):
            env["RELANCE_RUN"] = f"{int(time.time())}c{connections}"
            report.runs.append(wrk("noop", f"{base}/bench/noop", connections, env))
            report.runs.append(wrk("collector", f"{base}/t/e", connections, env, script))
            report.runs.append(wrk("pixel", pixel, connections, env))
        if not SCRIPTS:
            report.notes.append("BENCH_SCRIPTS=0: the snippet's page cost is not measured")
        elif os.path.exists(CHROMIUM):
            report.figures.update(page_cost(base, public_key))
        else:
            report.notes.append(
                f"no Chromium at {CHROMIUM}: the snippet's page cost is not measured"
            )
        workers = children(server.pid)
        report.figures["web_worker_rss_mb"] = round(max(rss_mb(pid) for pid in workers), 1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report.runs.extend(threaded(env, port))
    report.runs.extend(in_the_loop(env, port))
    if env.get("REDIS_URL"):
        report.figures.update(ingest(env, manage))
    else:
        report.notes.append("no REDIS_URL: the collector writes in the request (no buffer)")
    if not SCRIPTS:
        report.notes.append("BENCH_SCRIPTS=0: dispatch and dashboard are not measured")
    elif report.database == "postgres" and env.get("REDIS_URL"):
        report.figures.update(dispatch(env))
        report.figures.update(browse(env))
        report.figures.update(dashboard(env))
        if "dashboard_10m_ms" not in report.figures:
            report.notes.append(
                "dashboard at 10M sends: BENCH_DASHBOARD_LARGE_SENDS=10000000 (about an hour)"
            )
    else:
        report.notes.append("the dispatch benchmark needs PostgreSQL and Redis")
    if SCRIPTS:
        report.figures.update(email_sending(env))
    report.figures["celery_worker_rss_mb"] = celery_rss(env)

    by = {(run.name, run.connections): run for run in report.runs}
    for connections in (4, 64):
        noop = by[("noop", connections)].requests_per_second
        for name in ("collector", "pixel"):
            report.figures[f"{name}_vs_noop_rps_at_{connections}"] = ratio(
                by[(name, connections)].requests_per_second, noop
            )
    report.figures["collector_p99_ms_at_4"] = by[("collector", 4)].p99_ms
    threads = THREADS
    for connections in (4, 64):
        report.figures[f"threaded_collector_vs_noop_rps_at_{connections}"] = ratio(
            by[(f"collector-t{threads}", connections)].requests_per_second,
            by[(f"noop-t{threads}", connections)].requests_per_second,
        )
    report.figures["threaded_collector_p99_ms_at_4"] = by[(f"collector-t{threads}", 4)].p99_ms
    for connections in (4, 64):
        noop = by[("noop", connections)].requests_per_second
        for name in ("collector", "collector_views", "pixel"):
            run_name = name.replace("_", "-")
            report.figures[f"loop_{name}_vs_noop_rps_at_{connections}"] = ratio(
                by[(f"{run_name}-loop", connections)].requests_per_second, noop
            )
    report.figures["loop_collector_p99_ms_at_4"] = by[("collector-loop", 4)].p99_ms
    report.figures["loop_collector_views_p99_ms_at_4"] = by[("collector-views-loop", 4)].p99_ms
    if "ingest_events_per_second" in report.figures:
        for key, name in (("", "collector"), ("loop_", "collector-loop")):
            collector = by[(name, 64)].requests_per_second
            report.figures[f"ingest_events_vs_{key}collector_rps"] = round(
                report.figures["ingest_events_per_second"] / collector, 2
            )
    if shutil.which("nginx"):
        for run in nginx_empty_gif(env, workdir):
            report.runs.append(run)
            report.figures[f"collector_vs_nginx_rps_at_{run.connections}"] = ratio(
                by[("collector", run.connections)].requests_per_second, run.requests_per_second
            )
    else:
        report.notes.append(
            "nginx is not installed (apt-get install nginx-light): no empty_gif reference"
        )
    write(report)
    return 0


def ratio(value: float, reference: float) -> float | None:
    """``value`` over the run's reference, or None when the reference answered nothing in
    its run (a 1-second run on a machine busy elsewhere can): no figure rather than a crash."""
    return round(value / reference, 3) if reference else None


NGINX_CONF = """worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /p.gif {{ empty_gif; }}
    }}
}}
"""


def web_server(
    env: dict[str, str], port: int, threads: int = 1, log: Any = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """The production web command (docker-compose's): gunicorn, WEB_CONCURRENCY workers,
    sync unless ``threads`` > 1 (then gunicorn's threaded workers); the fault tests start
    theirs with it too, logging to ``log``."""
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "retargeting.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            env.get("WEB_CONCURRENCY", "2"),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not subprocess.DEVNULL else subprocess.DEVNULL,
    )
    return server


def collector_server(
    env: dict[str, str], port: int, log: Any = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """The collector's server command (docker-compose's collector service): uvicorn,
    WEB_CONCURRENCY processes, each answering the collector in its event loop
    (retargeting.tracking.loop); the fault tests start theirs with it too."""
    return subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "retargeting.asgi:application",
            *COLLECTOR_OPTIONS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            env.get("WEB_CONCURRENCY", "2"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not subprocess.DEVNULL else subprocess.DEVNULL,
    )


# As docker-compose's collector service runs uvicorn: its C parser and loop, no access log,
# and the client's address as Relance reads it (TRUSTED_PROXIES), not rewritten by uvicorn.
COLLECTOR_OPTIONS = (
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--no-proxy-headers",
    "--log-level",
    "warning",
)


def in_the_loop(env: dict[str, str], port: int) -> list[Run]:
    """The collector and the pixel in the collector's server (an event loop per process,
    the appends of a turn in one Redis round trip), measured against the no-op view of the
    web server's run: Django's floor on the same cores."""
    server = collector_server(env, port)
    base = f"http://127.0.0.1:{port}"
    script = str(ROOT / "bench" / "collector.lua")
    pixel = f"{base}/t/p.gif?site={env['RELANCE_KEY']}&vid={VID}&url=https%3A%2F%2F127.0.0.1%2F"
    runs = []
    try:
        wait_for(f"{base}/healthz")
        for connections in (4, 64):
            env["RELANCE_RUN"] = f"{int(time.time())}l{connections}"
            for name, url, lua in (
                ("collector", f"{base}/t/e", script),
                ("collector-views", f"{base}/t/e", script),
                ("pixel", pixel, ""),
            ):
                batch = env["RELANCE_VIEWS_BATCH" if name == "collector-views" else "RELANCE_BATCH"]
                run = wrk(name, url, connections, {**env, "RELANCE_BATCH": batch}, lua)
                run.name = f"{name}-loop"
                runs.append(run)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return runs


def threaded(env: dict[str, str], port: int) -> list[Run]:
    """The no-op view and the collector again, in the same server with threaded workers
    (WEB_THREADS): there a process answers several requests at once and the collector's
    appends of concurrent requests share a Redis round trip (buffer.GroupAppender)."""
    server = web_server(env, port, THREADS)
    base = f"http://127.0.0.1:{port}"
    script = str(ROOT / "bench" / "collector.lua")
    runs = []
    try:
        wait_for(f"{base}/healthz")
        for connections in (4, 64):
            env["RELANCE_RUN"] = f"{int(time.time())}t{connections}"
            for name, url, lua in (
                ("noop", f"{base}/bench/noop", ""),
                ("collector", f"{base}/t/e", script),
            ):
                run = wrk(name, url, connections, env, lua)
                run.name = f"{name}-t{THREADS}"
                runs.append(run)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return runs


def nginx_empty_gif(env: dict[str, str], workdir: Path) -> list[Run]:
    """The ceiling: nginx answering a 1x1 GIF from memory, 2 workers, on the same cores."""
    directory = workdir / "nginx"
    directory.mkdir()
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, port=port))
    server = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/p.gif")
        return [wrk("nginx", f"http://127.0.0.1:{port}/p.gif", c, env) for c in (4, 64)]
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait(timeout=30)


def ingest(env: dict[str, str], manage: Callable[..., str]) -> dict[str, float]:
    """Drain what the runs left in the collector's buffer with two `manage.py ingest`
    processes (one per core), and time it."""
    # Rows written per buffered event: an event row, or a product view's row of the day (each
    # request of the runs is a new visitor, so each product view is a row of its own).
    count = (
        "from retargeting.tracking.models import Event, ProductView; "
        "print(Event.objects.count(), ProductView.objects.count())"
    )

    def counts() -> tuple[int, int]:
        events, views = manage("shell", "-c", count).split()[-2:]
        return int(events), int(views)

    before, views_before = counts()
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [PYTHON, "manage.py", "ingest", "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [json.loads(process.communicate()[0]) for process in processes]
    seconds = time.monotonic() - started
    after, views_after = counts()
    views = views_after - views_before
    events = after - before + views
    entries = sum(result["written"] for result in results)
    return {
        "ingest_entries": entries,
        "ingest_events": events,
        "ingest_product_views": views,
        "ingest_seconds": round(seconds, 2),
        "ingest_events_per_second": round(events / seconds),
        "ingest_entries_per_second": round(entries / seconds),
    }


def dispatch(env: dict[str, str]) -> dict[str, float]:
    """bench/dispatch.py: detection and planning over BENCH_CARTS carts (BENCH_ELIGIBLE
    eligible), then BENCH_SEND sends through the Twilio emulator with two workers, and
    BENCH_SEND_ALONE in one process beside as many messages from a bare SDK loop."""
    sizes = [
        os.environ.get("BENCH_CARTS", "1000000"),
        os.environ.get("BENCH_ELIGIBLE", "100000"),
        os.environ.get("BENCH_SEND", "5000"),
        os.environ.get("BENCH_SEND_ALONE", "2000"),
    ]
    return script("dispatch.py", sizes, env)


def browse(env: dict[str, str]) -> dict[str, float]:
    """bench/browse.py: one pass planning browse and cart reminders over BENCH_VIEWS product
    views (10,000,000) and BENCH_BROWSE_CARTS carts (1,000,000), BENCH_BROWSE_ELIGIBLE
    (100,000) of their browsers a consenting contact's; beside it the same shop's pass with
    the cart flow alone (the reference)."""
    sizes = [
        os.environ.get("BENCH_VIEWS", "10000000"),
        os.environ.get("BENCH_BROWSE_CARTS", "1000000"),
        os.environ.get("BENCH_BROWSE_ELIGIBLE", "100000"),
    ]
    return script("browse.py", sizes, env)


def email_sending(env: dict[str, str]) -> dict[str, float]:
    """bench/email_sending.py: BENCH_EMAIL_SEND email reminders delivered by Relance in one
    process to a local SMTP server, beside as many from a bare smtplib loop (either database)."""
    return script("email_sending.py", [os.environ.get("BENCH_EMAIL_SEND", "2000")], env)


def dashboard(env: dict[str, str]) -> dict[str, float]:
    """bench/dashboard.py: the overview for a shop with BENCH_DASHBOARD_SENDS sends, and with
    BENCH_DASHBOARD_LARGE_SENDS (10,000,000) too when it is set: that shop's fill and the
    rollup of its 30 days take about an hour here, beyond make bench's 15 minutes."""
    figures = script("dashboard.py", [os.environ.get("BENCH_DASHBOARD_SENDS", "1000000")], env)
    large = os.environ.get("BENCH_DASHBOARD_LARGE_SENDS")
    if large:
        for name, value in script("dashboard.py", [large], env).items():
            figures[name.replace("dashboard_", "dashboard_10m_", 1)] = value
    return figures


def script(name: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"bench: {name} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def page_cost(base: str, public_key: str) -> dict[str, float]:
    """bench/snippet.py: the snippet's main-thread time on a page load in Chromium."""
    sys.path.insert(0, str(ROOT))
    from bench import snippet

    return snippet.measure(base, public_key)


def celery_rss(env: dict[str, str]) -> float | None:
    """The resident memory of a Celery worker process once it is ready."""
    worker = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "retargeting.celery:app",
            "worker",
            "--concurrency=1",
            "--pool=prefork",
            "--loglevel=INFO",
            "-Q",
            "dispatch,sms,ingest",
            "-n",
            f"bench-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        assert worker.stderr is not None
        while time.monotonic() < deadline:
            line = worker.stderr.readline()
            if "ready." in line:
                break
        time.sleep(1)
        pids = [worker.pid, *children(worker.pid)]
        return round(max(rss_mb(pid) for pid in pids), 1)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def write(report: Report) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{report.database}-{report.cache.replace(' ', '-')}.json"
    data = asdict(report)
    path.write_text(json.dumps(data, indent=2) + "\n")
    figures = report.figures
    rows = [
        (
            "collector server: collector / no-op, 4 c.",
            figures["loop_collector_vs_noop_rps_at_4"],
            ">= 1.0",
        ),
        (
            "collector server: collector / no-op, 64 c.",
            figures["loop_collector_vs_noop_rps_at_64"],
            ">= 1.0",
        ),
        ("collector server: p99 at 4 conn. (ms)", figures["loop_collector_p99_ms_at_4"], "<= 3"),
        (
            "collector server: product page / no-op, 64 c.",
            figures["loop_collector_views_vs_noop_rps_at_64"],
            ">= 2.0",
        ),
        (
            "collector server: product page / no-op, 4 c.",
            figures["loop_collector_views_vs_noop_rps_at_4"],
            "",
        ),
        (
            "collector server: product page p99, 4 c. (ms)",
            figures["loop_collector_views_p99_ms_at_4"],
            "",
        ),
        ("collector server: pixel / no-op, 64 c.", figures["loop_pixel_vs_noop_rps_at_64"], ""),
        ("web server: collector / no-op view, 4 c.", figures["collector_vs_noop_rps_at_4"], ""),
        ("web server: collector / no-op view, 64 c.", figures["collector_vs_noop_rps_at_64"], ""),
        (
            "collector / nginx empty_gif, req/s, 64 c.",
            figures.get("collector_vs_nginx_rps_at_64"),
            "",
        ),
        ("web server: pixel / no-op view, 4 c.", figures["pixel_vs_noop_rps_at_4"], ""),
        ("web server: pixel / no-op view, 64 c.", figures["pixel_vs_noop_rps_at_64"], ""),
        ("web server: collector p99 at 4 c. (ms)", figures["collector_p99_ms_at_4"], ""),
        (
            f"threaded ({THREADS}): collector / no-op, 4 c.",
            figures["threaded_collector_vs_noop_rps_at_4"],
            "",
        ),
        (
            f"threaded ({THREADS}): collector / no-op, 64 c.",
            figures["threaded_collector_vs_noop_rps_at_64"],
            "",
        ),
        (
            f"threaded ({THREADS}): collector p99, 4 c. (ms)",
            figures["threaded_collector_p99_ms_at_4"],
            "",
        ),
        (
            "ingest events/s / collector server req/s",
            figures.get("ingest_events_vs_loop_collector_rps"),
            ">= 5",
        ),
        (
            "ingest events/s / web server collector",
            figures.get("ingest_events_vs_collector_rps"),
            "",
        ),
        ("dispatch: plan 100k of 1M carts (s)", figures.get("dispatch_plan_seconds"), "< 10"),
        ("dispatch: planning, per cart (µs)", figures.get("dispatch_plan_us_per_cart"), ""),
        (
            "dispatch: planning, per reminder planned (µs)",
            figures.get("dispatch_plan_us_per_planned"),
            "",
        ),
        ("sending: SMS/s, 2 workers, emulator", figures.get("send_sms_per_second"), ">= 500"),
        ("sending: worker CPU per SMS (ms)", figures.get("send_cpu_ms_per_sms"), ""),
        ("sending: bare SDK loop, 1 process (SMS/s)", figures.get("bare_sdk_sms_per_second"), ""),
        (
            "sending: Relance, 1 process (SMS/s)",
            figures.get("send_one_process_sms_per_second"),
            "",
        ),
        ("sending: Relance / bare SDK, 1 process", figures.get("send_vs_bare_sdk"), ">= 0.5"),
        (
            "email: bare smtplib loop, 1 process (/s)",
            figures.get("bare_smtplib_emails_per_second"),
            "",
        ),
        ("email: Relance, 1 process (/s)", figures.get("email_one_process_per_second"), ""),
        (
            "email: Relance / bare smtplib, 1 process",
            figures.get("email_send_vs_bare_smtplib"),
            ">= 0.5",
        ),
        ("dashboard at 1M sends, overview (ms)", figures.get("dashboard_ms"), "< 300"),
        ("dashboard at 1M: one day's rollup (ms)", figures.get("dashboard_rollup_day_ms"), ""),
        ("dashboard at 1M: today, live (ms)", figures.get("dashboard_today_ms"), ""),
        (
            "dashboard at 1M: today live / one day's rollup",
            figures.get("dashboard_today_vs_rollup_day"),
            "<= 1",
        ),
        ("dashboard at 10M sends, overview (ms)", figures.get("dashboard_10m_ms"), "< 1000"),
        (
            "dashboard at 10M: one day's rollup (ms)",
            figures.get("dashboard_10m_rollup_day_ms"),
            "",
        ),
        ("snippet gzipped (bytes)", figures["snippet_gzip_bytes"], "< 3072"),
        (
            "snippet main thread, first page (ms)",
            figures.get("snippet_main_thread_ms_first_visit"),
            "",
        ),
        (
            "snippet main thread, next page (ms)",
            figures.get("snippet_main_thread_ms_next_visit"),
            "",
        ),
        ("snippet scripts, first page (ms)", figures.get("snippet_script_ms_first_visit"), ""),
        ("snippet scripts, next page (ms)", figures.get("snippet_script_ms_next_visit"), ""),
        ("snippet: one cart push (µs)", figures.get("snippet_push_us"), ""),
        ("web worker RSS (MB)", figures["web_worker_rss_mb"], "< 150"),
        ("Celery worker RSS, ready (MB)", figures["celery_worker_rss_mb"], "< 150"),
    ]
    print(f"\nRelance benchmarks, {report.date}, {report.database} + {report.cache}")
    print(f"{'run':<12}{'conn.':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for run in report.runs:
        print(
            f"{run.name:<12}{run.connections:>6}{run.requests_per_second:>10.0f}"
            f"{run.p50_ms:>9.2f}{run.p99_ms:>9.2f}{run.errors:>8}"
        )
    print(f"\n{'figure':<42}{'value':>10}  target")
    for label, value, target in rows:
        print(f"{label:<42}{value!s:>10}  {target}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    raise SystemExit(main())
