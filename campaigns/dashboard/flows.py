"""The flows in the dashboard: every flow with its trigger, channels, state and last 30 days'
figures; a new flow from a trigger; a flow's page (its steps on a timeline with their live
preview, saved with the admin's own forms and checks; activate or pause; add or remove a
step); and the shop's sending rules (quiet hours, caps, staleness) as form fields.

Thin views: the figures come from ``campaigns.dashboard.figures`` (as the overview reads
them), a flow is made by ``onboarding.add_flow``, its steps are checked by the admin's
``StepForm``, the rules by ``retargeting.sites.forms.SendingRulesForm``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.forms import inlineformset_factory
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from campaigns.admin import NewFlowForm, StepForm
from campaigns.dashboard import figures, formatting
from campaigns.dashboard.explanations import channel_label
from campaigns.dashboard.frame import Frame, dashboard_page
from campaigns.dashboard.preview import mention_words, preview
from campaigns.figures import FlowFigures, by_flow
from campaigns.flow_editing import StepRefused, add_step, remove_step, set_active
from campaigns.models import DiscountMode, Flow, PoolFallback, Step
from campaigns.onboarding import FlowRefused, add_flow, trigger_offers
from campaigns.triggers import trigger_label
from retargeting.sites.forms import SendingRulesForm
from retargeting.sites.models import Site

PERIOD_DAYS = 30
STEP_FIELDS = [
    "delay_minutes",
    "channel",
    "template",
    "subject",
    "email_template",
    "discount_mode",
    "discount_code",
    "pool_fallback",
]


if TYPE_CHECKING:
    FlowModelForm = forms.ModelForm[Flow]
else:  # the class is not subscriptable at run time (no django-stubs-ext there)
    FlowModelForm = forms.ModelForm


class FlowForm(FlowModelForm):
    """A flow's own settings, checked by the model as the admin's flow form is."""

    class Meta:
        model = Flow
        fields = [
            "name",
            "holdout_percent",
            "min_cart_total",
            "transliterate",
            "max_segments",
            "link_url",
        ]
        labels = {
            "name": gettext_lazy("Name"),
            "holdout_percent": gettext_lazy("Holdout (%)"),
            "min_cart_total": gettext_lazy("Minimum cart total"),
            "transliterate": gettext_lazy("Transliterate"),
            "max_segments": gettext_lazy("Maximum SMS segments"),
            "link_url": gettext_lazy("Link to"),
        }
        help_texts = {
            "holdout_percent": gettext_lazy(
                "Share of the contacts who get no message, to measure what the messages "
                "cause (10 is a good start; 0: none)."
            ),
            "min_cart_total": gettext_lazy(
                "Only carts of at least this total (empty: every cart)."
            ),
            "transliterate": gettext_lazy(
                "Replace the characters that force the costlier UCS-2 encoding (’ « » ç ê…) "
                "with their GSM-7 look-alikes."
            ),
            "max_segments": gettext_lazy(
                "A text whose longest rendering needs more SMS segments is refused."
            ),
            "link_url": gettext_lazy(
                "Where the messages' link leads instead of the trigger's own page (empty: "
                "the trigger's). On the shop's domains."
            ),
        }


class DashboardStepForm(StepForm):
    """The admin's step form, and so its checks (the template, its trigger's variables, the
    opt-out mention on the site's route, the segment limit at its longest, an email's texts),
    with the marketer's words for the fields the model names in English."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        words = {
            "delay_minutes": (
                _("Delay (minutes)"),
                _("After the trigger for the first step, after the previous step for the others."),
            ),
            "template": (
                _("SMS text"),
                _("With {{ variables }}; the preview follows your typing."),
            ),
            "discount_mode": (_("Discount"), ""),
            "discount_code": (_("Discount code"), _("The fixed code (and the pool's fallback).")),
            "pool_fallback": (_("When the pool is empty"), ""),
        }
        for name, (label, help_text) in words.items():
            self.fields[name].label, self.fields[name].help_text = label, help_text
        for name, choices in (
            ("discount_mode", DiscountMode.choices),
            ("pool_fallback", PoolFallback.choices),
        ):
            self.fields[name].choices = list(choices)  # type: ignore[attr-defined]


