from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "retargeting.tracking"
    label = "tracking"
    verbose_name = "Tracking"
