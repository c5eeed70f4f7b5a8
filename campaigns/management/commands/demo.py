"""``manage.py demo``: load the demo data (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from campaigns.demo import DEMO_PASSWORD, DEMO_USERNAME, DemoNeedsOutbox, load_demo


class Command(BaseCommand):
    help = "Load the demo shop, its flow, a few consenting contacts and a marketer login."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = load_demo()
        except DemoNeedsOutbox as exc:
            raise CommandError(str(exc)) from exc
        state = "created" if result.created else "already loaded"
        self.stdout.write(
            f"demo site {result.site.name!r} {state} (public key {result.site.public_key})"
        )
        if result.secret_key:
            self.stdout.write(f"demo server API key (shown once): {result.secret_key}")
        self.stdout.write(f"demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}")
