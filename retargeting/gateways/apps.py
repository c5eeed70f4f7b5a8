from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "retargeting.gateways"
    label = "gateways"
    verbose_name = "SMS gateways"
