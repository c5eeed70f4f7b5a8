"""``manage.py ingest``: write the collector's buffered events to the database now."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retargeting.tracking import buffer


class Command(BaseCommand):
    help = (
        "Write the page views and carts waiting in the collector's Redis buffer to the "
        "database (the ingest task does it every second; this does it in the foreground)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-seconds", type=float, default=600.0, help="Stop after this long (600)."
        )
        parser.add_argument("--json", action="store_true", help="Print the counts as JSON.")
        parser.add_argument(
            "--replay-kept-aside",
            action="store_true",
            help="First put the entries kept aside (relance:events:dead) back in the buffer, "
            "to be written again once their cause is fixed; one that fails again is kept "
            "aside again.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not buffer.enabled():
            raise CommandError("the collector's buffer is off (COLLECTOR_BUFFER, REDIS_URL)")
        replayed = buffer.replay_kept_aside() if options["replay_kept_aside"] else 0
        started = time.monotonic()
        written = buffer.drain(max_seconds=options["max_seconds"])
        seconds = time.monotonic() - started
        left = buffer.pending()
        kept = buffer.kept_aside()
        if options["json"]:
            report = {
                "written": written,
                "seconds": seconds,
                "left": left,
                "kept_aside": kept,
                "replayed": replayed,
            }
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write(
                f"ingest: {written} entries written in {seconds:.1f} s, {left} left, "
                f"{kept} kept aside in {buffer.DEAD_LETTERS}"
            )
