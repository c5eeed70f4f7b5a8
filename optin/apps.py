from django.apps import AppConfig


class OptinConfig(AppConfig):
    name = "optin"
    verbose_name = "Opt-in and consent"
