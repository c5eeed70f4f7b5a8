"""Provider error codes and what Relance does about each: one table, extended by settings.

``SMS_ERROR_ACTIONS`` (JSON, e.g. ``{"30008": "retry", "63016": "unreachable"}``) adds codes
or overrides these. Actions: retry (transient), revoke_consent, unreachable, flag, fail
(all permanent). A code not in the table is permanent, with its code recorded.
"""

from __future__ import annotations

from django.conf import settings

from retargeting.gateways.base import Action, Outcome

DEFAULT_ACTIONS: dict[str, Action] = {
    "21610": Action.REVOKE_CONSENT,  # the recipient replied STOP at the provider
    "21211": Action.UNREACHABLE,  # invalid "To" number
    "21614": Action.UNREACHABLE,  # "To" is not a mobile number
    "30005": Action.UNREACHABLE,  # unknown destination handset
    "30006": Action.UNREACHABLE,  # landline or unreachable carrier
    "20429": Action.RETRY,  # too many requests
    "21611": Action.RETRY,  # the sender's queue is full
    "30007": Action.FLAG,  # filtered by the carrier
}


def action_for(code: str) -> Action:
    """What to do about provider error ``code``."""
    overrides = {str(k): Action(v) for k, v in settings.SMS_ERROR_ACTIONS.items()}
    return overrides.get(code) or DEFAULT_ACTIONS.get(code) or Action.FAIL


def outcome_of(action: Action) -> Outcome:
    return Outcome.TRANSIENT if action is Action.RETRY else Outcome.PERMANENT
