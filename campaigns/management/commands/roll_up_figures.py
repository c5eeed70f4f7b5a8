"""``manage.py roll_up_figures``: count the dashboard's daily figures now."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from campaigns import rollups
from retargeting.sites.models import Site


class Command(BaseCommand):
    help = (
        "Roll up the dashboard's figures: by default the days never rolled up and the last "
        "three, as the five-minute task does; --open for every day that can still change, "
        "--all for the site's whole history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, help="Only this site (its id).")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--open", action="store_true", help="Every day still open.")
        which.add_argument("--all", action="store_true", help="Every day since the first.")

    def handle(self, *args: Any, **options: Any) -> None:
        sites = Site.objects.order_by("pk")
        if options["site"] is not None:
            sites = sites.filter(pk=options["site"])
            if not sites.exists():
                raise CommandError(f"no site {options['site']}")
        total = 0
        try:
            for site in sites:
                days = self._days(site, options)
                rollups.roll_up(site=site, days=days)
                total += len(days)
        except DatabaseError as exc:
            raise CommandError(f"roll-up failed: {exc}".splitlines()[0]) from exc
        self.stdout.write(json.dumps({"sites": sites.count(), "days": total}))

    @staticmethod
    def _days(site: Site, options: dict[str, Any]) -> list[date]:
        today = rollups.local_today(site)
        if options["all"]:
            start = rollups.first_day(site)
        elif options["open"]:
            return rollups.still_open(site)
        else:
            return rollups.recent_days(site)
        return list(rollups.days(start, today))
