from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "retargeting.platforms"
    label = "platforms"
    verbose_name = "Shop platforms"
