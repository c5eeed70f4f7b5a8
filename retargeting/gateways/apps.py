import logging

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("retargeting.gateways")


class GatewaysConfig(AppConfig):
    name = "retargeting.gateways"
    label = "gateways"
    verbose_name = _("Gateways")

    def ready(self) -> None:
        from retargeting.gateways import get_gateway
        from retargeting.gateways.checks import check_configured_providers
        from retargeting.sites import platform_sender

        # A site without a sender of its own sends from the configured provider's default.
        platform_sender.register(lambda: get_gateway().default_sender())
        checks.register(check_configured_providers)
        if not settings.EMAIL_PROVIDER:
            # An SMS-only shop needs no email provider; said once, at start-up.
            logger.warning(
                "relance: no email provider (EMAIL_URL or EMAIL_PROVIDER): the email channel is off"
            )
