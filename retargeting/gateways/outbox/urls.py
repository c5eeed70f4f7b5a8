"""The outbox's phone simulator, mounted at ``dev/phone/`` (a development tool)."""

from django.urls import path

from retargeting.gateways.outbox import views

urlpatterns = [
    path("", views.phone_index, name="phone-index"),
    path("live.json", views.phone_index_live, name="phone-index-live"),
    path("<str:number>/", views.phone, name="phone"),
    path("<str:number>/live.json", views.phone_live, name="phone-live"),
]
