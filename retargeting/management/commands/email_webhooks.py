"""``manage.py email_webhooks``: the URL to paste in the email provider's webhook settings."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retargeting.gateways import email_available, registry


class Command(BaseCommand):
    help = (
        "Print, as JSON, the tracking webhook URL of the email provider (EMAIL_PROVIDER): with "
        "Brevo, the URL to paste in its transactional webhook settings. It carries a secret: "
        "keep it so."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not email_available():
            raise CommandError("no email provider (EMAIL_URL or EMAIL_PROVIDER)")
        provider, url = registry.webhook_url("email")
        if not url:
            raise CommandError(f"the {provider.alias} email provider receives no webhooks")
        self.stdout.write(json.dumps({"email_provider": provider.alias, "webhook_url": url}))
