from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.sites.scoped_admin import RecordAdmin
from retargeting.sites.times import sender_time_zone, shop_time


# Messages are records: read them, never edit them here.
@admin.register(InboundMessage)
class InboundMessageAdmin(RecordAdmin):
    list_display = ["shop_received_at", "sender", "recipient", "body", "reply", "provider"]
    list_filter = ["provider"]
    search_fields = ["sender", "body"]

    @admin.display(description=_("received (shop time)"), ordering="received_at")
    def shop_received_at(self, message: InboundMessage) -> str:
        zone = sender_time_zone(message.recipient, phone=message.sender)
        return shop_time(message.received_at, zone)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(RecordAdmin):
    list_display = ["shop_created_at", "to", "sender", "body"]
    search_fields = ["to", "body"]

    @admin.display(description=_("sent (shop time)"), ordering="created_at")
    def shop_created_at(self, message: OutboxMessage) -> str:
        return shop_time(message.created_at, sender_time_zone(message.sender, phone=message.to))
