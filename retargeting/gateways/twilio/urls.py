"""Twilio's webhooks, mounted at ``webhooks/twilio/`` (CONTRACT.md: public, never moved)."""

from django.urls import path

from retargeting.gateways.twilio import views

urlpatterns = [
    path("inbound", views.inbound, name="twilio-inbound"),
    path("status", views.status, name="twilio-status"),
]
