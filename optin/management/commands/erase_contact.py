"""``manage.py erase_contact --site SITE_ID (--phone +33... | --email ADDRESS)``: RGPD erasure
of one number or email address."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from optin.erasure import erase_contact
from retargeting.channels.email_addresses import InvalidEmail
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone


class Command(BaseCommand):
    help = (
        "Erase a phone number's or an email address's personal data from a site (an opt-out "
        "is remembered as a keyed hash)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, required=True, help="The site's id.")
        address = parser.add_mutually_exclusive_group(required=True)
        address.add_argument("--phone", help="The number, e.g. +33612345678.")
        address.add_argument("--email", help="The email address, e.g. marie@example.fr.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(pk=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with id {options['site']}")
        try:
            report = erase_contact(
                site=site, raw_phone=options["phone"] or "", raw_email=options["email"] or ""
            )
        except (InvalidPhone, InvalidEmail) as exc:
            raise CommandError(str(exc)) from exc
        kept = ", kept as do-not-contact (it had opted out)" if report.kept_do_not_contact else ""
        self.stdout.write(
            f"erased: contact {'found' if report.contact_found else 'not found'}, "
            f"{report.visitors_deleted} browser(s) deleted with their events and carts, "
            f"{report.events_scrubbed} events scrubbed, {report.messages_deleted} messages "
            f"deleted{kept}"
        )
