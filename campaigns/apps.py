from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns import conversions, erasure  # noqa: F401 - connect their receivers
        from campaigns.delivery import apply_status_report
        from retargeting.gateways import hooks

        hooks.register_status_handler(apply_status_report)
