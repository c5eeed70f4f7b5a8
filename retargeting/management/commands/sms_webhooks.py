"""``manage.py sms_webhooks``: the URL to paste in the SMS provider's webhook settings."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retargeting.gateways import get_gateway


class Command(BaseCommand):
    help = (
        "Print, as JSON, the webhook URL of the SMS backend (SMS_BACKEND): with Brevo, the URL "
        "to paste in its transactional SMS webhook settings. It carries a secret: keep it so."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        gateway = get_gateway()
        url = gateway.status_callback_url()
        if not url:
            raise CommandError(f"the {gateway.name} backend receives no webhooks")
        self.stdout.write(json.dumps({"sms_backend": gateway.name, "webhook_url": url}))
