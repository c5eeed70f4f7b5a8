"""``/dev/mail/``: the mailbox of the embedded mode, like the phone simulator for SMS.

Each kept email shows its headers, its text part and its HTML part, the latter in a
sandboxed frame (no script, no access to this page; its links open in a new tab). The
one-click unsubscribe button makes the request a mailbox provider makes for RFC 8058: a POST
of ``List-Unsubscribe=One-Click`` to the List-Unsubscribe URL, with no cookie and no CSRF
token, through the whole middleware stack as a request from outside would go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.test import Client
from django.views.decorators.http import require_http_methods

from retargeting.gateways import get_gateway, hooks
from retargeting.gateways.email_outbox.gateway import EmailOutboxGateway
from retargeting.gateways.models import OutboxEmail
from retargeting.gateways.outbox.gateway import OutboxGateway
from retargeting.gateways.simulators import (
    POLL_MILLISECONDS,
    live_answer,
    next_pass_line,
    version_of,
)
from retargeting.sites.access import development_tool
from retargeting.sites.times import sender_time_zone
from retargeting.web.security import HEADER

ONE_CLICK = "List-Unsubscribe=One-Click"
# The page's own policy: the email's images may come from anywhere (a shop's CDN); nothing
# runs; the frame is this page's srcdoc.
POLICY = "; ".join(
    [
        "default-src 'none'",
        "img-src * data:",
        "style-src 'unsafe-inline'",
        "frame-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def _mailbox(request: HttpRequest) -> None:
    """404 unless the email outbox is the configured email provider and the user may see it."""
    if not isinstance(get_gateway("email"), EmailOutboxGateway):
        raise Http404("The mailbox exists only with the email outbox.")
    development_tool(request, "mailbox")


# The list refreshes by itself: its own script, and its JSON answer (it shows no email's HTML).
INDEX_POLICY = POLICY.replace(
    "default-src 'none'", "default-src 'none'; script-src 'self'; connect-src 'self'"
)
INDEX_PART = "gateways/mail_list.html"


@dataclass(frozen=True)
class Kept:
    message: OutboxEmail
    names: str


def _kept() -> list[Kept]:
    """The latest emails kept, newest first, with the names their recipients are known by:
    two queries whatever their number."""
    messages = list(OutboxEmail.objects.order_by("-created_at", "-id")[:200])
    recipients = {m.pk: [a for _n, a in getaddresses([m.to]) if a] for m in messages}
    names = hooks.names_of(
        "email", sorted({a.lower() for each in recipients.values() for a in each})
    )
    return [
        Kept(m, ", ".join(names[a.lower()] for a in recipients[m.pk] if a.lower() in names))
        for m in messages
    ]


def _next_pass() -> str:
    return next_pass_line(sender_time_zone(OutboxGateway().default_sender()))


def mail_index(request: HttpRequest) -> HttpResponse:
    _mailbox(request)
    context: dict[str, Any] = {"kept": _kept(), "next_pass": _next_pass()}
    context["version"] = version_of(render_to_string(INDEX_PART, context, request=request))
    context["poll"] = POLL_MILLISECONDS
    response = render(request, "gateways/mail_index.html", context)
    response[HEADER] = INDEX_POLICY
    return response


def mail_index_live(request: HttpRequest) -> HttpResponse:
    """What ``/dev/mail/`` polls to refresh its list by itself."""
    _mailbox(request)
    html = render_to_string(INDEX_PART, {"kept": _kept()}, request=request)
    return live_answer(html, _next_pass())


def one_click_target(message: OutboxEmail) -> str:
    """The List-Unsubscribe URL a mailbox provider would POST to (https or http, the first
    one), when the message offers one-click (``List-Unsubscribe-Post``)."""
    if message.header("List-Unsubscribe-Post").strip() != ONE_CLICK:
        return ""
    urls = re.findall(r"<([^>]+)>", message.header("List-Unsubscribe"))
    return next((url for url in urls if url.startswith(("https://", "http://"))), "")


def _unsubscribe(url: str) -> tuple[int, str]:
    """POST one-click to ``url`` as Gmail does; only Relance's own URLs (PUBLIC_BASE_URL)."""
    ours = urlsplit(settings.PUBLIC_BASE_URL)
    target = urlsplit(url)
    if (target.scheme, target.netloc) != (ours.scheme, ours.netloc):
        return 0, f"Not sent: {url} is not under PUBLIC_BASE_URL ({settings.PUBLIC_BASE_URL})."
    client = Client(enforce_csrf_checks=True, HTTP_HOST=ours.netloc)
    response = client.post(
        target.path + (f"?{target.query}" if target.query else ""),
        data=ONE_CLICK,
        content_type="application/x-www-form-urlencoded",
        secure=target.scheme == "https",
    )
    return response.status_code, response.content.decode(errors="replace")[:500]


def _frame_document(html: str) -> str:
    # Links open in a new tab, outside the sandbox.
    return '<base target="_blank">' + html


@require_http_methods(["GET", "POST"])
def mail_message(request: HttpRequest, message_id: int) -> HttpResponse:
    _mailbox(request)
    message = get_object_or_404(OutboxEmail, pk=message_id)
    target = one_click_target(message)
    result = None
    if request.method == "POST" and target:
        result = _unsubscribe(target)
    context = {
        "message": message,
        "frame": _frame_document(message.html) if message.html else "",
        "unsubscribe_url": target,
        "result": result,
    }
    response = render(request, "gateways/mail_message.html", context)
    response[HEADER] = POLICY
    return response
