"""``manage.py add_flow``: add an active flow of one step to a site, print its ids."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import StepChannel
from campaigns.onboarding import FlowRefused, add_flow
from retargeting.sites.models import Site

TRIGGERS = (
    "cart_abandoned",
    "browse_abandoned",
    "back_in_stock",
    "welcome",
    "order_confirmation",
    "shipping_update",
    "review_request",
)
"""The contract's names; those not built yet are refused in one line, naming the built ones
(campaigns.onboarding.add_flow)."""


class Command(BaseCommand):
    help = "Add an active flow with one step to a site and print its ids as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, required=True, help="The site's id.")
        parser.add_argument("--trigger", required=True, choices=TRIGGERS)
        parser.add_argument(
            "--delay-minutes",
            type=int,
            default=None,
            help="Counted from the trigger's moment (a cart's last change, the confirmation, "
            "the order's status, the restock); default: the trigger's own.",
        )
        parser.add_argument("--channel", choices=StepChannel.values, default=StepChannel.SMS)
        parser.add_argument(
            "--text",
            default="",
            help="The SMS text (default: the trigger's, in the site's language).",
        )
        parser.add_argument("--subject", default="", help="The email's subject (email steps).")
        parser.add_argument("--name", default="", help="The flow's name (default: the site's).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["delay_minutes"] is not None and options["delay_minutes"] < 1:
            raise CommandError("--delay-minutes must be at least 1.")
        site = Site.objects.filter(pk=options["site"]).first()
        if site is None:
            raise CommandError(f"no site {options['site']}")
        try:
            flow = add_flow(
                site=site,
                trigger=options["trigger"],
                delay_minutes=options["delay_minutes"],
                channel=options["channel"],
                text=options["text"],
                subject=options["subject"],
                name=options["name"],
            )
        except FlowRefused as exc:
            raise CommandError(str(exc)) from exc
        step = flow.steps.get()
        self.stdout.write(json.dumps({"flow_id": flow.pk, "step_id": step.pk}))
