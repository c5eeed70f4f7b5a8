from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from retargeting.platforms.models import PlatformConnection, PlatformDelivery


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    list_display = ["site", "platform", "shop_domain", "updated_at"]
    list_filter = ["platform"]
    readonly_fields = ["webhook_address", "created_at", "updated_at"]
    fields = [
        "site",
        "platform",
        "signing_secret",
        "shop_domain",
        "sms_consent_field",
        "sms_consent_text",
        "email_consent_field",
        "email_consent_text",
        "webhook_address",
        "created_at",
        "updated_at",
    ]

    @admin.display(description=_("webhook URL"))
    def webhook_address(self, connection: PlatformConnection) -> str:
        # A connection being added has no platform nor token yet: its address comes on save.
        return connection.webhook_url if connection.pk else "-"

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)


@admin.register(PlatformDelivery)
class PlatformDeliveryAdmin(admin.ModelAdmin):
    list_display = ["connection", "topic", "outcome", "received_at"]
    list_filter = ["topic"]
    readonly_fields = ["connection", "delivery_id", "topic", "outcome", "received_at"]

    # What a platform sent and what became of it: a record, read only, operators included.
    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return bool(request.user.is_superuser)
