"""What Relance does about a provider's error: the provider-neutral part of every error table.

Each provider's folder keeps its own table (``<provider>/errors.py``: the codes it returns,
mapped to actions) and hands it to :func:`action_for` and :func:`error_result`.
``SMS_ERROR_ACTIONS`` (JSON, e.g. ``{"30008": "retry", "63016": "unreachable"}``) adds codes
or overrides them, for whichever provider returns them. Actions: retry (transient),
revoke_consent, unreachable, flag, fail (all permanent). A code in no table is permanent, with
its code recorded. Twilio's codes are numbers, Brevo's are words, so an override never hits
two providers' codes at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from retargeting.gateways.base import Action, Outcome, SendResult


def action_for(code: str, table: Mapping[str, Action]) -> Action:
    """What to do about error ``code`` of the provider whose table is ``table``."""
    overrides = {str(k): Action(v) for k, v in settings.SMS_ERROR_ACTIONS.items()}
    return overrides.get(code) or table.get(code) or Action.FAIL


def outcome_of(action: Action) -> Outcome:
    return Outcome.TRANSIENT if action is Action.RETRY else Outcome.PERMANENT


# The message may or may not have reached the provider: it must be looked for before any
# retry (a second send could reach the customer twice).
TIMEOUT, CONNECTION = "timeout", "connection"
MAYBE_SENT = "maybe_sent"
"""The provider answered 500, 502 or 504: its edge or its application failed, perhaps after
the message was queued (unlike 503 and 429, which refuse before taking anything)."""
AMBIGUOUS = frozenset({TIMEOUT, CONNECTION, MAYBE_SENT})
PERHAPS_TAKEN_STATUSES = frozenset({500, 502, 504})
# Never handed to the provider, so certainly not sent: the sender's rate allowed no message
# within the caller's wait, or the caller's write-ahead mark refused it.
THROTTLED, NOT_HANDED = "throttled", "not_handed"


def timed_out() -> SendResult:
    """The provider did not answer in time: perhaps taken, perhaps not."""
    return SendResult(
        Outcome.TRANSIENT,
        error_code=TIMEOUT,
        reason="the provider did not answer in time",
        action=Action.RETRY,
    )


def connection_lost(exc: Exception) -> SendResult:
    """The connection failed or broke: perhaps taken, perhaps not."""
    return SendResult(
        Outcome.TRANSIENT, error_code=CONNECTION, reason=str(exc)[:255], action=Action.RETRY
    )


def error_result(
    code: str, status: int | None, reason: str, *, table: Mapping[str, Action]
) -> SendResult:
    """The result of a refused request: perhaps sent for HTTP 500, 502 and 504 (``AMBIGUOUS``);
    else the code's action in the provider's ``table``, else retry for HTTP 429 and 503."""
    if status in PERHAPS_TAKEN_STATUSES:
        # Perhaps sent: never sent again blindly (looked up where the provider lists its
        # messages, otherwise left unknown): a message twice is worse than one missing.
        return SendResult(
            Outcome.TRANSIENT,
            error_code=MAYBE_SENT,
            reason=f"{code or f'http_{status}'}: {reason}"[:255],
            action=Action.RETRY,
        )
    throttled_or_down = status is not None and (status == 429 or status >= 500)
    if code:
        action = action_for(code, table)
        if action is Action.FAIL and throttled_or_down:
            action = Action.RETRY
    elif throttled_or_down:
        action = Action.RETRY
    else:
        action = Action.FAIL
    return SendResult(
        outcome_of(action),
        error_code=code or (f"http_{status}" if status else "error"),
        reason=reason[:255],
        action=action,
    )
