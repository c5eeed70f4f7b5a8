"""Login attempts, throttled: after ``FAILURES_PER_USERNAME`` failed logins for one username,
or ``FAILURES_PER_IP`` from one address, within ``WINDOW_SECONDS``, the login form refuses to
check any password for that username or address until the window has passed.

Counters live with the other limits' (retargeting/web/ratelimit.py: Redis in production, a
store no flood can cull in the embedded default). A successful
login clears its username's counter, not its address's: a shared office address that keeps
failing stays throttled.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from retargeting.web.privacy import client_ip
from retargeting.web.ratelimit import store

FAILURES_PER_USERNAME = 5
FAILURES_PER_IP = 30
WINDOW_SECONDS = 15 * 60


def _keys(username: str, ip: str | None) -> tuple[str, str]:
    # Hashed so that typed usernames (sometimes a password by mistake) are not cache keys.
    name = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"login-fail:user:{name}", f"login-fail:ip:{ip or 'unknown'}"


def is_throttled(*, username: str, ip: str | None) -> bool:
    """Whether a login for ``username`` from ``ip`` must be refused without checking it."""
    user_key, ip_key = _keys(username, ip)
    cache = store()
    return (cache.get(user_key) or 0) >= FAILURES_PER_USERNAME or (
        cache.get(ip_key) or 0
    ) >= FAILURES_PER_IP


def record_failure(*, username: str, ip: str | None) -> None:
    """Count one failed login. The window starts at the first failure."""
    cache = store()
    for key in _keys(username, ip):
        if not cache.add(key, 1, timeout=WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=WINDOW_SECONDS)


def record_success(*, username: str) -> None:
    store().delete(_keys(username, None)[0])


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin's (and so the dashboard's) login form, with the throttle in front."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": _(
            "Too many failed attempts. Wait 15 minutes before trying again, "
            "or ask an administrator to reset your password."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if isinstance(self.request, HttpRequest) else None
        if is_throttled(username=username, ip=ip):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_failure(username=username, ip=ip)
            raise
        record_success(username=username)
        return cleaned
