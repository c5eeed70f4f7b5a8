from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from campaigns.models import Click, Conversion, Flow, Send, SendEvent, ShortLink, Step


class StepInline(admin.StackedInline):
    model = Step
    extra = 0


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "trigger", "is_active", "holdout_percent"]
    list_filter = ["site", "trigger", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StepInline]


class SendEventInline(admin.TabularInline):
    model = SendEvent
    extra = 0
    can_delete = False
    readonly_fields = ["status", "reason", "detail", "error_code", "source", "at"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Send)
class SendAdmin(admin.ModelAdmin):
    list_display = ["pk", "site", "status", "reason", "due_at", "sent_at"]
    list_filter = ["site", "status", "reason"]
    raw_id_fields = ["cart", "contact", "step"]
    readonly_fields = [
        "planned_at",
        "claimed_at",
        "sent_at",
        "provider_id",
        "error_code",
        "updated_at",
    ]
    inlines = [SendEventInline]


@admin.register(ShortLink)
class ShortLinkAdmin(admin.ModelAdmin):
    list_display = ["code", "send", "created_at", "expires_at"]
    search_fields = ["code"]
    raw_id_fields = ["send"]


@admin.register(Click)
class ClickAdmin(admin.ModelAdmin):
    list_display = ["link", "at", "user_agent_class"]
    raw_id_fields = ["link"]


@admin.register(Conversion)
class ConversionAdmin(admin.ModelAdmin):
    list_display = ["order_id", "site", "total", "currency", "attribution", "occurred_at"]
    list_filter = ["site", "attribution"]
    search_fields = ["order_id"]
    raw_id_fields = ["visitor", "contact", "cart", "send"]
