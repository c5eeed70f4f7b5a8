from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from optin.consent import revoke
from optin.erasure import erase_contact
from optin.imports import ImportFileError, import_contacts
from optin.models import Consent, ConsentSource, Contact, VisitorLink
from retargeting.channels import Channel
from retargeting.sites.access import sites_for
from retargeting.sites.models import Site
from retargeting.sites.scoped_admin import RecordAdmin, RecordInline, SiteScopedAdmin
from retargeting.sites.times import shop_time_column
from retargeting.web.privacy import client_ip, truncate_ip


def _site(obj: Contact) -> Site:
    return obj.site


def _contact_site(obj: Consent) -> Site:
    return obj.contact.site


class ConsentInline(RecordInline, admin.TabularInline):
    model = Consent
    readonly_fields = [
        "channel",
        "status",
        "source",
        "text",
        "ip",
        "user_agent",
        "inbound_message_id",
        "recorded_by",
        "reason",
        "shop_created_at",
    ]
    fields = tuple(readonly_fields)
    shop_created_at = shop_time_column(
        "created_at", site_of=_contact_site, description=_("at (shop time)")
    )


class ImportForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.all())
    file = forms.FileField(
        help_text=_(
            "CSV: phone, first_name, consent_date, consent_source, "
            "consent_text (comma or semicolon separated, UTF-8)."
        )
    )


@admin.register(Contact)
class ContactAdmin(SiteScopedAdmin):
    list_display = [
        "__str__",
        "site",
        "first_name",
        "consent_status",
        "email_consent_status",
        "shop_created_at",
    ]
    list_filter = ["site", "consent_status", "email_consent_status"]
    search_fields = ["phone", "email", "first_name"]
    # What the product records about a number (its consent, its confirmation, what the
    # provider said of it) is read here, never typed: a confirmation code typed in would let
    # anyone confirm a double opt-in the number's owner never answered.
    readonly_fields = [
        "consent_status",
        "email_consent_status",
        "claimed_first_name",
        "confirmation_sent_at",
        "confirmation_code",
        "email_confirmation_sent_at",
        "email_confirmation_handed_at",
        "unreachable_at",
        "email_unreachable_at",
        "last_messaged_at",
        "last_emailed_at",
        "shop_created_at",
        "shop_last_messaged_at",
        "created_at",
        "updated_at",
    ]
    # In the shop's time zone, the zone named.
    shop_created_at = shop_time_column(
        "created_at", site_of=_site, description=_("created (shop time)")
    )
    shop_last_messaged_at = shop_time_column(
        "last_messaged_at", site_of=_site, description=_("last messaged (shop time)")
    )
    inlines = [ConsentInline]
    actions = ["erase_selected", "revoke_sms", "revoke_email"]
    change_list_template = "admin/optin/contact/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "import/", self.admin_site.admin_view(self.import_view), name="optin_contact_import"
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a CSV file of contacts with their consent proof; see each row's outcome."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        form.fields["site"].queryset = sites_for(request.user)  # type: ignore[attr-defined]
        results, error = None, ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > 5 * 1024 * 1024:
                error = gettext("the file is over 5 MB: split it")
            else:
                try:
                    results = import_contacts(site=form.cleaned_data["site"], content=upload.read())
                except ImportFileError as exc:
                    error = str(exc)
        return TemplateResponse(
            request,
            "admin/optin/contact/import.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Import contacts"),
                "form": form,
                "results": results,
                "error": error,
                "opts": self.model._meta,
                "imported": sum(r.imported for r in results or []),
            },
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Its consent was given by this number at this shop: another number, or another
            # shop, would be messaged on a consent it never gave.
            fields += ["site", "phone", "email"]
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # A contact goes only through erasure, which keeps what the law requires.
        return False

    @admin.action(description=_("Erase the selected contacts (RGPD)"), permissions=["change"])
    def erase_selected(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> TemplateResponse | None:
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/optin/contact/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Erase contacts"),
                    "contacts": queryset,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        count = 0
        for contact in queryset.select_related("site"):
            erase_contact(site=contact.site, raw_phone=contact.phone, raw_email=contact.email)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d contact erased.", "%(count)d contacts erased.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return None

    @admin.action(
        description=_("Record an SMS opt-out the customer asked for (by phone, by mail…)"),
        permissions=["change"],
    )
    def revoke_sms(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._revoke(request, queryset, Channel.SMS)

    @admin.action(
        description=_("Record an email opt-out the customer asked for (by phone, by mail…)"),
        permissions=["change"],
    )
    def revoke_email(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._revoke(request, queryset, Channel.EMAIL)

    def _revoke(self, request: HttpRequest, queryset: QuerySet[Contact], channel: str) -> None:
        """A customer's request to stop, received by the shop: through the one revoke, with who
        recorded it as its proof. Nothing here can give consent: only proof can."""
        changed = 0
        for contact in queryset:
            row = revoke(
                contact=contact,
                channel=channel,
                source=ConsentSource.ADMIN,
                text=f"Opt-out recorded in the admin by {request.user.get_username()}",
                ip=truncate_ip(client_ip(request)),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            changed += row is not None
        message = (
            ngettext("%(count)d SMS consent revoked.", "%(count)d SMS consents revoked.", changed)
            if channel == Channel.SMS
            else ngettext(
                "%(count)d email consent revoked.", "%(count)d email consents revoked.", changed
            )
        )
        self.message_user(request, message % {"count": changed}, messages.SUCCESS)


# Which browser is whose is decided by matching (optin.matching) only: a link typed here would
# send a browser's carts to another number.
@admin.register(VisitorLink)
class VisitorLinkAdmin(RecordAdmin):
    list_display = ["visitor", "contact", "method", "linked_at"]
    raw_id_fields = ["visitor", "contact"]
