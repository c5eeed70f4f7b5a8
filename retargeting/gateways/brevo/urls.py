"""Brevo's SMS webhook, mounted at ``webhooks/brevo/`` (CONTRACT.md: public, never moved)."""

from django.urls import path

from retargeting.gateways.brevo import views

urlpatterns = [
    path("sms/<str:token>", views.sms_events, name="brevo-sms"),
]
