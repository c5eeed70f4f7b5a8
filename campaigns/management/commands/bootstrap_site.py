"""``manage.py bootstrap_site``: create a shop's site and default flow, print its keys."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import DEFAULT_DELAY_MINUTES
from campaigns.onboarding import bootstrap_site
from retargeting.sites.models import QuietHours


def _errors_in_one_line(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "Create a site with a default cart-abandonment flow and print its keys as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--domain",
            action="append",
            required=True,
            dest="domains",
            help="A host allowed to send events (repeat for more; subdomains included).",
        )
        parser.add_argument("--country", required=True, help="ISO 3166 code, e.g. FR.")
        parser.add_argument("--sender", default="", help="From: a number or alphanumeric ID.")
        parser.add_argument("--delay-minutes", type=int, default=DEFAULT_DELAY_MINUTES)
        parser.add_argument("--quiet-hours", choices=["default", "none"], default="default")
        parser.add_argument("--double-opt-in", choices=["on", "off"], default="on")
        parser.add_argument(
            "--email-fallback",
            choices=["on", "off"],
            default="off",
            help="on: the default step goes by email to a contact without live SMS consent or "
            "number, when it has live email consent.",
        )
        parser.add_argument(
            "--email-from", default="", help='The site\'s email sender, "Name <address>".'
        )
        parser.add_argument(
            "--postal-address", default="", help="Printed in every marketing email."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["delay_minutes"] < 1:
            raise CommandError("--delay-minutes must be at least 1.")
        try:
            result = bootstrap_site(
                name=options["name"],
                domains=options["domains"],
                country=options["country"],
                sender=options["sender"],
                delay_minutes=options["delay_minutes"],
                quiet_hours=(
                    QuietHours.NONE if options["quiet_hours"] == "none" else QuietHours.FR_STRICT
                ),
                double_opt_in=options["double_opt_in"] == "on",
                email_fallback=options["email_fallback"] == "on",
                email_from=options["email_from"],
                postal_address=options["postal_address"],
            )
        except ValidationError as exc:
            raise CommandError(_errors_in_one_line(exc)) from exc
        self.stdout.write(json.dumps(result.as_json()))
