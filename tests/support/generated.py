"""Shared settings and strategies for the generated (hypothesis) tests of hostile input.

Each test states how many inputs it tries; docs/reliability.md reports the same figures.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = 150

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Raw(str):
    """A JSON token written as it is: numbers ``json.dumps`` never writes (``1e400``) or writes
    only because Python's JSON allows them (``NaN``, ``Infinity``)."""


# Python's json.loads takes all of them; 1e400 and 1E+999 become infinite.
HOSTILE_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+999")
hostile_numbers = st.sampled_from([Raw(token) for token in HOSTILE_NUMBERS])

# A lone UTF-16 surrogate ("\ud800" escaped in JSON): no encoder can write it.
lone_surrogates = st.characters(categories=["Cs"])

# Text of a JSON body: any character, lone surrogates included (written escaped by to_json).
hostile_json_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from('0123456789+-. /:"\x00éà€📦'),
        lone_surrogates,
    ),
    max_size=40,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | hostile_numbers
    | hostile_json_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(hostile_json_text.map(lambda t: t[:8]), children, max_size=4)
    ),
    max_leaves=20,
)


def to_json(value: Any) -> str:
    """``value`` as a JSON body, ``Raw`` tokens as they are and strings escaped (so a lone
    surrogate is sent as ``\\ud800``, as a hostile client would)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        members = (f"{json.dumps(str(key))}:{to_json(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


# Text a hostile or careless user might type: any character, with the ones our parsers
# care about (digits, separators, template braces, quotes, NUL, accents) made frequent.
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("0123456789+-. ()/;,\"'\n\r\t\x00{}%|:éàçœ€📦"),
    ),
    max_size=60,
)
