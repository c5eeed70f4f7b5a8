"""``manage.py sms_webhooks``: the URL to paste in the SMS provider's webhook settings."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retargeting.gateways import registry


class Command(BaseCommand):
    help = (
        "Print, as JSON, the webhook URL of the SMS provider (SMS_BACKEND): with Brevo, the URL "
        "to paste in its transactional SMS webhook settings. It carries a secret: keep it so."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        provider, url = registry.webhook_url("sms")
        if not url:
            raise CommandError(f"the {provider.alias} backend receives no webhooks")
        self.stdout.write(json.dumps({"sms_backend": provider.alias, "webhook_url": url}))
