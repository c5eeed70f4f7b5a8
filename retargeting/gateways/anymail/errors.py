"""The error codes of email providers through django-anymail (their API's refusals and their
tracking webhooks' bounces), with the codes every email provider shares."""

from __future__ import annotations

from retargeting.gateways.base import Action
from retargeting.gateways.email_framework import ERROR_ACTIONS as EMAIL_ACTIONS

BOUNCED, INVALID, SOFT_BOUNCE, BLOCKED, FAILED = (
    "email_bounced",
    "email_invalid",
    "soft_bounce",
    "email_blocked",
    "email_failed",
)

ERROR_ACTIONS: dict[str, Action] = {
    **EMAIL_ACTIONS,
    BOUNCED: Action.UNREACHABLE,  # a hard bounce reported later
    INVALID: Action.UNREACHABLE,  # the provider found the address invalid
    SOFT_BOUNCE: Action.FAIL,  # the mailbox full or away: not sent, the address kept
    BLOCKED: Action.FAIL,  # on the provider's own blocklist
}
