from django.apps import AppConfig


class OptinConfig(AppConfig):
    name = "optin"
    verbose_name = "Opt-in and consent"

    def ready(self) -> None:
        from optin import enrolment, matching, replies  # noqa: F401 - the identify receiver
        from retargeting.gateways import hooks
        from retargeting.tracking import hooks as tracking_hooks

        hooks.register_inbound_handler(replies.handle_reply)
        tracking_hooks.register_identify_check(enrolment.check_identify)
