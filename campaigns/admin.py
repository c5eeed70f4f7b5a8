from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns.corrections import correct_conversion
from campaigns.discounts import LOW_POOL, ImportFileError, free_codes, import_codes
from campaigns.email_messages import email_text_errors
from campaigns.flows import mention_errors
from campaigns.models import (
    Click,
    Conversion,
    ConversionCorrection,
    DiscountMode,
    Flow,
    PoolFallback,
    Send,
    SendEvent,
    ShortLink,
    Step,
    StepChannel,
)
from campaigns.onboarding import FlowRefused, add_flow, offered_choices, trigger_offers
from campaigns.sms_text import variable_errors, worst_case_errors
from campaigns.trigger_registry import offered
from retargeting.sites.access import sites_for
from retargeting.sites.models import Site
from retargeting.sites.scoped_admin import (
    RecordAdmin,
    RecordInline,
    SiteScopedAdmin,
    SiteScopedInline,
)
from retargeting.sites.times import shop_time_column


def _site(obj: Send | Conversion) -> Site:
    return obj.site


def _send_site(obj: SendEvent | ShortLink) -> Site:
    return obj.send.site


class StepForm(forms.ModelForm):
    """A step in the admin: the model's checks, then the flow's segment limit at the text's
    longest (a 20-letter first name, the largest total, a 40-character product name), no
    "Répondez STOP" where the site's sender cannot receive replies, and none in an email."""

    class Meta:
        model = Step
        fields = "__all__"  # noqa: DJ007 - the admin shows every field of a step
        labels = {
            "channel": _("Channel"),
            "subject": _("Email subject"),
            "email_template": _("Email text"),
        }
        help_texts = {
            "channel": _(
                "SMS, email, or SMS else email: an SMS to a contact with live SMS consent and "
                "a number, otherwise an email to one with live email consent."
            ),
            "subject": _("The email's subject, with {{ variables }}."),
            "email_template": _(
                "The words above the cart, with {{ variables }}. Empty: the SMS text's words, "
                "without its link (the email's button) nor its STOP mention (the email's "
                "unsubscribe link)."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].choices = [  # type: ignore[attr-defined]
                (StepChannel.SMS, _("SMS")),
                (StepChannel.EMAIL, _("Email")),
                (StepChannel.SMS_ELSE_EMAIL, _("SMS, else email")),
            ]

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # the model instance is filled in here
        if "template" not in self.errors and self.instance.flow_id is not None:
            # Its trigger's variables first: the longest rendering needs them filled.
            errors = variable_errors(self.instance)
            errors = errors or mention_errors(self.instance) + worst_case_errors(self.instance)
            for error in errors:
                self.add_error("template", error)
        # The model's clean checked the email texts as templates; the flows' rule on STOP
        # mentions is added here.
        if "email_template" not in self.errors and "subject" not in self.errors:
            by_field = email_text_errors(self.instance)
            for field in ("subject", "email_template"):
                for error in by_field.get(field, []):
                    self.add_error(field, error)


class StepInline(SiteScopedInline, admin.StackedInline):
    model = Step
    form = StepForm
    extra = 0


class NewFlowForm(forms.Form):
    """A new flow from a trigger: one step with the trigger's default texts in the site's
    language (``onboarding.add_flow``, as ``manage.py add_flow``)."""

    site = forms.ModelChoiceField(queryset=Site.objects.none(), label=_("Site"))
    trigger = forms.ChoiceField(label=_("Trigger"))
    channel = forms.ChoiceField(label=_("Channel"))
    delay_minutes = forms.IntegerField(
        label=_("Delay (minutes)"),
        min_value=1,
        required=False,
        help_text=_("Counted from the trigger's moment. Empty: the trigger's own delay."),
    )

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        self.fields["trigger"].choices = offered_choices()  # type: ignore[attr-defined]
        self.fields["channel"].choices = [  # type: ignore[attr-defined]
            (StepChannel.SMS, _("SMS")),
            (StepChannel.EMAIL, _("Email")),
            (StepChannel.SMS_ELSE_EMAIL, _("SMS, else email")),
        ]


@admin.register(Flow)
class FlowAdmin(SiteScopedAdmin):
    list_display = ["name", "site", "trigger", "is_active", "holdout_percent"]
    list_filter = ["site", "trigger", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StepInline]
    change_form_template = "admin/campaigns/flow/change_form.html"
    change_list_template = "admin/campaigns/flow/change_list.html"

    class Media:
        js = ["campaigns/flow_editor.js"]
        css = {"all": ["campaigns/flow_editor.css"]}

    def formfield_for_choice_field(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.TypedChoiceField | None:
        if db_field.name == "trigger":
            # Only what runs (registry.offered): the bridge's flow is made by the first
            # shopper who asks (campaigns.bridge), never by hand, and its subject and text are
            # edited in it once it exists; a trigger not built is offered nowhere.
            kwargs["choices"] = offered_choices()
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "from-trigger/",
                self.admin_site.admin_view(self.from_trigger_view),
                name="campaigns_flow_from_trigger",
            ),
            *super().get_urls(),
        ]

    def from_trigger_view(self, request: HttpRequest) -> HttpResponse:
        """A new flow from a trigger: every offered trigger with its default delay and texts
        in the site's language; the one chosen is made active with them (then edited in the
        flow's page)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        sites = sites_for(request.user)
        form = NewFlowForm(request.POST or None, sites=sites)
        if request.method == "POST" and form.is_valid():
            try:
                flow = add_flow(
                    site=form.cleaned_data["site"],
                    trigger=form.cleaned_data["trigger"],
                    delay_minutes=form.cleaned_data["delay_minutes"],
                    channel=form.cleaned_data["channel"],
                )
            except FlowRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    _("The flow “%(name)s” is active with its default texts: edit them here.")
                    % {"name": flow.name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:campaigns_flow_change", args=[flow.pk]))
        chosen = str(form["site"].value() or request.GET.get("site") or "")
        site = sites.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        site = site or sites.order_by("pk").first()
        triggers = trigger_offers(site=site) if site is not None else []
        return TemplateResponse(
            request,
            "admin/campaigns/flow/from_trigger.html",
            {
                **self.admin_site.each_context(request),
                "title": _("New flow from a trigger"),
                "form": form,
                "site": site,
                "triggers": triggers,
                "opts": self.model._meta,
            },
            status=400 if request.method == "POST" else 200,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Flow | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.trigger not in offered():
            readonly.append("trigger")  # the bridge's, or one saved before it was withdrawn
        return readonly

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, object] | None = None,
    ) -> HttpResponse:
        flow = self.get_object(request, object_id)
        if flow is not None and request.method == "GET":
            for step in flow.steps.all():
                warn_about_pool(request, step)
        return super().change_view(request, object_id, form_url, extra_context)


class SendEventInline(RecordInline, admin.TabularInline):
    model = SendEvent
    readonly_fields = ["status", "reason", "detail", "error_code", "source", "shop_at"]
    fields = tuple(readonly_fields)
    shop_at = shop_time_column("at", site_of=_send_site, description=_("at (shop time)"))


@admin.register(Send)
class SendAdmin(RecordAdmin):
    list_display = ["pk", "site", "status", "reason", "shop_due_at", "shop_sent_at"]
    list_filter = ["site", "status", "reason"]
    raw_id_fields = ["cart", "contact", "step"]
    readonly_fields = [
        "shop_due_at",
        "shop_planned_at",
        "shop_claimed_at",
        "shop_sent_at",
        "planned_at",
        "claimed_at",
        "sent_at",
        "provider_id",
        "error_code",
        "updated_at",
    ]
    inlines = [SendEventInline]
    # In the shop's time zone, the zone named (the form's own fields stay in UTC).
    shop_due_at = shop_time_column("due_at", site_of=_site, description=_("due (shop time)"))
    shop_planned_at = shop_time_column(
        "planned_at", site_of=_site, description=_("planned (shop time)")
    )
    shop_claimed_at = shop_time_column(
        "claimed_at", site_of=_site, description=_("claimed (shop time)")
    )
    shop_sent_at = shop_time_column("sent_at", site_of=_site, description=_("sent (shop time)"))


@admin.register(ShortLink)
class ShortLinkAdmin(RecordAdmin):
    list_display = ["code", "send", "shop_created_at", "shop_expires_at"]
    list_select_related = ["send__site"]
    search_fields = ["code"]
    raw_id_fields = ["send"]
    shop_created_at = shop_time_column(
        "created_at", site_of=_send_site, description=_("created (shop time)")
    )
    shop_expires_at = shop_time_column(
        "expires_at", site_of=_send_site, description=_("expires (shop time)")
    )


@admin.register(Click)
class ClickAdmin(RecordAdmin):
    list_display = ["link", "shop_at", "user_agent_class"]
    list_select_related = ["link__send__site"]
    raw_id_fields = ["link"]
    shop_at = shop_time_column(
        "at", site_of=lambda click: click.link.send.site, description=_("at (shop time)")
    )


class CorrectionInline(RecordInline, admin.TabularInline):
    model = ConversionCorrection
    readonly_fields = ["kind", "reason", "username", "shop_created_at"]
    fields = tuple(readonly_fields)
    shop_created_at = shop_time_column(
        "created_at",
        site_of=lambda correction: correction.conversion.site,
        description=_("at (shop time)"),
    )


class CorrectionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why (kept with your name and the time, shown to the shop's members)."),
    )


@admin.register(Conversion)
class ConversionAdmin(RecordAdmin):
    list_display = [
        "order_id",
        "site",
        "total",
        "currency",
        "attribution",
        "counted",
        "shop_occurred_at",
    ]
    list_filter = ["site", "attribution", "counted"]
    search_fields = ["order_id"]
    raw_id_fields = ["visitor", "contact", "cart", "send"]
    readonly_fields = ["counted"]
    inlines = [CorrectionInline]
    actions = ["exclude_from_figures", "count_in_figures_again"]
    shop_occurred_at = shop_time_column(
        "occurred_at", site_of=_site, description=_("occurred (shop time)")
    )

    def has_correct_permission(self, request: HttpRequest) -> bool:
        """Who may correct: whoever sees the conversion (its shop's members, operators)."""
        return self.has_view_permission(request)

    @admin.action(
        description=_("Exclude from the figures (with a reason)"), permissions=["correct"]
    )
    def exclude_from_figures(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> TemplateResponse | None:
        return self._correct(request, queryset, ConversionCorrection.Kind.EXCLUDED)

    @admin.action(
        description=_("Count in the figures again (with a reason)"), permissions=["correct"]
    )
    def count_in_figures_again(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> TemplateResponse | None:
        return self._correct(request, queryset, ConversionCorrection.Kind.COUNTED)

    def _correct(
        self, request: HttpRequest, queryset: QuerySet[Conversion], kind: str
    ) -> TemplateResponse | None:
        """Ask for the reason, then write one correction per conversion that changes."""
        excluding = kind == ConversionCorrection.Kind.EXCLUDED
        form = CorrectionForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/campaigns/conversion/correct.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Exclude from the figures") if excluding else _("Count again"),
                    "explanation": (
                        _(
                            "These purchases will no longer count in the figures (recovered "
                            "revenue, conversions, per step and per day). The purchases stay as "
                            "they are; the correction keeps your name, the time and your reason, "
                            "and the dashboard says how many purchases corrections left out."
                        )
                        if excluding
                        else _(
                            "These purchases will count in the figures again; the correction "
                            "keeps your name, the time and your reason."
                        )
                    ),
                    "button": _("Exclude them") if excluding else _("Count them again"),
                    "form": form,
                    "conversions": queryset.select_related("site"),
                    "action": request.POST.get("action", ""),
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        done = sum(
            correct_conversion(
                conversion_id=conversion_id,
                kind=kind,
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
            is not None
            for conversion_id in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%(count)d conversion corrected.", "%(count)d conversions corrected.", done)
            % {"count": done},
            messages.SUCCESS,
        )
        return None


class CodeImportForm(forms.Form):
    file = forms.FileField(
        help_text=_("CSV or text, one code per line (the first column is read).")
    )


@admin.register(Step)
class StepAdmin(SiteScopedAdmin):
    form = StepForm
    list_display = ["__str__", "flow", "discount_mode", "free_codes"]
    list_filter = ["flow__site", "discount_mode"]
    change_form_template = "admin/campaigns/step/change_form.html"

    class Media:
        js = ["campaigns/flow_editor.js"]
        css = {"all": ["campaigns/flow_editor.css"]}

    @admin.display(description=_("free codes"))
    def free_codes(self, step: Step) -> str:
        return str(free_codes(step)) if step.discount_mode == DiscountMode.POOL else "-"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:step_id>/codes/",
                self.admin_site.admin_view(self.import_codes_view),
                name="campaigns_step_codes",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, object] | None = None,
    ) -> HttpResponse:
        step = self.get_object(request, object_id)
        if step is not None and request.method == "GET":
            warn_about_pool(request, step)
        return super().change_view(request, object_id, form_url, extra_context)

    def import_codes_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        """Upload the shop's unique codes for a step; see how many were added."""
        step = self.get_object(request, str(step_id))
        if step is None:
            raise Http404
        if not self.has_change_permission(request, step):
            raise PermissionDenied
        form = CodeImportForm(request.POST or None, request.FILES or None)
        result, error = None, ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > 5 * 1024 * 1024:
                error = gettext("the file is over 5 MB: split it")
            else:
                try:
                    result = import_codes(step=step, content=upload.read())
                except ImportFileError as exc:
                    error = str(exc)
        return TemplateResponse(
            request,
            "admin/campaigns/step/import_codes.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Discount codes of %(step)s") % {"step": step},
                "form": form,
                "result": result,
                "error": error,
                "step": step,
                "free": free_codes(step),
                "opts": self.model._meta,
            },
        )


def warn_about_pool(request: HttpRequest, step: Step) -> None:
    """Tell the marketer when a step's pool of unique codes is empty or running out."""
    if step.discount_mode != DiscountMode.POOL:
        return
    free = free_codes(step)
    fallback = PoolFallback(step.pool_fallback).label.lower()
    if free == 0:
        messages.warning(
            request,
            gettext("%(step)s: the pool of discount codes is empty (%(fallback)s).")
            % {"step": step, "fallback": fallback},
        )
    elif free < LOW_POOL:
        messages.warning(
            request,
            ngettext(
                "%(step)s: only %(count)d discount code left in the pool.",
                "%(step)s: only %(count)d discount codes left in the pool.",
                free,
            )
            % {"step": step, "count": free},
        )
