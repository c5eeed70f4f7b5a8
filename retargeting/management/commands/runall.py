"""``manage.py runall``: the web server, a Celery worker and beat, as child processes.

This is what `make run` starts. Ctrl-C (or SIGTERM) stops every child; if one child dies,
the others are stopped too and the command exits non-zero, so nothing keeps running half.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retargeting.embedded import ensure_broker_folders, prune_processed_messages

CELERY_APP = "retargeting.celery:app"


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat; Ctrl-C stops them all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
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

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in commands.items():
                # A session of its own: Ctrl-C reaches only this command, which then stops
                # each child and everything the child started.
                children[name] = subprocess.Popen(command, start_new_session=True)  # noqa: S603
            self._print_urls(options["host"], options["port"])
            failed = None
            while not stopping and failed is None:
                time.sleep(0.5)
                failed = next((n for n, p in children.items() if p.poll() is not None), None)
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
