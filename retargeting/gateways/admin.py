from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.sites.scoped_admin import SiteScopedAdmin
from retargeting.sites.times import sender_time_zone, shop_time


class ReadOnlyAdmin(SiteScopedAdmin):
    """Messages are records: read them, never edit them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["shop_received_at", "sender", "recipient", "body", "reply", "provider"]
    list_filter = ["provider"]
    search_fields = ["sender", "body"]

    @admin.display(description="received (shop time)", ordering="received_at")
    def shop_received_at(self, message: InboundMessage) -> str:
        zone = sender_time_zone(message.recipient, phone=message.sender)
        return shop_time(message.received_at, zone)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["shop_created_at", "to", "sender", "body"]
    search_fields = ["to", "body"]

    @admin.display(description="sent (shop time)", ordering="created_at")
    def shop_created_at(self, message: OutboxMessage) -> str:
        return shop_time(message.created_at, sender_time_zone(message.sender, phone=message.to))
