"""Every error code a provider reports fits the column a send keeps it in: a longer one made
the worker's write fail on PostgreSQL (``value too long``) after the provider had answered."""

from __future__ import annotations

import ast
from pathlib import Path

from campaigns.models import Send, SendEvent
from retargeting.gateways.base import ERROR_CODE_LENGTH, Action
from retargeting.gateways.brevo.errors import ERROR_ACTIONS as BREVO_ERRORS
from retargeting.gateways.errors import error_result

GATEWAYS = Path(__file__).resolve().parents[2] / "retargeting" / "gateways"


def _codes() -> dict[str, str]:
    """Every string constant a provider module names in ``error_code=`` or keeps in an error
    table (a dict whose keys are names), by where it is defined."""
    constants: dict[str, str] = {}
    used: set[str] = set()
    for path in GATEWAYS.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                constants[node.targets[0].id] = node.value.value
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Tuple)
                and isinstance(node.value, ast.Tuple)
            ):
                for name, value in zip(node.targets[0].elts, node.value.elts, strict=False):
                    if isinstance(name, ast.Name) and isinstance(value, ast.Constant):
                        constants[name.id] = str(value.value)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "error_code":
                if isinstance(node.value, ast.Name):
                    used.add(node.value.id)
                elif isinstance(node.value, ast.Constant):
                    constants[f"literal {node.value.value}"] = str(node.value.value)
                    used.add(f"literal {node.value.value}")
            if isinstance(node, ast.Dict) and path.name in ("errors.py", "email_framework.py"):
                used.update(key.id for key in node.keys if isinstance(key, ast.Name))
    return {name: constants[name] for name in used if name in constants}


def test_the_scan_finds_the_email_and_sms_codes():
    codes = set(_codes().values())
    assert {"addr_unreachable", "email_off", "outbox_down", "throttled"} <= codes


def test_every_error_code_of_relance_fits_a_sends_column():
    limit = min(
        Send._meta.get_field("error_code").max_length,
        SendEvent._meta.get_field("error_code").max_length,
    )
    assert limit == ERROR_CODE_LENGTH
    too_long = {name: code for name, code in _codes().items() if len(code) > limit}
    assert too_long == {}


def test_a_providers_longer_code_is_clipped_after_its_action_is_read():
    # Brevo's own codes can be longer than the column ("account_under_validation").
    result = error_result("account_under_validation", 400, "not validated yet", table=BREVO_ERRORS)
    assert result.action is Action.RETRY
    assert result.error_code == "account_under_validation"[:ERROR_CODE_LENGTH]
    assert result.reason == "account_under_validation: not validated yet"
