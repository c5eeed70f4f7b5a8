"""What the phone simulator and the mailbox share: the line that says when the next dispatch
pass runs, short excerpts, and the answer their pages poll to refresh by themselves
(``static/gateways/simulator.js``: it replaces the part that changed, so a reply being typed
and the reader's place stay)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from retargeting.gateways import passes

POLL_MILLISECONDS = 2000


def local_clock(at: datetime, time_zone: str, *, with_date: bool = False) -> str:
    local = timezone.localtime(at, ZoneInfo(time_zone or "UTC"))
    return f"{local:%d/%m %H:%M}" if with_date else f"{local:%H:%M}"


def next_pass_line(time_zone: str, *, now: datetime | None = None) -> str:
    """ "Next dispatch pass at 14:52 (in 40 s)." in ``time_zone``, or why none is expected."""
    now = now or timezone.now()
    upcoming = passes.next_pass(now=now)
    if upcoming.last is None or upcoming.at is None:
        return _(
            "No dispatch pass has run yet: the worker and beat start one every minute "
            "(make run starts them); manage.py dispatch runs one now."
        )
    if upcoming.late:
        return _(
            "No dispatch pass since %(time)s: are the worker and beat running? "
            "manage.py dispatch runs one now."
        ) % {"time": local_clock(upcoming.last, time_zone)}
    if upcoming.seconds == 0:
        return _("Next dispatch pass: due now.")
    return _("Next dispatch pass at %(time)s (in %(seconds)s s).") % {
        "time": local_clock(upcoming.at, time_zone),
        "seconds": upcoming.seconds,
    }


def excerpt(text: str, length: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def live_answer(html: str, next_pass: str) -> JsonResponse:
    """What the page polls: the part to show, a version to tell a change by, the next pass."""
    response = JsonResponse({"version": version_of(html), "html": html, "next_pass": next_pass})
    response["Cache-Control"] = "no-store"
    return response


def version_of(html: str) -> str:
    return hashlib.sha256(html.encode()).hexdigest()[:16]