# Edit only: steps are added and removed by their own actions (a forged form count adds none).
StepFormSet = inlineformset_factory(
    Flow,
    Step,
    form=DashboardStepForm,
    fields=STEP_FIELDS,
    extra=0,
    can_delete=False,
    edit_only=True,
)


def _flow_of(frame: Frame, flow_id: int) -> Flow:
    """The flow ``flow_id`` of the page's site; 404 for any other shop's."""
    flow = Flow.objects.filter(pk=flow_id, site=frame.site).select_related("site").first()
    if flow is None:
        raise Http404("no such flow")
    # The page's site (with the member's chosen language already applied) is the flow's.
    flow.site = frame.site
    return flow


def _page(name: str, frame: Frame, *args: object) -> str:
    return f"{reverse(name, args=args or None)}?site={frame.site.pk}"


def _revenue(row: FlowFigures | None) -> str:
    if row is None:
        return formatting.money(0)
    if row.transactional:
        return _("transactional")
    return formatting.money(row.revenue)


def delay_words(minutes: int) -> str:
    """``30 min``, ``2 h``, ``1 day 3 h``: a step's delay as the timeline reads it."""
    if minutes < 60:
        return _("%(count)s min") % {"count": formatting.number(minutes)}
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes_left = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(_("%(count)s h") % {"count": formatting.number(hours)})
    if minutes_left:
        parts.append(_("%(count)s min") % {"count": formatting.number(minutes_left)})
    return " ".join(parts)


def _channels(flow: Flow) -> str:
    names = []
    for step in flow.steps.all():
        label = channel_label(step.channel)
        if label not in names:
            names.append(label)
    return ", ".join(names) or "–"


