"""Strict JSON intake: each rejection class with its reason, valid edge cases, and properties."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmmfed import strictjson
from mmmfed.errors import InvalidInput
from mmmfed.strictjson import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_SAFE_INTEGER, parse_json


def _reason(data: bytes, **limits: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        parse_json(data, **limits)
    return err.value


# Rejections, one class each.


def test_too_large_is_refused_before_parsing() -> None:
    """A document over max_bytes is refused by size alone, even if it is not JSON at all."""
    assert _reason(b"x" * (MAX_JSON_BYTES + 1)).reason == "JSON_TOO_LARGE"
    assert _reason(b"[1, 2]", max_bytes=5).reason == "JSON_TOO_LARGE"
    assert parse_json(b"[1, 2]", max_bytes=6) == [1, 2]


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b'"\xff"', 1),  # never valid in UTF-8
        (b'["a", "\xc0\xaf"]', 7),  # overlong encoding of "/"
        (b'"\xe2\x82"', 1),  # truncated sequence
        (b'{"k": "\xed\xa0\x80"}', 7),  # a raw (encoded) surrogate
        (b"\xef\xbb\xbf{}", 0),  # byte order mark
    ],
)
def test_not_utf8_is_refused_with_its_offset(data: bytes, offset: int) -> None:
    """Bytes that are not well-formed UTF-8, or that start with a BOM, give JSON_NOT_UTF8 and the offset."""
    err = _reason(data)
    assert err.reason == "JSON_NOT_UTF8"
    assert err.metadata["offset"] == str(offset)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (b'{"a": 1, "a": 2}', "$"),
        (b'{"x": [0, {"b": {}, "a": 1, "b": 2}]}', "$.x[1]"),
        (b'{"a": 1, "\\u0061": 2}', "$"),  # equal after unescaping
        (b'[{"odd key": {"k": [], "k": []}}]', '$[0]["odd key"]'),
    ],
)
def test_duplicate_keys_are_refused_at_any_depth(data: bytes, path: str) -> None:
    """An object naming a member twice, at any depth, gives JSON_DUPLICATE_KEY and its JSON path."""
    err = _reason(data)
    assert err.reason == "JSON_DUPLICATE_KEY"
    assert err.metadata["path"] == path


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_constants_are_refused(constant: bytes) -> None:
    """NaN and the infinities, which Python's json accepts, give JSON_NON_FINITE."""
    assert _reason(constant).reason == "JSON_NON_FINITE"
    err = _reason(b'{"a": [1, ' + constant + b"]}")
    assert (err.reason, err.metadata["path"]) == ("JSON_NON_FINITE", "$.a[1]")


@pytest.mark.parametrize(
    "number",
    [
        b"9007199254740992",  # 2**53
        b"-9007199254740992",
        b"12345678901234567890",
        b"1" * 5000,  # beyond int()'s 4300-digit limit: still our error, not ValueError
        b"1e400",
        b"-1e400",
        b"1.8e308",
        b"1" * 400 + b".5",
    ],
)
def test_numbers_out_of_range_are_refused(number: bytes) -> None:
    """Integers beyond +-(2**53-1) and numbers that overflow a double give JSON_NUMBER_OUT_OF_RANGE."""
    assert _reason(number).reason == "JSON_NUMBER_OUT_OF_RANGE"
    err = _reason(b'{"Size": ' + number + b"}")
    assert err.metadata["path"] == "$.Size"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (b'"\\ud800"', "$"),
        (b'"\\uDC00"', "$"),
        (b'["ok", "\\ud83d\\u0041"]', "$[1]"),  # high surrogate followed by a non-surrogate
        (b'"\\ude00\\ud83d"', "$"),  # a pair in the wrong order
        (b'"\\ud83d"', "$"),
        (b'{"a": {"\\ud800": 1}}', "$.a"),  # in a member name (the path shows the name's place)
    ],
)
def test_lone_surrogates_are_refused(data: bytes, path: str) -> None:
    """An escaped surrogate that is not half of a valid pair gives JSON_LONE_SURROGATE."""
    err = _reason(data)
    assert err.reason == "JSON_LONE_SURROGATE"
    assert err.metadata["path"].startswith(path)


def test_too_deep_is_refused_quickly_before_recursing() -> None:
    """100,000 '[' give JSON_TOO_DEEP in well under a second, never RecursionError."""
    for data in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000):
        start = time.perf_counter()
        err = _reason(data)
        assert err.reason == "JSON_TOO_DEEP"
        assert err.metadata["offset"] == str(MAX_JSON_DEPTH * (1 if data[0] == ord("[") else 5))
        assert time.perf_counter() - start < 0.5


def test_depth_limit_is_exact_and_ignores_strings() -> None:
    """max_depth nested containers are allowed and one more is not; brackets in strings do not count."""
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    assert _reason(b"[" * 33 + b"]" * 33).reason == "JSON_TOO_DEEP"
    assert _reason(b"[[1]]", max_depth=1).reason == "JSON_TOO_DEEP"
    assert parse_json(b"7", max_depth=0) == 7
    in_string = b'["' + b"[{" * 100 + b'\\"[{\\\\", {"k": "' + b"[" * 100 + b'"}]'
    assert len(parse_json(in_string)) == 2


