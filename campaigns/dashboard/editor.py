"""The flow editor's endpoints, called by the admin's flow and step pages as one types:
``POST /dashboard/preview`` (the preview as JSON) and ``POST /dashboard/test-send``.

Both take the step being edited as form fields (``template``, ``discount_mode``,
``discount_code``, ``transliterate``, ``max_segments``, ``step``, and for email ``channel``,
``subject``, ``email_template``) and its flow (``flow``) or,
for a flow not saved yet, its site (``site``) and trigger (``trigger``: the variables its
texts may use, and the sample values shown); both are limited to the user's sites. They
answer in the admin page's language.
"""

from __future__ import annotations

from dataclasses import asdict

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from campaigns.dashboard import member_phones
from campaigns.dashboard.preview import (
    Preview,
    TestSendRefused,
    draft_step,
    email_preview,
    mention_words,
    preview,
    refuse_stopped,
    send_test,
)
from campaigns.models import DiscountMode, Flow, Step, StepChannel, Trigger
from retargeting.sites.access import site_for, visible_to
from retargeting.sms.phones import InvalidPhone, parse_phone

SESSION_PHONE = "relance_test_phone"


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def _step_from(request: HttpRequest) -> Step:
    """The step being edited, as typed; 404 for a flow, site or step of another site."""
    data = request.POST
    flow_id = data.get("flow", "")
    if flow_id:
        flow = (
            visible_to(request.user, Flow.objects.select_related("site"))
            .filter(pk=_int(flow_id, 0))
            .first()
        )
        if flow is None:
            raise Http404("no such flow")
        site = flow.site
        transliterate, max_segments = flow.transliterate, flow.max_segments
        trigger = flow.trigger
    else:
        site = site_for(request.user, data.get("site", ""))
        transliterate, max_segments = True, 3
        trigger = Trigger.CART_ABANDONED
    if data.get("trigger") in Trigger.values:
        trigger = data["trigger"]  # as chosen in the form, saved or not
    if "transliterate" in data:
        transliterate = data["transliterate"] in ("on", "true", "1")
    max_segments = max(1, min(_int(data.get("max_segments"), max_segments), 10))
    step_id = _int(data.get("step"), 0) or None
    if step_id and not visible_to(request.user, Step.objects.filter(pk=step_id, flow__site=site)):
        raise Http404("no such step")
    mode = data.get("discount_mode", DiscountMode.NONE)
    channel = data.get("channel", StepChannel.SMS)
    return draft_step(
        site=site,
        template=data.get("template", "")[:2000],
        transliterate=transliterate,
        max_segments=max_segments,
        discount_mode=mode if mode in DiscountMode.values else DiscountMode.NONE,
        discount_code=data.get("discount_code", "")[:64],
        step_id=step_id,
        channel=channel if channel in StepChannel.values else StepChannel.SMS,
        subject=data.get("subject", "")[:200],
        email_template=data.get("email_template", "")[:2000],
        trigger=trigger,
    )


@require_POST
@login_required(login_url="admin:login")
def preview_view(request: HttpRequest) -> HttpResponse:
    step = _step_from(request)
    shown = preview(step)
    result = shown.as_dict()
    result["summary"], result["advice"] = _words(shown)
    result["mention_summary"] = mention_words(shown, site=step.flow.site)
    # The same, with the mention quoted in the shop's language (the texts are the shop's).
    result["mention_html"] = mention_words(shown, site=step.flow.site, html=True)
    result["language"] = step.flow.site.language
    result["labels"] = {
        "test": _("Send a test to this number"),
        "phone": _("Your mobile number"),
        "sample": _("With sample data"),
        "code": _("Code received by SMS"),
        "confirm": _("Confirm and send the test"),
        "email": _("The email"),
        "subject": _("Subject:"),
        "on_desktop": _("On a computer (1280 px wide)"),
        "on_phone": _("On a phone (390 px wide)"),
    }
    # An email step shows its email too: the SMS text stays (an "SMS, else email" step sends
    # it, and an email without its own text takes its words).
    shown_email = email_preview(step)
    result["email"] = shown_email.as_dict() if shown_email else None
    result["test_phone"] = request.session.get(SESSION_PHONE, "")
    return JsonResponse(result)


def _words(shown: Preview) -> tuple[str, str]:
    """The preview's figures and advice, in a sentence each."""
    if shown.sample is None or shown.longest is None:
        return "", ""
    sample, longest = shown.sample, shown.longest
    summary = (
        ngettext(
            "%(segments)d segment · %(encoding)s · %(characters)d characters.",
            "%(segments)d segments · %(encoding)s · %(characters)d characters.",
            sample.segments,
        )
        % asdict(sample)
        + " "
        + _(
            "At its longest (long first name, large total, long product name): "
            "%(characters)d characters · %(encoding)s · %(segments)d of %(limit)d segments "
            "allowed, %(cost)s per message."
        )
        % {
            "characters": longest.characters,
            "encoding": longest.encoding,
            "segments": longest.segments,
            "limit": shown.max_segments,
            "cost": shown.cost,
        }
    )
    advice = ""
    if sample.ucs2_characters:
        advice = _(
            "These characters switch the SMS to UCS-2 (70 characters per segment instead of "
            "160): %(characters)s."
        ) % {"characters": " ".join(sample.ucs2_characters)}
        if shown.transliterated is not None:
            advice += " " + ngettext(
                "With transliteration on, it would take %(segments)d segment: %(text)s",
                "With transliteration on, it would take %(segments)d segments: %(text)s",
                shown.transliterated.segments,
            ) % {"segments": shown.transliterated.segments, "text": shown.transliterated.text}
    return summary, advice


@require_POST
@login_required(login_url="admin:login")
def test_send_view(request: HttpRequest) -> HttpResponse:
    step = _step_from(request)
    site = step.flow.site
    try:
        phone = parse_phone(request.POST.get("phone", ""), default_region=site.country).e164
    except InvalidPhone as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if preview(step).errors:
        return JsonResponse({"error": _("Fix the text before sending a test.")}, status=400)
    user_id = request.user.pk or 0
    try:
        refuse_stopped(site=site, phone=phone)
    except TestSendRefused as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    if not member_phones.is_proved(user_id=user_id, phone=phone):
        # Tests go only to the member's own number: the first one proves it with a code.
        code = request.POST.get("code", "").strip()
        try:
            if not code:
                member_phones.send_code(user_id=user_id, phone=phone, site=site)
                return JsonResponse(
                    {
                        "code_needed": True,
                        "prompt": _(
                            "We sent a code to %(phone)s: type it to prove this number is yours."
                        )
                        % {"phone": phone},
                    },
                    status=202,
                )
            member_phones.check_code(user_id=user_id, phone=phone, code=code)
        except member_phones.ProofRefused as exc:
            return JsonResponse({"error": str(exc), "code_needed": bool(code)}, status=exc.status)
    try:
        send_test(step=step, phone=phone, user_id=user_id)
    except TestSendRefused as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    request.session[SESSION_PHONE] = phone
    return JsonResponse({"sent": _("Test sent to %(phone)s.") % {"phone": phone}})
