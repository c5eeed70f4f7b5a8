from django.apps import AppConfig


class OptinConfig(AppConfig):
    name = "optin"
    verbose_name = "Opt-in and consent"

    def ready(self) -> None:
        from optin import matching, replies  # noqa: F401 - connects the identify receiver
        from retargeting.gateways import hooks

        hooks.register_inbound_handler(replies.handle_reply)
