"""``manage.py runall``: the web server, a Celery worker and beat, as child processes.

This is what `make run` starts. Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stops every
child; if one child dies, the others are stopped too and the command exits non-zero, so nothing
keeps running half. Nothing outlives the command either: on Linux each child is told by the
kernel when the command dies, even by SIGKILL, and the command itself stops everything once
its own parent (`make`) is gone. A busy port stops it before any child starts, in one line
naming ``PORT=``; so does a port taken between that check and the web server's bind.

The console stays quiet: no Celery banner, no development server banner, no line per request,
task or scheduler tick (settings.LOGGING); warnings and errors still show. The URLs and the demo
login are printed once the web server answers its health check, as the last lines on screen.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retargeting.celery import STARTED_FILE
from retargeting.embedded import ensure_broker_folders, prune_processed_messages
from retargeting.health import PATH as HEALTH_PATH
from retargeting.ports import in_use_message, is_free

CELERY_APP = "retargeting.celery:app"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# The URLs are printed once the web server answers, the worker and beat have started, and no
# process has written for this long; or, whatever is still starting, after STARTED_WITHIN.
SETTLE_SECONDS = 0.5
STARTED_WITHIN_SECONDS = 60
# What the development server writes when its bind fails (django's runserver).
PORT_IN_USE = b"That port is already in use"


class _Console:
    """Copies the children's lines to the console as they come, and remembers when the last
    came (the URLs wait for start-up's lines) and whether the web server's port was taken."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.last = time.monotonic()
        self.port_in_use = False
        self.threads: list[threading.Thread] = []

    def follow(self, pipe: IO[bytes]) -> None:
        thread = threading.Thread(target=self._copy, args=(pipe,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _copy(self, pipe: IO[bytes]) -> None:
        for line in iter(pipe.readline, b""):
            with self.lock:
                self.last = time.monotonic()
                if PORT_IN_USE in line:
                    self.port_in_use = True  # said in one line of ours instead
                    continue
                with contextlib.suppress(OSError, ValueError):
                    self.out.write(line)
                    self.out.flush()

    def quiet_for(self, seconds: float) -> bool:
        with self.lock:
            return time.monotonic() - self.last >= seconds

    def close(self) -> None:
        for thread in self.threads:
            thread.join(timeout=5)


def _answers(host: str, port: int) -> bool:
    """Whether the web server answers its health check."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{HEALTH_PATH}", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat; Ctrl-C stops them all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not is_free(host, port):
            self._port_in_use(host, port)
        ensure_broker_folders()
        processed = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("processed_folder")
        if processed:
            prune_processed_messages(folder=str(processed), older_than_seconds=0)
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        # Celery's banners are left out (-q); what every task and tick logs is at a level the
        # console does not show (settings.LOGGING: LOG_LEVEL=DEBUG shows it), its warnings
        # and errors still do.
        level = f"--loglevel={settings.LOG_LEVEL}"
        commands = {
            "web": [python, manage, "runserver", f"{host}:{port}", "--noreload"],
            "worker": [
                *(python, "-m", "celery", "-A", CELERY_APP, "-q", "worker", level),
                *("--queues=dispatch,sms,ingest", "--pool=solo", "--hostname=relance@%h"),
            ],
            "beat": [
                *(python, "-m", "celery", "-A", CELERY_APP, "-q", "beat", level),
                f"--schedule={schedule}",
            ],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        console = _Console(sys.stdout.buffer)
        # The worker and beat each touch a file here once started (retargeting.celery).
        started_dir = Path(tempfile.mkdtemp(prefix="relance-run-"))
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            # `nohup make run` asks to survive the terminal: an ignored signal stays ignored.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, stop)
        parent = os.getppid()
        failed = None
        try:
            for name, command in commands.items():
                # A session of its own: Ctrl-C reaches only this command, which then stops
                # each child and everything the child started. The children's output goes
                # through this command, which drops the development server's banner and
                # reads its "port in use".
                children[name] = subprocess.Popen(  # noqa: S603
                    command,
                    env={
                        **os.environ,
                        STARTED_FILE: str(started_dir / name),
                        "PYTHONUNBUFFERED": "1",
                    },
                    start_new_session=True,
                    preexec_fn=_ended_with(os.getpid()),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL if name == "web" else subprocess.PIPE,
                    stderr=subprocess.PIPE if name == "web" else subprocess.STDOUT,
                )
                pipe = children[name].stderr if name == "web" else children[name].stdout
                assert pipe is not None
                console.follow(pipe)
            announced = False
            started = time.monotonic()
            while not stopping and failed is None:
                time.sleep(0.25)
                failed = next((n for n, p in children.items() if p.poll() is not None), None)
                # Our parent (make, a shell) is gone, SIGKILLed maybe: nobody is left to say
                # stop, and the port and the sending would stay taken.
                stopping = stopping or os.getppid() != parent
                # The URLs once the web server answers and the others have started and said
                # what they had to say at start-up: the last lines on screen.
                settled = (
                    all((started_dir / name).exists() for name in ("worker", "beat"))
                    and console.quiet_for(SETTLE_SECONDS)
                ) or time.monotonic() - started > STARTED_WITHIN_SECONDS
                if not announced and failed is None and settled and _answers(host, port):
                    self._print_urls(host, port)
                    announced = True
        finally:
            self._stop_all(children)
            console.close()
            shutil.rmtree(started_dir, ignore_errors=True)
        if failed is not None:
            if failed == "web" and console.port_in_use:
                self._port_in_use(host, port)
            raise CommandError(
                f"the {failed} process stopped (exit code {children[failed].returncode}); "
                "stopped the others"
            )

    def _port_in_use(self, host: str, port: int) -> None:
        """One line naming PORT=, whether the check or the web server's bind found it."""
        self.stderr.write(in_use_message(port, host=host))
        raise SystemExit(1)

    def _print_urls(self, host: str, port: int) -> None:
        base = f"http://{host}:{port}"
        lines = [
            "",
            "Relance is running (web, worker, beat). Ctrl-C stops everything.",
            f"  Start here:  {base}/",
            f"  Demo shop:   {base}/demo/shop/",
            f"  Phones:      {base}/dev/phone/",
            f"  Mailbox:     {base}/dev/mail/",
            f"  Dashboard:   {base}/dashboard/",
            f"  Admin:       {base}/admin/",
            "  Demo login:  demo / relance-demo",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    @staticmethod
    def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
        for process in children.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in children.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _ended_with(parent: int) -> Callable[[], None] | None:
    """A child's ``preexec_fn`` (Linux): the kernel sends the child SIGTERM when ``parent``
    dies, however it dies (SIGKILL leaves it no time to stop its children)."""
    if not sys.platform.startswith("linux"):
        return None
    # Loaded before the fork: the child only calls it.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # died between the fork and the prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec
