"""Brevo's email tracking webhook (its URL, with the basic-auth secret, goes in Brevo's
Transactional > Settings > Webhooks): verified and read by anymail, mapped by ``tracking``."""

from anymail.webhooks.brevo import BrevoTrackingWebhookView
from django.urls import path

from retargeting.gateways.anymail import tracking  # noqa: F401 - connects its receiver

urlpatterns = [
    path("tracking/", BrevoTrackingWebhookView.as_view(), name="email-brevo-tracking"),
]
