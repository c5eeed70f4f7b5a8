from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "retargeting.sites"
    label = "sites"
    verbose_name = "Sites"
