"""The JSON the ingest reads from the buffer and copies to PostgreSQL: orjson where it gives
what the standard library's json gives, json itself everywhere else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retargeting.db.bulk import _json
from retargeting.tracking.buffer import _decode

# What a page view or a cart can hold once the collector took it: finite numbers, any text.
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_a_column_reads_back_as_json_would_have_written_it(value):
    assert json.loads(_json(value, None)) == json.loads(json.dumps(value))


def test_what_orjson_would_write_its_own_way_goes_to_json():
    class Label(str):
        pass

    @dataclass
    class Point:
        x: int

    assert json.loads(_json({"n": 2**70, "label": Label("x")}, None)) == {"n": 2**70, "label": "x"}
    for refused in (datetime(2026, 12, 2, tzinfo=UTC), Decimal("1.5"), Point(1)):
        with pytest.raises(TypeError):  # as json.dumps refuses it, and Django with it
            _json({"v": refused}, None)


def test_a_column_with_an_encoder_of_its_own_is_written_by_it():
    from django.core.serializers.json import DjangoJSONEncoder

    assert json.loads(_json({"v": Decimal("1.5")}, DjangoJSONEncoder)) == {"v": "1.5"}


def body(**fields):
    return {
        b"b": json.dumps(
            {"s": 1, "v": "v" * 32, "t": 1796214093.5, "src": "web", "ip": None, "ua": "", **fields}
        ).encode()
    }


def test_an_entry_reads_the_same_whatever_reads_it():
    events = [{"type": "page_view", "url": "https://shop.example/é", "title": "Panier 🛒"}]
    entry = _decode(b"1-0", body(e=events))
    assert entry is not None
    assert entry.events == events
    assert entry.received_at == datetime.fromtimestamp(1796214093.5, tz=UTC)


def test_an_entry_orjson_refuses_is_read_by_json():
    # A lone surrogate, as json.dumps escapes it: orjson refuses it, json reads it as before.
    entry = _decode("2-0", body(e=[{"type": "page_view", "title": "\ud800"}]))
    assert entry is not None
    assert entry.events[0]["title"] == "\ud800"
