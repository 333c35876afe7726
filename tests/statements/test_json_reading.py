"""Request bodies are read by orjson where that gives exactly what the strict reader gives,
and by the strict reader (the json module, each key once: Data 2.2.s2.b2) otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrs.errors import BadRequest
from statements.validation import _UNSURE, _fast_loads, parse_json
from tests.factories import statement

_KEYS = st.text(alphabet=st.sampled_from('ab:"\\é\U0001f600 /'), max_size=4)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('a:"\\\n\t\x00é\U0001f600'), max_size=6)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


def _text(value: Any, ascii_only: bool, spaced: bool) -> str:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(value, ensure_ascii=ascii_only, separators=separators)


@given(_VALUES, st.booleans(), st.booleans())
def test_orjson_reads_what_the_strict_reader_reads(
    value: Any, ascii_only: bool, spaced: bool
) -> None:
    text = _text(value, ascii_only, spaced)
    fast = _fast_loads(text)
    if fast is not _UNSURE:
        assert repr(fast) == repr(json.loads(text))  # types too: 1 is not 1.0


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 1}',
        '{"x": {"a:b": 1, "a:b": 2}}',
        '{"a\\u0062": 1, "ab": 2}',  # the same key, escaped once
        '[{"k": "v:w", "k": "v:w"}]',
    ],
)
def test_a_repeated_key_is_refused(text: str) -> None:
    """Data 2.2.s2.b2: orjson would keep the last; the strict reader names the key."""
    assert _fast_loads(text) is _UNSURE
    with pytest.raises(BadRequest, match="more than once"):
        parse_json(text, "body")


@pytest.mark.parametrize(
    "text",
    ['{"a": 123456789012345678901234567890}', '{"k\\u003a": 1}', '{"a": NaN}', "[1] x"],
)
def test_what_orjson_might_read_otherwise_is_left_to_the_strict_reader(text: str) -> None:
    assert _fast_loads(text) is _UNSURE


def test_a_plain_batch_is_read_by_orjson() -> None:
    batch = [statement(context={"extensions": {"https://example.com/x": "a:b"}})] * 3
    text = json.dumps(batch)
    assert _fast_loads(text) == batch
