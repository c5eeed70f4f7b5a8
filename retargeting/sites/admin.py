from django.contrib import admin, messages
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest

from retargeting.sites.models import Membership, Site


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "time_zone", "quiet_hours", "double_opt_in", "created_at"]
    search_fields = ["name", "public_key"]
    readonly_fields = ["public_key", "secret_key_hint", "created_at", "updated_at"]
    inlines = [MembershipInline]
    # A shop's address typed without a scheme is an https one.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: Site, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not obj.double_opt_in:
            self.message_user(
                request,
                f"{obj.name}: double opt-in is off. Numbers typed in the shop's pages are "
                "messaged without confirming by SMS, so anyone can enrol someone else's number.",
                messages.WARNING,
            )
