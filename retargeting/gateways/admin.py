from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.scoped_admin import SiteScopedAdmin


class ReadOnlyAdmin(SiteScopedAdmin):
    """Messages are records: read them, never edit them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "sender", "recipient", "body", "reply", "provider"]
    list_filter = ["provider"]
    search_fields = ["sender", "body"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "to", "sender", "body"]
    search_fields = ["to", "body"]
