"""A site's sending rules as form fields, for the admin and the dashboard alike: the quiet-hours
preset, the custom hours as an opening and a closing time per weekday (not JSON), the frequency
cap and the staleness limit, each with the rule it sets in words.

The custom hours are stored as ``retargeting.sites.hours`` says (``{"windows": [...],
"holidays": false}``); :class:`WeeklyHoursField` reads and writes that shape, and the model's
own validator (``validate_custom_hours``) still checks what is saved: one home for the rule.
"""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from retargeting.sites.hours import DAY_NAMES, parse_custom_hours
from retargeting.sites.models import QuietHours, Site

CLOCK = "%H:%M"

# What each preset means, beside the choice (docs/campaigns.md, "When messages may go out").
PRESET_EXPLANATIONS = {
    QuietHours.FR_STRICT: _(
        "The legal default for France: marketing SMS only Monday to Saturday, 08:00–20:00, "
        "never on Sundays nor public holidays, in the recipient's time zone. These are the "
        "hours French mobile operators and SMS providers hold commercial SMS to (no messages "
        "at night, on Sundays or public holidays); choose it unless you know why not."
    ),
    QuietHours.FR_AF2M: _(
        "The af2m 2026 charter of the French mobile operators: every day 08:00–21:30; "
        "messages on Sundays and public holidays are allowed but flagged."
    ),
    QuietHours.US_TCPA: _(
        "The US TCPA: 08:00–21:00 in the recipient's time zone, with the stricter hours of "
        "Florida, Oklahoma, Maryland, Mississippi, Connecticut and Texas."
    ),
    QuietHours.CUSTOM: _(
        "Your own hours, below: an opening and a closing time per weekday (both empty: no "
        "messages that day)."
    ),
    QuietHours.NONE: _(
        "No limit at any hour: for transactional messages only. Marketing SMS at night or on "
        "a Sunday break French rules."
    ),
}


class WeeklyHoursWidget(forms.MultiWidget):
    """Seven rows (Monday to Sunday) of an opening and a closing time, and whether public
    holidays are allowed."""

    template_name = "sites/weekly_hours.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        clock = {"type": "time", "step": "60"}
        widgets: list[forms.Widget] = []
        for _day in DAY_NAMES:
            widgets += [
                forms.TimeInput(attrs=clock, format=CLOCK),
                forms.TimeInput(attrs=clock, format=CLOCK),
            ]
        widgets.append(forms.CheckboxInput())
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        """The stored setting as a time pair per weekday (a day in several windows: the first)."""
        values: list[Any] = [None] * (2 * len(DAY_NAMES)) + [False]
        if not value:
            return values
        try:
            windows, holidays = parse_custom_hours(value)
        except ValidationError:
            return values
        for days, start, end in windows:
            for day in sorted(days):
                if values[2 * day] is None:
                    values[2 * day], values[2 * day + 1] = start, end
        values[-1] = holidays
        return values

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        subwidgets = context["widget"]["subwidgets"]
        context["widget"]["days"] = [
            (WEEKDAYS[index], subwidgets[2 * index], subwidgets[2 * index + 1])
            for index in range(len(DAY_NAMES))
        ]
        context["widget"]["holidays"] = subwidgets[-1]
        return context


