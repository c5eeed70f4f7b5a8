"""Shared settings and strategies for the generated (hypothesis) tests of hostile input.

Each test states how many inputs it tries; docs/reliability.md reports the same figures.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = 150

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

# Text a hostile or careless user might type: any character, with the ones our parsers
# care about (digits, separators, template braces, quotes, NUL, accents) made frequent.
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("0123456789+-. ()/;,\"'\n\r\t\x00{}%|:éàçœ€📦"),
    ),
    max_size=60,
)
