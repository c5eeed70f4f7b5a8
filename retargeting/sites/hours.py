"""The custom quiet-hours setting of a site: its shape, checked when the site is saved.

``{"windows": [{"days": ["mon", "tue", ...], "start": "08:00", "end": "20:00"}, ...],
"holidays": false}``: the windows in which marketing SMS may go out, in the recipient's time
zone, and whether public holidays are allowed. A window whose end is before its start crosses
midnight and belongs to the day it starts on.
"""

from __future__ import annotations

import re
from datetime import time

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")  # fullmatch: "$" takes a final "\n"


def parse_clock(value: object, where: str) -> time:
    if not isinstance(value, str) or not (match := _CLOCK.fullmatch(value)):
        raise ValidationError(
            _("%(where)s: write the time as HH:MM, e.g. 08:00") % {"where": where}
        )
    return time(int(match[1]), int(match[2]))


def parse_custom_hours(value: object) -> tuple[list[tuple[frozenset[int], time, time]], bool]:
    """The windows (days starting them, start, end) and whether holidays are allowed."""
    if not isinstance(value, dict) or set(value) - {"windows", "holidays"}:
        raise ValidationError(_('Write {"windows": [...], "holidays": false}.'))
    raw_windows = value.get("windows")
    if not isinstance(raw_windows, list) or not raw_windows:
        raise ValidationError(_("List at least one window."))
    holidays = value.get("holidays", False)
    if not isinstance(holidays, bool):
        raise ValidationError(_('"holidays" is true or false.'))
    windows = []
    for index, window in enumerate(raw_windows, start=1):
        where = _("window %(number)s") % {"number": index}
        if not isinstance(window, dict) or set(window) != {"days", "start", "end"}:
            raise ValidationError(
                _('%(where)s: give "days", "start" and "end".') % {"where": where}
            )
        days = window["days"]
        if not isinstance(days, list) or not days or any(day not in DAY_NAMES for day in days):
            raise ValidationError(
                _("%(where)s: days are among %(days)s")
                % {"where": where, "days": ", ".join(DAY_NAMES)}
            )
        start = parse_clock(window["start"], f"{where} start")
        end = parse_clock(window["end"], f"{where} end")
        if start == end:
            raise ValidationError(
                _("%(where)s: the start and the end are the same time.") % {"where": where}
            )
        windows.append((frozenset(DAY_NAMES.index(day) for day in days), start, end))
    return windows, holidays


def validate_custom_hours(value: object) -> None:
    """Empty is allowed (the setting is used only with the custom preset)."""
    if value in ({}, None):
        return
    parse_custom_hours(value)