class WeeklyHoursField(forms.MultiValueField):
    """The custom quiet hours: per weekday an opening and a closing time, or neither (closed);
    a closing time before the opening crosses midnight. Cleans to the stored shape."""

    widget = WeeklyHoursWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.pop("max_length", None)
        fields: list[forms.Field] = []
        for _day in DAY_NAMES:
            fields += [
                forms.TimeField(required=False, input_formats=[CLOCK, "%H:%M:%S"]),
                forms.TimeField(required=False, input_formats=[CLOCK, "%H:%M:%S"]),
            ]
        fields.append(forms.BooleanField(required=False))
        kwargs.setdefault("required", False)
        super().__init__(fields=fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, Any]:
        if not data_list:
            return {}
        errors = []
        by_times: dict[tuple[time, time], list[str]] = {}
        for index, day in enumerate(DAY_NAMES):
            start, end = data_list[2 * index], data_list[2 * index + 1]
            if start is None and end is None:
                continue
            if start is None or end is None:
                errors.append(
                    _("%(day)s: give both the opening and the closing time, or neither.")
                    % {"day": WEEKDAYS[index]}
                )
            elif start == end:
                errors.append(
                    _("%(day)s: the opening and the closing time are the same.")
                    % {"day": WEEKDAYS[index]}
                )
            else:
                by_times.setdefault((start, end), []).append(day)
        if errors:
            raise ValidationError(errors)
        if not by_times:
            return {}
        windows = [
            {"days": days, "start": start.strftime(CLOCK), "end": end.strftime(CLOCK)}
            for (start, end), days in by_times.items()
        ]
        return {"windows": windows, "holidays": bool(data_list[-1])}


if TYPE_CHECKING:
    SiteModelForm = forms.ModelForm[Site]
else:  # the class is not subscriptable at run time (no django-stubs-ext there)
    SiteModelForm = forms.ModelForm


class SendingRulesForm(SiteModelForm):
    """When and how often a site's marketing messages may go out (the dashboard's page of the
    flows' rules): quiet hours, their custom hours, email too or not, caps and staleness. The
    model checks the rest (custom hours need a window, caps coherent)."""

    class Meta:
        model = Site
        fields = [
            "quiet_hours",
            "quiet_hours_custom",
            "email_quiet_hours",
            "cap_per_24h",
            "cap_per_7d",
            "stale_after_hours",
        ]
        field_classes = {"quiet_hours_custom": WeeklyHoursField}
        labels = {
            "quiet_hours": _("When messages may go out"),
            "quiet_hours_custom": _("Your own hours"),
            "email_quiet_hours": _("Quiet hours for email too"),
            "cap_per_24h": _("At most, per contact and 24 hours"),
            "cap_per_7d": _("At most, per contact and 7 days"),
            "stale_after_hours": _("Too late after (hours)"),
        }
        help_texts = {
            "quiet_hours": _(
                "When marketing messages may go out, in the recipient's time zone (taken from "
                "the number). A message due outside these hours waits for the next opening."
            ),
            "quiet_hours_custom": _(
                "Used with “Custom windows” only. Times in the recipient's time zone; the "
                "closing time is excluded (20:00: the last message leaves at 19:59); a "
                "closing time before the opening time runs past midnight."
            ),
            "email_quiet_hours": _("Whether marketing emails wait for the same hours as SMS."),
            "cap_per_24h": _(
                "Marketing messages per contact, shop and channel (SMS and email each have "
                "their own count), every flow together (default 1). A message over the cap "
                "waits; the order's own messages and those the shopper asked for are not "
                "counted."
            ),
            "cap_per_7d": _("The same over 7 days (default 3); at least the 24 hours' cap."),
            "stale_after_hours": _(
                "A reminder that cannot go out this long after the cart's last change is "
                "dropped rather than sent late (default 48, at most 720). Keep a flow's "
                "delays well under it."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quiet_hours"].choices = [  # type: ignore[attr-defined]
            (QuietHours.FR_STRICT, _("France, the legal default: Monday–Saturday 08:00–20:00")),
            (QuietHours.FR_AF2M, _("France, af2m charter: every day 08:00–21:30")),
            (QuietHours.US_TCPA, _("United States (TCPA)")),
            (QuietHours.CUSTOM, _("Custom windows")),
            (QuietHours.NONE, _("No quiet hours")),
        ]

    @property
    def explanations(self) -> list[tuple[str, str]]:
        return [
            (str(label), str(PRESET_EXPLANATIONS[QuietHours(value)]))
            for value, label in self.fields["quiet_hours"].choices  # type: ignore[attr-defined]
        ]
