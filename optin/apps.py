from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OptinConfig(AppConfig):
    name = "optin"
    verbose_name = _("Opt-in and consent")

    def ready(self) -> None:
        from optin import enrolment, gate, matching, replies  # noqa: F401 (gate: its receiver)
        from optin.contacts import names_of_addresses
        from optin.provider_opt_outs import apply_provider_opt_out
        from retargeting.gateways import hooks
        from retargeting.tracking import hooks as tracking_hooks

        hooks.register_inbound_handler(replies.handle_reply)
        hooks.register_opt_out_handler(apply_provider_opt_out)
        hooks.register_address_names(names_of_addresses)
        tracking_hooks.register_identify_check(enrolment.check_identify)
        tracking_hooks.register_visitor_lookup(matching.visitors_of_phone)
        tracking_hooks.register_contact_check(matching.visitor_has_contact)
