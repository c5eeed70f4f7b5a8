"""``manage.py connect_platform``: the webhook URL to paste in a shop platform's settings."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retargeting.platforms.connections import TOPICS, connect
from retargeting.platforms.models import Platform
from retargeting.sites.models import Site


class Command(BaseCommand):
    help = (
        "Store a shop platform's webhook signing secret for a site and print, as JSON, the "
        "webhook_url to paste in the platform's webhook settings (docs/platforms.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, required=True, help="The site's id.")
        parser.add_argument(
            "--platform", required=True, choices=["shopify", "woocommerce"], help="The platform."
        )
        parser.add_argument(
            "--secret",
            required=True,
            help="Shopify: the key shown under Settings → Notifications → Webhooks; "
            "WooCommerce: the secret given to each webhook.",
        )
        parser.add_argument(
            "--shop-domain", default="", help="The store's own host (e.g. x.myshopify.com)."
        )
        parser.add_argument(
            "--sms-consent-field",
            default="",
            help="WooCommerce: the order meta key of the checkout's SMS consent checkbox.",
        )
        parser.add_argument(
            "--sms-consent-text",
            default="",
            help="WooCommerce: the exact wording shown next to that checkbox.",
        )
        parser.add_argument(
            "--email-consent-field",
            default="",
            help="WooCommerce: the order meta key of the checkout's email marketing checkbox.",
        )
        parser.add_argument(
            "--email-consent-text",
            default="",
            help="WooCommerce: the exact wording shown next to that checkbox.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(pk=options["site"]).first()
        if site is None:
            raise CommandError(f"no site {options['site']}")
        try:
            connection = connect(
                site=site,
                platform=options["platform"],
                secret=options["secret"],
                shop_domain=options["shop_domain"],
                sms_consent_field=options["sms_consent_field"],
                sms_consent_text=options["sms_consent_text"],
                email_consent_field=options["email_consent_field"],
                email_consent_text=options["email_consent_text"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            json.dumps(
                {
                    "site_id": site.pk,
                    "platform": connection.platform,
                    "webhook_url": connection.webhook_url,
                    "topics": TOPICS[Platform(connection.platform)],
                }
            )
        )
