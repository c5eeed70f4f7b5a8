from django.contrib import admin

from retargeting.platforms.models import PlatformConnection, PlatformDelivery


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    list_display = ["site", "platform", "shop_domain", "updated_at"]
    list_filter = ["platform"]
    readonly_fields = ["webhook_url", "created_at", "updated_at"]
    fields = [
        "site",
        "platform",
        "signing_secret",
        "shop_domain",
        "sms_consent_field",
        "sms_consent_text",
        "webhook_url",
        "created_at",
        "updated_at",
    ]

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)


@admin.register(PlatformDelivery)
class PlatformDeliveryAdmin(admin.ModelAdmin):
    list_display = ["connection", "topic", "outcome", "received_at"]
    list_filter = ["topic"]
    readonly_fields = ["connection", "delivery_id", "topic", "outcome", "received_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)