@dashboard_page
def flows(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = frame.site
    end = timezone.localdate(timezone=site.zone_info)
    start = end - timedelta(days=PERIOD_DAYS - 1)
    every = figures.by_step_and_channel(site=site, start=start, end=end, every_step=True)
    per_flow = {row.flow.pk: row for row in by_flow(every)}
    rows = []
    for flow in Flow.objects.filter(site=site).prefetch_related("steps").order_by("name", "pk"):
        row = per_flow.get(flow.pk)
        rows.append(
            {
                "flow": flow,
                "url": _page("dashboard-flow", frame, flow.pk),
                "trigger": trigger_label(flow.trigger),
                "channels": _channels(flow),
                "sent": formatting.number(row.sent if row else 0),
                "clicked": formatting.number(row.clicked if row else 0),
                "converted": formatting.number(row.converted if row else 0),
                "revenue": _revenue(row),
                "cost": formatting.money(row.cost if row else 0),
            }
        )
    return render(
        request,
        "campaigns/flows.html",
        frame.context(
            section="flows",
            rows=rows,
            start=formatting.day(start),
            end=formatting.day(end),
            new_url=_page("dashboard-flow-new", frame),
            rules_url=_page("dashboard-sending-rules", frame),
        ),
    )


@dashboard_page
def flow_new(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = frame.site
    form = NewFlowForm(
        {**request.POST.dict(), "site": site.pk} if request.method == "POST" else None,
        sites=Site.objects.filter(pk=site.pk),
    )
    if request.method == "POST" and form.is_valid():
        try:
            flow = add_flow(
                site=site,
                trigger=form.cleaned_data["trigger"],
                delay_minutes=form.cleaned_data["delay_minutes"],
                channel=form.cleaned_data["channel"],
            )
        except FlowRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("The flow “%(name)s” is active with its default texts: edit them here.")
                % {"name": flow.name},
            )
            return HttpResponseRedirect(_page("dashboard-flow", frame, flow.pk))
    offers = [
        {**offer, "label": trigger_label(offer["name"]), "delay": delay_words(offer["delay"])}
        for offer in trigger_offers(site=site)
    ]
    return render(
        request,
        "campaigns/flow_new.html",
        frame.context(section="flows", form=form, offers=offers),
        status=400 if request.method == "POST" else 200,
    )


def _timeline(flow: Flow, steps: list[Step]) -> list[dict[str, Any]]:
    """Each saved step with its delay in words, from what it waits for."""
    shown = []
    for step in steps:
        after = (
            _("after the trigger")
            if step.position == steps[0].position
            else _("after the previous step")
        )
        discount: str = {
            DiscountMode.NONE: _("No code"),
            DiscountMode.FIXED: _("Code %(code)s for everyone") % {"code": step.discount_code},
            DiscountMode.POOL: _("A unique code per message, from a pool"),
        }.get(DiscountMode(step.discount_mode), "")
        shown.append(
            {
                "step": step,
                "delay": delay_words(step.delay_minutes),
                "after": after,
                "channel": channel_label(step.channel),
                "discount": discount,
            }
        )
    return shown


@dashboard_page
def flow_detail(request: HttpRequest, flow_id: int, *, frame: Frame) -> HttpResponse:
    flow = _flow_of(frame, flow_id)
    queryset = Step.objects.filter(flow=flow).order_by("position")
    if request.method == "POST":
        form = FlowForm(request.POST, instance=flow)
        formset = StepFormSet(request.POST, instance=flow, prefix="steps", queryset=queryset)
        if form.is_valid() and formset.is_valid():
            with transaction.atomic():
                form.save()
                formset.save()
            messages.success(request, _("Saved."))
            return HttpResponseRedirect(_page("dashboard-flow", frame, flow.pk))
        status = 400
    else:
        form = FlowForm(instance=flow)
        formset = StepFormSet(instance=flow, prefix="steps", queryset=queryset)
        status = 200
    steps = [step_form.instance for step_form in formset.forms]
    for step, step_form in zip(steps, formset.forms, strict=True):
        step.flow = flow
        for name in ("template", "subject", "email_template"):  # the shop's own texts
            step_form.fields[name].widget.attrs["lang"] = frame.site.language
    mention = mention_words(preview(steps[0]), site=frame.site, html=True) if steps else ""
    return render(
        request,
        "campaigns/flow.html",
        frame.context(
            section="flows",
            flow=flow,
            trigger=trigger_label(flow.trigger),
            form=form,
            formset=formset,
            timeline=list(zip(formset.forms, _timeline(flow, steps), strict=True)),
            mention=mention,
            admin_url=reverse("admin:campaigns_flow_change", args=[flow.pk]),
            state_url=_page("dashboard-flow-state", frame, flow.pk),
            add_step_url=_page("dashboard-flow-step-add", frame, flow.pk),
            remove_step_url=_page("dashboard-flow-step-remove", frame, flow.pk),
            rules_url=_page("dashboard-sending-rules", frame),
            list_url=_page("dashboard-flows", frame),
        ),
        status=status,
    )


@require_POST
@dashboard_page
def flow_state(request: HttpRequest, flow_id: int, *, frame: Frame) -> HttpResponse:
    flow = set_active(flow=_flow_of(frame, flow_id), active=request.POST.get("active") == "1")
    messages.success(
        request, _("The flow is active.") if flow.is_active else _("The flow is paused.")
    )
    return HttpResponseRedirect(_page("dashboard-flow", frame, flow.pk))


@require_POST
@dashboard_page
def flow_step_add(request: HttpRequest, flow_id: int, *, frame: Frame) -> HttpResponse:
    flow = _flow_of(frame, flow_id)
    try:
        step = add_step(flow=flow)
    except StepRefused as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_page("dashboard-flow", frame, flow.pk))
    messages.success(
        request,
        _("Step %(position)d added with the trigger's default text: edit it below.")
        % {"position": step.position},
    )
    return HttpResponseRedirect(_page("dashboard-flow", frame, flow.pk) + f"#step-{step.pk}")


@require_POST
@dashboard_page
def flow_step_remove(request: HttpRequest, flow_id: int, *, frame: Frame) -> HttpResponse:
    flow = _flow_of(frame, flow_id)
    chosen = request.POST.get("step", "")
    step = Step.objects.filter(flow=flow, pk=chosen).first() if chosen.isdigit() else None
    if step is None:
        raise Http404("no such step")
    try:
        remove_step(step=step)
    except StepRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Step removed."))
    return HttpResponseRedirect(_page("dashboard-flow", frame, flow.pk))


@dashboard_page
def sending_rules(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = Site.objects.get(pk=frame.site.pk)
    form = SendingRulesForm(request.POST or None, instance=site)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return HttpResponseRedirect(_page("dashboard-sending-rules", frame))
    return render(
        request,
        "campaigns/flow_rules.html",
        frame.context(section="flows", form=form, list_url=_page("dashboard-flows", frame)),
        status=400 if request.method == "POST" else 200,
    )
