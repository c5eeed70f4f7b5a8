"""SMS gateways: the one place that knows a provider.

``get_gateway()`` returns the backend chosen by ``SMS_BACKEND``: ``outbox`` (stores messages,
shown on the phone simulator), ``twilio`` (Twilio's API through its official SDK, or any
Twilio-compatible API) or ``brevo`` (Brevo's transactional SMS through its official SDK). The
opt-in and campaign layers send through it and register the handlers that inbound messages,
delivery statuses and the provider's opt-outs are handed to (``hooks``).
"""

from django.conf import settings

from retargeting.gateways.base import Gateway


def get_gateway() -> Gateway:
    """The backend ``SMS_BACKEND`` names."""
    if settings.SMS_BACKEND == "twilio":
        from retargeting.gateways.twilio_backend import TwilioGateway

        return TwilioGateway()
    if settings.SMS_BACKEND == "brevo":
        from retargeting.gateways.brevo_backend import BrevoGateway

        return BrevoGateway()
    from retargeting.gateways.outbox import OutboxGateway

    return OutboxGateway()
