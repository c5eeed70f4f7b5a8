"""Provider error codes and what Relance does about each: one table, extended by settings.

``SMS_ERROR_ACTIONS`` (JSON, e.g. ``{"30008": "retry", "63016": "unreachable"}``) adds codes
or overrides these. Actions: retry (transient), revoke_consent, unreachable, flag, fail
(all permanent). A code not in the table is permanent, with its code recorded. Twilio's codes
are numbers; Brevo's are words (its API error codes, and the delivery statuses that end a
message), so the two never collide.
"""

from __future__ import annotations

from django.conf import settings

from retargeting.gateways.base import Action, Outcome, SendResult

DEFAULT_ACTIONS: dict[str, Action] = {
    "21610": Action.REVOKE_CONSENT,  # the recipient replied STOP at the provider
    "21211": Action.UNREACHABLE,  # invalid "To" number
    "21614": Action.UNREACHABLE,  # "To" is not a mobile number
    "30005": Action.UNREACHABLE,  # unknown destination handset
    "30006": Action.UNREACHABLE,  # landline or unreachable carrier
    "20429": Action.RETRY,  # too many requests
    "21611": Action.RETRY,  # the sender's queue is full
    "30007": Action.FLAG,  # filtered by the carrier
    # Brevo (docs/sms-providers.md)
    "not_enough_credits": Action.RETRY,  # the account ran out of SMS credits: sent once topped up
    "account_under_validation": Action.RETRY,  # a new account Brevo has not validated yet
    "blocked": Action.REVOKE_CONSENT,  # the number is on Brevo's blocklist (it sent STOP)
    "hard_bounce": Action.UNREACHABLE,  # the number cannot receive SMS
    # Email (retargeting/gateways/email_framework.py, anymail/tracking.py)
    "email_unreachable": Action.UNREACHABLE,  # refused at once: 550 5.1.1, rejected address
    "email_bounced": Action.UNREACHABLE,  # a hard bounce reported later
    "email_invalid": Action.UNREACHABLE,  # the provider found the address invalid
    "email_deferred": Action.RETRY,  # 4xx: the server said later
    "unavailable": Action.RETRY,  # no session with the provider: certainly not sent
    "email_soft_bounce": Action.FAIL,  # the mailbox full or away: not sent, the address kept
    "email_blocked": Action.FAIL,  # on the provider's own blocklist
    "email_refused": Action.FAIL,  # the message refused for good (a policy, the content)
}


def action_for(code: str) -> Action:
    """What to do about provider error ``code``."""
    overrides = {str(k): Action(v) for k, v in settings.SMS_ERROR_ACTIONS.items()}
    return overrides.get(code) or DEFAULT_ACTIONS.get(code) or Action.FAIL


def outcome_of(action: Action) -> Outcome:
    return Outcome.TRANSIENT if action is Action.RETRY else Outcome.PERMANENT


# The message may or may not have reached the provider: it must be looked for before any
# retry (a second send could reach the customer twice).
TIMEOUT, CONNECTION = "timeout", "connection"
AMBIGUOUS = frozenset({TIMEOUT, CONNECTION})
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


def error_result(code: str, status: int | None, reason: str) -> SendResult:
    """The result of a refused request: the code's action, else retry for HTTP 429 and 5xx."""
    throttled_or_down = status is not None and (status == 429 or status >= 500)
    if code:
        action = action_for(code)
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
