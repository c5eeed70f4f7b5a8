import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("retargeting.gateways")


class GatewaysConfig(AppConfig):
    name = "retargeting.gateways"
    label = "gateways"
    verbose_name = "SMS gateways"

    def ready(self) -> None:
        if not settings.EMAIL_PROVIDER:
            # An SMS-only shop needs no email provider; said once, at start-up.
            logger.warning(
                "relance: no email provider (EMAIL_URL or EMAIL_PROVIDER): the email channel is off"
            )
