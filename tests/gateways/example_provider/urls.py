"""Example's webhook, mounted where its registry line says (``webhooks/example/``)."""

from django.urls import path

from tests.gateways.example_provider import views

urlpatterns = [path("status", views.status, name="example-status")]
