"""The text a batch of new contacts is sent to PostgreSQL's COPY as: the column-at-a-time and flat
JSON shortcuts write exactly what the value-by-value forms write."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.lifecycle.repository import _copy_field, _copy_texts, _json_field

# Characters COPY's text format and JSON both escape, and some they don't.
TEXT = st.text(alphabet=st.sampled_from('ab é"\\\n\t\r\x00\x1f\u2028😀,:{}N'), max_size=8)


@given(st.dictionaries(TEXT, TEXT, max_size=4))
def test_a_flat_object_is_written_as_the_encoder_writes_it(value: dict[str, str]) -> None:
    assert _json_field(value) == json.dumps(value, ensure_ascii=False)


def test_other_json_values_go_to_the_encoder() -> None:
    for value in ({}, {"a": 1}, {"a": None}, {1: "x"}, {"a": {"b": "c"}}, ["x"], None, "s"):
        assert _json_field(value) == json.dumps(value, ensure_ascii=False)


@given(st.lists(st.none() | TEXT, max_size=6))
def test_a_column_is_written_as_its_values_one_by_one(values: list[Any]) -> None:
    assert _copy_texts(values) == [_copy_field(v) for v in values]
