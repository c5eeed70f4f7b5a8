from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from optin.models import Consent, Contact, VisitorLink


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    can_delete = False
    readonly_fields = [
        "status",
        "source",
        "text",
        "ip",
        "user_agent",
        "inbound_message_id",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "site", "first_name", "consent_status", "created_at"]
    list_filter = ["site", "consent_status"]
    search_fields = ["phone", "first_name"]
    readonly_fields = ["consent_status", "created_at", "updated_at"]
    inlines = [ConsentInline]


@admin.register(VisitorLink)
class VisitorLinkAdmin(admin.ModelAdmin):
    list_display = ["visitor", "contact", "method", "linked_at"]
    raw_id_fields = ["visitor", "contact"]
