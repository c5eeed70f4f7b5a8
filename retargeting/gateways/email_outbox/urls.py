"""``/dev/mail/``: the emails the email outbox kept (development)."""

from django.urls import path

from retargeting.gateways.email_outbox import views

urlpatterns = [
    path("", views.mail_index, name="mail-index"),
    path("live.json", views.mail_index_live, name="mail-index-live"),
    path("<int:message_id>/", views.mail_message, name="mail-message"),
]
