from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns import conversions, erasure  # noqa: F401 - connect their receivers
        from campaigns.bridge import on_cart_email_request
        from campaigns.delivery import apply_status_report
        from retargeting.gateways import hooks
        from retargeting.tracking.hooks import register_cart_email_handler

        hooks.register_status_handler(apply_status_report)
        register_cart_email_handler(on_cart_email_request)
