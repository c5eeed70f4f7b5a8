"""One vocabulary for why a send did what it did: every reason the code writes is a SendReason,
every member has the marketer's words, and the stored values are those of the rows already
written."""

from __future__ import annotations

import ast
from pathlib import Path

import polib
import pytest
from django.utils import translation
from django.utils.functional import Promise

from campaigns.dashboard.explanations import FILTERABLE, REASONS, reason_label
from campaigns.send_reasons import DEFERRALS, SendReason, refusal_reason
from retargeting.gateways.base import Action

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
# What Send.reason and SendEvent.reason hold today: rows keep these values (no data migration).
STORED = {
    "quiet_hours",
    "capped",
    "throttled",
    "provider_retry",
    "cart_changed",
    "interrupted",
    "stale",
    "converted",
    "cart_replaced",
    "cart_emptied",
    "opted_out",
    "unreachable",
    "erased",
    "held_out",
    "no_discount_code",
    "invalid_template",
    "provider_unavailable",
    "not_found_at_provider",
    "revoke_consent",
    "flag",
    "fail",
    "none",
    "no_phone",
    "no_email_consent",
    "email_unsubscribed",
    "no_email_address",
    "email_unreachable",
    "email_blocked",
    "email_not_configured",
    # The messages after the order (campaigns.order_messages).
    "order_cancelled",
    "order_gone",
    # back_in_stock
    "sold_out_again",
    "request_expired",
    "request_channel_off",
    # browse_abandoned
    "browse_cart_or_order",
    "browse_unavailable",
    "browse_cooldown",
    "browse_view_gone",
    "browsing_again",
}


def literal_reasons(source: str) -> list[tuple[int, str]]:
    """Where ``source`` writes (or tests) a reason as a bare string: ``reason="..."``,
    ``{"reason": "..."}``, ``x["reason"] = "..."``, ``reason = "..."``, ``send.reason in
    ("...",)`` and ``return "..."`` in a function named for a reason (the empty string, "no
    reason", is allowed)."""

    def literals(node: ast.AST | None) -> list[str]:
        # The value itself or one of its branches; not what a call computes from strings.
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            return [node.value]
        if isinstance(node, ast.IfExp):
            return literals(node.body) + literals(node.orelse)
        if isinstance(node, ast.BoolOp):
            return [text for value in node.values for text in literals(value)]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return [text for value in node.elts for text in literals(value)]
        return []

    def is_reason(target: ast.AST) -> bool:
        if isinstance(target, ast.Name | ast.Attribute):
            return (target.id if isinstance(target, ast.Name) else target.attr) == "reason"
        return (
            isinstance(target, ast.Subscript)
            and isinstance(target.slice, ast.Constant)
            and target.slice.value == "reason"
        )

    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef) and "reason" in function.name:
            found += [
                (node.lineno, text)
                for node in ast.walk(function)
                if isinstance(node, ast.Return)
                for text in literals(node.value)
            ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            is_reason(side) for side in [node.left, *node.comparators]
        ):
            found += [
                (node.lineno, text)
                for side in [node.left, *node.comparators]
                for text in literals(side)
            ]
        if isinstance(node, ast.keyword) and node.arg == "reason":
            found += [(node.value.lineno, value) for value in literals(node.value)]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "reason":
                    found += [(value.lineno, text) for text in literals(value)]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                else:
                    pairs = [(target, node.value)]
                found += [
                    (node.lineno, text)
                    for name, value in pairs
                    if is_reason(name)
                    for text in literals(value)
                ]
    return found


def engine_files() -> list[Path]:
    return sorted(
        path
        for path in (ROOT / "campaigns").rglob("*.py")
        if "migrations" not in path.parts and path.name != "send_reasons.py"
    )


def test_no_reason_is_written_as_a_bare_string():
    offenders = {
        f"{path.relative_to(ROOT)}:{line}": text
        for path in engine_files()
        for line, text in literal_reasons(path.read_text(encoding="utf-8"))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        'advance(send, reason="stale")',
        'row = {"status": "held_out", "reason": "held_out"}',
        'send["status"], send["reason"] = HELD, "held_out"',
        'reason = "capped" if late else "quiet_hours"',
        'send.reason = "converted"',
        'reason = cached or "stale"',
        'waits = send.reason in ("quiet_hours", "capped")',
        'def exit_reason(send):\n    return "erased"',
    ],
)
def test_the_scan_sees_a_bare_reason(source):
    assert literal_reasons(source) != []


def test_the_scan_lets_members_and_no_reason_through():
    source = (
        'advance(send, reason=SendReason.STALE)\nrow = {"reason": ""}\n'
        "reason = SendReason.CAPPED if late else SendReason.QUIET_HOURS\n"
        'SendResult(error_code="timeout", detail="the reason in words")\n'
        'reason = params.get("reason", "")\n'
    )
    assert literal_reasons(source) == []


def test_the_values_are_the_reasons_already_stored():
    assert set(SendReason.values) == STORED
    assert all(len(value) <= 32 for value in SendReason.values)  # Send.reason's max_length


def test_every_member_has_the_marketers_words_in_french_too():
    french = {entry.msgid: entry.msgstr for entry in polib.pofile(str(CATALOGUE))}
    for reason in SendReason:
        assert isinstance(reason.label, Promise), reason  # translated when shown
        with translation.override(None):
            msgid = str(reason.label)
        assert msgid and msgid != reason.value, reason
        assert french.get(msgid), reason


def test_the_dashboard_words_and_filters_come_from_the_enum():
    assert REASONS == dict(SendReason.choices)
    assert all(isinstance(reason, SendReason) for reason in FILTERABLE)
    assert len(set(FILTERABLE)) == len(FILTERABLE)
    with translation.override("en"):
        assert reason_label("quiet_hours") == "Quiet hours"
    assert reason_label("from_an_older_release") == "from_an_older_release"
    assert DEFERRALS <= set(SendReason)


@pytest.mark.parametrize(
    ("action", "stored"),
    [
        (Action.REVOKE_CONSENT, "revoke_consent"),
        (Action.UNREACHABLE, "unreachable"),
        (Action.FLAG, "flag"),
        (Action.FAIL, "fail"),
        (Action.NONE, "none"),
    ],
)
def test_a_provider_refusal_is_recorded_as_before(action, stored):
    assert refusal_reason(action) == stored


def test_an_email_refused_for_good_is_an_unreachable_address_not_a_number():
    assert refusal_reason(Action.UNREACHABLE, channel="email") == SendReason.EMAIL_UNREACHABLE
    assert refusal_reason(Action.UNREACHABLE, channel="sms") == SendReason.UNREACHABLE
    assert refusal_reason(Action.REVOKE_CONSENT, channel="email") == "revoke_consent"


def test_every_action_of_the_gateways_has_a_reason():
    assert all(isinstance(refusal_reason(action), SendReason) for action in Action)
