"""The one JSON reader of every JSON body Relance accepts (the collector, the server API).

Python's ``json.loads`` takes more than JSON: ``NaN``, ``Infinity`` and ``-Infinity``, numbers
such as ``1e400`` that become infinite, and ``"\\ud800"``, a lone UTF-16 surrogate that no
encoder (UTF-8, PostgreSQL, the SMS provider) can write. Each of them crashed a later step
with a 500; here they are refused where the body is read, with a reason the sender can fix.
A key repeated in one object (``{"cart": 1, "cart": 2}``) is refused too: readers disagree on
which value wins (Python keeps the last, others the first), so such a body means nothing sure.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

_SURROGATE = re.compile("[\ud800-\udfff]")
# What a surrogate can come from: an escape (\ud800) or, as json.loads decodes bytes with
# "surrogatepass", one encoded in the bytes. A body without either (nearly all) is not walked.
_MAY_HOLD_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_MAY_HOLD_SURROGATE_TEXT = re.compile("\\\\u[dD][89a-fA-F]|[\ud800-\udfff]")


class InvalidJson(ValueError):
    """A body that is not JSON, or JSON that no later step can keep. The message says why."""


def _constant(name: str) -> NoReturn:
    raise InvalidJson(f"the body is not valid JSON: {name} is not a number (send a finite number)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else text[:24] + "…"
        raise InvalidJson(f"the body is not valid JSON: {shown} is too large a number")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidJson(f"the body is not valid JSON: the key {key[:60]!r} is repeated")
            seen.add(key)
    return value


def loads(data: bytes | str) -> Any:
    """The value of a JSON body; raises ``InvalidJson`` for anything but finite numbers,
    strings of whole Unicode characters and objects whose keys are each given once."""
    try:
        value = json.loads(
            data, parse_constant=_constant, parse_float=_finite, object_pairs_hook=_object
        )
    except InvalidJson:
        raise
    except RecursionError:
        raise InvalidJson("the body is not valid JSON: nested too deeply") from None
    except ValueError:  # UnicodeDecodeError included
        raise InvalidJson("the body is not valid JSON") from None
    path = _lone_surrogate(value) if _may_hold_surrogate(data) else None
    if path is not None:
        raise InvalidJson(
            f"{path[:200] or 'the body'}: a string holds a lone UTF-16 surrogate "
            "(such as \\ud800), which is not a character"
        )
    return value


def _may_hold_surrogate(data: bytes | str) -> bool:
    if isinstance(data, str):
        return _MAY_HOLD_SURROGATE_TEXT.search(data) is not None
    if not json.detect_encoding(data).startswith("utf-8"):
        return True  # UTF-16 or UTF-32, which json.loads also reads: always walked
    if b"\\u" not in data and b"\xed" not in data:  # substring tests: the fast common case
        return False
    return _MAY_HOLD_SURROGATE_BYTES.search(data) is not None


def _lone_surrogate(value: Any) -> str | None:
    """Where the first string (a value or a key) with a lone surrogate is, or None.

    A pair (``"\\ud83d\\ude00"``) is one character by then; what is left is alone.
    Iterative, so a deep body costs no recursion.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key):
                    return path or "a key"
                stack.append((child, where))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return None