@pytest.mark.parametrize(
    "data",
    [b"", b" ", b"{} x", b"{}{}", b"[1,]", b"{'a': 1}", b'"tab\there"', b"01", b"[1 2]", b"tru", b'{"a" 1}', b"+1"],
)
def test_syntax_errors_are_refused_with_an_offset(data: bytes) -> None:
    """Anything that is not exactly one RFC 8259 JSON text gives JSON_SYNTAX with a byte offset."""
    err = _reason(data)
    assert err.reason == "JSON_SYNTAX"
    assert int(err.metadata["offset"]) <= len(data)


def test_syntax_error_offset_counts_bytes() -> None:
    """The offset of a syntax error is in bytes of the input, not characters."""
    assert _reason('["é€😀" x]'.encode()).metadata["offset"] == str(len('["é€😀" '.encode()))


def test_a_fault_before_a_syntax_error_reports_the_syntax_error() -> None:
    """A document with a bad number and then broken syntax is refused as JSON_SYNTAX, never crashes."""
    assert _reason(b'[1e400, {"a": 1, "a": 2}, ]').reason == "JSON_SYNTAX"


def test_callers_bugs_are_not_domain_errors() -> None:
    """A str instead of bytes, or a depth limit out of range, is a TypeError/ValueError, not InvalidInput."""
    with pytest.raises(TypeError):
        parse_json("{}")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_json(b"{}", max_depth=10_000)


# Valid edge cases.


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # an escaped valid pair
        (b'"\\uD83D\\uDE00"', "\U0001f600"),
        ('"\U0001f600"'.encode(), "\U0001f600"),
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, not an escape
        (b"9007199254740991", MAX_SAFE_INTEGER),
        (b"-9007199254740991", -MAX_SAFE_INTEGER),
        (b"1e308", 1e308),
        (b"1e-400", 0.0),  # precision loss below the smallest double is accepted
        (b"{}", {}),
        (b"[]", []),
        (b' \t\r\n{"a": null}\r\n ', {"a": None}),
        ('{"ключ": 1, "鍵": 2, "\U0001f600": 3, "": 4}'.encode(), {"ключ": 1, "鍵": 2, "\U0001f600": 3, "": 4}),
        (b'"\\uffff\\ufdd0"', "\uffff\ufdd0"),  # noncharacters are accepted (see the module docstring)
        (b"true", True),
        (b"null", None),
    ],
)
def test_valid_edge_cases_are_accepted(data: bytes, expected: Any) -> None:
    """Valid I-JSON edge cases parse to the values json.loads gives."""
    value = parse_json(data)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"-0", 0), (b"0", 0), (b"-0.0", -0.0), (b"1.0", 1.0), (b"1e2", 100.0), (b"1E+2", 100.0), (b"10", 10)],
)
def test_number_shapes_follow_the_token(data: bytes, expected: float) -> None:
    """A number with a fraction or exponent is a float (even if integral); one without is an exact int."""
    value = parse_json(data)
    assert repr(value) == repr(expected)


def test_bytearray_is_accepted() -> None:
    """A bytearray is parsed like bytes."""
    assert parse_json(bytearray(b'{"a": [1]}')) == {"a": [1]}


# Properties.

_TEXT = st.text(st.one_of(st.sampled_from('[]{}"\\/:,'), st.characters(exclude_categories=("Cs",))))
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_TEXT, children, max_size=5),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@given(value=_VALUES, ensure_ascii=st.booleans())
@example(value=[[[['["]']]]], ensure_ascii=True)
def test_valid_json_parses_as_json_loads_does(value: Any, ensure_ascii: bool) -> None:
    """Any I-JSON value serialised by json.dumps parses to what json.loads gives, at exactly its depth."""
    data = json.dumps(value, ensure_ascii=ensure_ascii).encode()
    parsed = parse_json(data, max_depth=_depth(value))
    assert parsed == json.loads(data)
    assert repr(parsed) == repr(json.loads(data))
    if _depth(value) > 0:
        assert _reason(data, max_depth=_depth(value) - 1).reason == "JSON_TOO_DEEP"


_JSONISH = st.lists(
    st.sampled_from(
        (
            *(b"[", b"]", b"{", b"}", b'"', b"\\", b"\\u", b"d800", b"dc00", b"\\ud83d", b"\\ude00", b",", b":", b" "),
            *(b"1", b"-", b"e400", b"9007199254740993", b"0.5", b"NaN", b"true", b"null", b'"a"', b"\xff", b"\xed\xa0"),
        )
    ),
    max_size=40,
).map(b"".join)


@given(data=st.binary() | _JSONISH)
@example(data=b'{"a":1,"a":[1e400,NaN')
def test_any_bytes_give_a_value_or_invalid_input(data: bytes) -> None:
    """Arbitrary bytes either parse, to what json.loads gives, or raise InvalidInput; nothing else."""
    try:
        value = parse_json(data)
    except InvalidInput as err:
        assert err.reason.startswith("JSON_")
        return
    assert repr(value) == repr(json.loads(data))


