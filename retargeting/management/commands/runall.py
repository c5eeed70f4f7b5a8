"""``manage.py runall``: the web server, a Celery worker and beat, as child processes.

This is what `make run` starts. Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stops every
child; if one child dies, the others are stopped too and the command exits non-zero, so nothing
keeps running half. Nothing outlives the command either: on Linux each child is told by the
kernel when the command dies, even by SIGKILL, and the command itself stops everything once
its own parent (`make`) is gone. A busy port stops it before any child starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retargeting.embedded import ensure_broker_folders, prune_processed_messages
from retargeting.ports import in_use_message, is_free

CELERY_APP = "retargeting.celery:app"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat; Ctrl-C stops them all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        if not is_free(options["host"], options["port"]):
            raise CommandError(in_use_message(options["port"]))
        ensure_broker_folders()
        processed = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("processed_folder")
        if processed:
            prune_processed_messages(folder=str(processed), older_than_seconds=0)
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "web": [
                python,
                manage,
                "runserver",
                f"{options['host']}:{options['port']}",
                "--noreload",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                CELERY_APP,
                "worker",
                "--loglevel=INFO",
                "--queues=dispatch,sms,ingest",
                "--pool=solo",
                "--hostname=relance@%h",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                CELERY_APP,
                "beat",
                "--loglevel=INFO",
                f"--schedule={schedule}",
            ],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            # `nohup make run` asks to survive the terminal: an ignored signal stays ignored.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, stop)
        parent = os.getppid()
        try:
            for name, command in commands.items():
                # A session of its own: Ctrl-C reaches only this command, which then stops
                # each child and everything the child started.
                children[name] = subprocess.Popen(  # noqa: S603
                    command, start_new_session=True, preexec_fn=_ended_with(os.getpid())
                )
            self._print_urls(options["host"], options["port"])
            failed = None
            while not stopping and failed is None:
                time.sleep(0.5)
                failed = next((n for n, p in children.items() if p.poll() is not None), None)
                # Our parent (make, a shell) is gone, SIGKILLed maybe: nobody is left to say
                # stop, and the port and the sending would stay taken.
                stopping = stopping or os.getppid() != parent
        finally:
            self._stop_all(children)
        if failed is not None:
            raise CommandError(
                f"the {failed} process stopped (exit code {children[failed].returncode}); "
                "stopped the others"
            )

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
