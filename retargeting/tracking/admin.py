from django.contrib import admin

from retargeting.sites.scoped_admin import RecordAdmin
from retargeting.tracking.models import Cart, Event, Visitor


# What the shop's pages and server reported: records (a cart's status and total feed the
# figures, its address and items the reminder), read here, never typed.
@admin.register(Visitor)
class VisitorAdmin(RecordAdmin):
    list_display = ["vid", "site", "first_seen_at", "last_seen_at"]
    list_filter = ["site"]
    search_fields = ["vid"]


@admin.register(Cart)
class CartAdmin(RecordAdmin):
    list_display = [
        "external_id",
        "site",
        "status",
        "item_count",
        "total",
        "currency",
        "last_change_at",
    ]
    list_filter = ["site", "status"]
    search_fields = ["external_id", "visitor__vid"]
    raw_id_fields = ["visitor"]


@admin.register(Event)
class EventAdmin(RecordAdmin):
    list_display = ["type", "site", "source", "received_at"]
    list_filter = ["site", "type", "source"]
    raw_id_fields = ["visitor"]
