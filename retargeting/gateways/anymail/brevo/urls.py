"""Brevo's email tracking webhook (its URL, with the basic-auth secret, goes in Brevo's
Transactional > Settings > Webhooks): verified and read by anymail, mapped by ``tracking``."""

from anymail.webhooks.brevo import BrevoTrackingWebhookView
from django.urls import path

from retargeting.gateways.anymail import tracking  # noqa: F401 - connects its receiver
from retargeting.gateways.anymail.views import ForbiddenWhenForged


class TrackingWebhookView(ForbiddenWhenForged, BrevoTrackingWebhookView):  # type: ignore[misc]
    pass


urlpatterns = [
    path("tracking/", TrackingWebhookView.as_view(), name="email-brevo-tracking"),
]
