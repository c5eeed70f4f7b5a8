from django.apps import AppConfig


class RetargetingConfig(AppConfig):
    """The project package as an app: the landing page, `runall` and project-wide templates."""

    name = "retargeting"
    verbose_name = "Relance"

    def ready(self) -> None:
        from retargeting.embedded import ensure_broker_folders

        ensure_broker_folders()