def _reference(data: bytes) -> Any:
    """A slow, obviously strict reading: json.loads with raising hooks, then a recursive check."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        assert len({key for key, _ in items}) == len(items)
        return dict(items)

    def integer(text: str) -> int:
        assert len(text.lstrip("-")) <= 16 and abs(int(text)) <= MAX_SAFE_INTEGER
        return int(text)

    def real(text: str) -> float:
        assert abs(float(text)) != float("inf")
        return float(text)

    def check(value: Any) -> None:
        for text in [value] if isinstance(value, str) else value if isinstance(value, dict) else []:
            text.encode("utf-8")  # UnicodeEncodeError on a surrogate
        for child in value.values() if isinstance(value, dict) else value if isinstance(value, list) else []:
            check(child)

    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    value = json.loads(
        text, object_pairs_hook=pairs, parse_int=integer, parse_float=real, parse_constant=lambda _: 1 / 0
    )
    check(value)
    assert _depth(value) <= MAX_JSON_DEPTH
    return value


@given(data=_JSONISH | _VALUES.map(lambda v: json.dumps(v).encode()))
def test_accepts_exactly_what_a_slow_reference_accepts(data: bytes) -> None:
    """parse_json accepts a document if and only if a slow, obviously strict reference does."""
    try:
        expected = _reference(data)
    except (AssertionError, ValueError, ZeroDivisionError, UnicodeError):
        assert _reason(data).reason.startswith("JSON_")
    else:
        assert repr(parse_json(data)) == repr(expected)


# The orjson fast path (mmmfed.strictjson._fast_parse) against the strict parse.


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":":","a":":"}',
        b'{"a":1,"b":"\\u003a","a":2}',
        b'{"a":1,"\\u0061":1,"c":"\\u003A"}',
        b'{"a":{"x":1},"a":{"x":1}}',
        b'{"a\\u0062":1,"ab":2}',
        b'[{"k":"v:w"},{"k":1,"k":1}]',
        b'{"k":"\\\\u003a","k":0}',
    ],
    ids=[
        "plain",
        "colons in strings",
        "escaped colon",
        "escaped colon upper",
        "nested",
        "escaped name",
        "in array",
        "escaped backslash",
    ],
)
def test_duplicates_hidden_from_the_fast_path_are_refused(data: bytes) -> None:
    """Duplicates are refused however the colons and names around them are written."""
    assert _reason(data).reason == "JSON_DUPLICATE_KEY"


_OBJECTS = st.dictionaries(_TEXT, _VALUES, min_size=1, max_size=5)


@given(doc=_OBJECTS, extra=_VALUES, colon=st.sampled_from(["", ":", "\\u003a", "\\u003A"]), ascii_=st.booleans())
def test_a_repeated_member_is_refused_whatever_else_the_object_holds(
    doc: dict[str, Any], extra: Any, colon: str, ascii_: bool
) -> None:
    """An object with one of its names repeated (and, maybe, a colon in a string written raw or
    escaped) is refused, as the strict parse refuses it."""
    name = next(iter(doc))
    body = json.dumps(doc, ensure_ascii=ascii_)[:-1]
    data = f'{body},"c{colon}":"{colon}",{json.dumps(name, ensure_ascii=ascii_)}:{json.dumps(extra)}}}'.encode()
    if _depth(doc) < MAX_JSON_DEPTH:
        assert _reason(data).reason == "JSON_DUPLICATE_KEY"


@given(data=_JSONISH | _VALUES.map(lambda v: json.dumps(v, ensure_ascii=False).encode()))
def test_the_fast_path_gives_what_the_strict_parse_gives(data: bytes) -> None:
    """Whenever orjson's result is taken, the strict json scanner gives the same value (repr)."""
    fast = strictjson._fast_parse(data)
    if fast is strictjson._NOT_FAST:
        return
    assert repr(fast) == repr(strictjson._STRICT.decode(data.decode("utf-8")))


@given(data=_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False).encode()), max_depth=st.integers(0, 6))
def test_the_fast_path_finds_the_depth_the_scan_finds(data: bytes, max_depth: int) -> None:
    """The fast path's walk of the parsed value refuses a document as too deep exactly when the
    byte scan before the strict parse does (and otherwise gives the strict parse's value)."""
    fast = strictjson._fast_parse(data, max_depth)
    if fast is strictjson._NOT_FAST:
        return
    assert (fast is strictjson._TOO_DEEP) == strictjson._too_deep(data, max_depth)
    if fast is not strictjson._TOO_DEEP:
        assert repr(fast) == repr(strictjson._STRICT.decode(data.decode("utf-8")))


@pytest.mark.parametrize(
    "data", [b"[1.5]", b'{"a":[{"b":1e3}]}', b"[12345678901234567890123]", b'["1.5", true, false, null, -0]']
)
def test_floats_and_huge_integers_leave_the_fast_path(data: bytes) -> None:
    """A float anywhere, or an integer orjson would read as one, sends a document to the strict
    parse; floats inside strings and the literals do not."""
    fast = strictjson._fast_parse(data)
    assert (fast is strictjson._NOT_FAST) == (b'"1.5"' not in data)
