"""The outbox's phone simulator, mounted at ``dev/phone/`` (a development tool)."""

from django.urls import path

from retargeting.gateways.outbox import views

urlpatterns = [
    path("", views.phone_index, name="phone-index"),
    path("<str:number>/", views.phone, name="phone"),
]
