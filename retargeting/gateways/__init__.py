"""SMS gateways: the one place that knows a provider.

``get_gateway()`` returns the backend chosen by ``SMS_BACKEND``: ``outbox`` (stores messages,
shown on the phone simulator) or ``twilio`` (Twilio's API through its official SDK, or any
Twilio-compatible API). The opt-in and campaign layers send through it and register the
handlers that inbound messages and delivery statuses are handed to (``hooks``).
"""

from django.conf import settings

from retargeting.gateways.base import Gateway


def get_gateway() -> Gateway:
    """The backend ``SMS_BACKEND`` names."""
    if settings.SMS_BACKEND == "twilio":
        from retargeting.gateways.twilio_backend import TwilioGateway

        return TwilioGateway()
    from retargeting.gateways.outbox import OutboxGateway

    return OutboxGateway()
