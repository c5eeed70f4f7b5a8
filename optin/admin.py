from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from optin.erasure import erase_contact
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
    actions = ["erase_selected"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # A contact goes only through erasure, which keeps what the law requires.
        return False

    @admin.action(description="Erase the selected contacts (RGPD)", permissions=["change"])
    def erase_selected(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> TemplateResponse | None:
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/optin/contact/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase contacts",
                    "contacts": queryset,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        count = 0
        for contact in queryset.select_related("site"):
            erase_contact(site=contact.site, raw_phone=contact.phone)
            count += 1
        self.message_user(request, f"{count} contact(s) erased.", messages.SUCCESS)
        return None


@admin.register(VisitorLink)
class VisitorLinkAdmin(admin.ModelAdmin):
    list_display = ["visitor", "contact", "method", "linked_at"]
    raw_id_fields = ["visitor", "contact"]
