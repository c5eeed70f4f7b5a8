from django.contrib import admin

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
