from typing import Any

from django.contrib import admin, messages
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from retargeting.sites.forms import PRESET_EXPLANATIONS, WeeklyHoursField
from retargeting.sites.models import Membership, Site
from retargeting.sites.scoped_admin import SiteScopedAdmin, SiteScopedInline
from retargeting.sites.services import add_member


class MembershipInline(SiteScopedInline, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    # Who may see a shop is the operators' decision: the user list spans every shop.
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)


# What a shop is called and sends as, where its links may lead, what a stranger may make
# it spend (the numbers a page may enrol: the country, which the allowed countries default
# to, and the double opt-in and its limits), and whether its visitors' cookie consent is
# awaited: the platform operators' decision, never a member's (a marketer of one shop could
# otherwise take another shop's name or sender, or open the shop to SMS pumping).
OPERATOR_FIELDS = [
    "name",
    "sender",
    "stop_number",
    "allowed_domains",
    "cookie_consent",
    "country",
    "enrol_countries",
    "double_opt_in",
    "confirmations_per_day",
    "confirmations_per_ip_per_day",
    "confirmations_per_visitor_per_day",
]


@admin.register(Site)
class SiteAdmin(SiteScopedAdmin):
    list_display = ["name", "country", "time_zone", "quiet_hours", "double_opt_in", "created_at"]
    search_fields = ["name", "public_key"]
    readonly_fields = ["public_key", "secret_key_hint", "created_at", "updated_at"]
    inlines = [MembershipInline]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # The custom quiet hours as an opening and a closing time per weekday, not JSON; the
        # presets explained beside the choice (the dashboard's form uses the same).
        if db_field.name == "quiet_hours_custom":
            return WeeklyHoursField(
                label=db_field.verbose_name.capitalize(),
                help_text=_(
                    "Used with “Custom windows” only: per weekday an opening and a closing "
                    "time in the recipient's time zone, or neither (no messages that day)."
                ),
            )
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "quiet_hours" and field is not None:
            field.help_text = format_html_join(
                "",
                "<br><strong>{}</strong>: {}",
                ((label, PRESET_EXPLANATIONS[value]) for value, label in db_field.choices),
            )
        return field

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += OPERATOR_FIELDS
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Shops are created by the platform's operators (`bootstrap_site`), who add members.
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        # A member gets the admin's pages of their shop (staff, the marketers' permissions).
        for membership in form.instance.memberships.select_related("user"):
            add_member(site=form.instance, user=membership.user, role=membership.role)

    def save_model(self, request: HttpRequest, obj: Site, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not obj.double_opt_in:
            self.message_user(
                request,
                gettext(
                    "%(shop)s: double opt-in is off. Numbers typed in the shop's pages are "
                    "messaged without confirming by SMS, so anyone can enrol someone else's "
                    "number."
                )
                % {"shop": obj.name},
                messages.WARNING,
            )
