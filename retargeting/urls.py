"""URLs of Relance. CONTRACT.md lists the public ones."""

from django.contrib import admin
from django.urls import path

from retargeting import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/", admin.site.urls),
]
