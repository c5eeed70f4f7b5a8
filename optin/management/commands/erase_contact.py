"""``manage.py erase_contact --site SITE_ID --phone +33...``: RGPD erasure of one number."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from optin.erasure import erase_contact
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone


class Command(BaseCommand):
    help = "Erase a phone number's personal data from a site (a STOP is remembered as a hash)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, required=True, help="The site's id.")
        parser.add_argument("--phone", required=True, help="The number, e.g. +33612345678.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(pk=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with id {options['site']}")
        try:
            report = erase_contact(site=site, raw_phone=options["phone"])
        except InvalidPhone as exc:
            raise CommandError(str(exc)) from exc
        kept = ", kept as do-not-contact (it had said STOP)" if report.kept_do_not_contact else ""
        self.stdout.write(
            f"erased: contact {'found' if report.contact_found else 'not found'}, "
            f"{report.visitors_deleted} browser(s) deleted with their events and carts, "
            f"{report.events_scrubbed} events scrubbed, {report.messages_deleted} messages "
            f"deleted{kept}"
        )
