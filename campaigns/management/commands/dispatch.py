"""``manage.py dispatch``: one full dispatch pass in the foreground."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from campaigns.dispatch import run_pass
from campaigns.rollups import roll_up_recent
from retargeting.gateways.opt_outs import poll_opt_outs


class Command(BaseCommand):
    help = "Detect abandoned carts, plan their sends and send what is due, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the counts as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # The STOPs the provider reported first, so that none of them is messaged now.
            poll_opt_outs()
            report = run_pass(deliver_inline=True)
            # The dashboard's figures, so that a fresh install shows them at once.
            roll_up_recent()
        except DatabaseError as exc:
            raise CommandError(f"dispatch pass failed: {exc}".splitlines()[0]) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            self.stdout.write(f"dispatch: {report}")
