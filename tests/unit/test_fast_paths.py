"""Fast paths of foreign-Item verification give exactly what the reference paths give.

* :func:`mmmfed.proofs.canonicalize` writes with ``orjson`` where ``_orjson_is_jcs`` allows it:
  its bytes equal ``rfc8785.dumps`` on generated JSON values (nasty strings and member names
  included), on every Unicode scalar value, on the RFC 8785 / cyberphone vectors, and it refuses
  what rfc8785 refuses.
* :func:`mmmfed.schemas.validate_item` returns on jsonschema-rs' word that an Item is valid: on
  generated Items and mutations of them (nasty strings, identifiers, times, numbers, members added
  and removed) jsonschema-rs and jsonschema give the same verdict; values they read differently
  go to jsonschema.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import re
import struct
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from itemcases import BUILDERS, REFUSED

from mmmfed.dates import is_calendar_date
from mmmfed.errors import InvalidInput
from mmmfed.items import Item, parse_item
from mmmfed.proofs import SigningKey, canonicalize, sign_document
from mmmfed.proofs.jcs import _ORJSON_JCS, _orjson_is_jcs
from mmmfed.schemas import CALENDAR_DATE, _fast_validator, _plain_json, _validator, validate_item
from mmmfed.strictjson import parse_json_plain
from mmmfed.v22 import encode

JCS = json.loads((Path(__file__).with_name("vectors") / "rfc8785_jcs.json").read_text(encoding="utf-8"))
MAX_SAFE = 2**53 - 1
SCALARS = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def _reference(value: Any) -> bytes | str:
    """rfc8785's bytes, ``refused`` where it refuses the value, or the name of what else it raises
    (a lone surrogate in a member name gives UnicodeEncodeError from its sort)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return "refused"
    except UnicodeEncodeError as err:
        return type(err).__name__


def _ours(value: Any) -> bytes | str:
    try:
        return canonicalize(value)
    except InvalidInput as err:
        assert err.reason == "NOT_CANONICALIZABLE"
        return "refused"
    except UnicodeEncodeError as err:
        return type(err).__name__


def _fast(value: Any) -> bool:
    """Whether canonicalize takes the orjson path for ``value``."""
    try:
        orjson.dumps(value, option=_ORJSON_JCS)
    except orjson.JSONEncodeError:
        return False
    return _orjson_is_jcs(value)


# Characters where escaping or ordering could differ: controls, the escaped pair, DEL, C1, the
# line/paragraph separators, the BMP's top (U+E000-U+FFFF, noncharacters), astral characters.
_NASTY = st.sampled_from(
    [
        *map(chr, range(0x20)),
        *['"', "\\", "/", "\x7f", "\x80", "\x9f", "\u2028", "\u2029", "\ue000", "\uf8ff", "\ufb33", "\ufeff"],
        *["\ufffe", "\uffff", "\U00010000", "\U0001f602", "\U0010ffff", "\u20ac", "\u00e9", "a", "1"],
    ]
)
_TEXT = st.one_of(st.text(), st.text(_NASTY), st.text(st.characters(codec="utf-8")))
_INTEGERS = st.one_of(
    st.integers(-MAX_SAFE, MAX_SAFE), st.sampled_from([0, -1, MAX_SAFE, -MAX_SAFE, 2**31, -(2**31), 2**32, 10**15])
)
_FAST_SCALARS = st.one_of(st.none(), st.booleans(), _INTEGERS, _TEXT)
_BMP_NAMES = st.one_of(st.text(), st.text(_NASTY)).filter(lambda k: all(c <= "\uffff" for c in k))


def _json(scalars: st.SearchStrategy[Any], names: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=6), st.dictionaries(names, inner, max_size=6), st.tuples(inner, inner)
        ),
        max_leaves=40,
    )


@settings(max_examples=400)
@given(_json(_FAST_SCALARS, _BMP_NAMES))
def test_fast_path_values_canonicalise_as_rfc8785(value: Any) -> None:
    """JSON values without floats or astral member names take the fast path, with rfc8785's bytes."""
    assert _fast(value)
    assert canonicalize(value) == rfc8785.dumps(value)


_ANY_SCALARS = st.one_of(
    _FAST_SCALARS,
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(),
    st.integers(),
    st.builds(chr, st.integers(0xD800, 0xDFFF)),  # lone surrogates
)
_ANY_NAMES = st.one_of(_TEXT, st.text(_NASTY, min_size=1, max_size=3), st.builds(chr, st.integers(0xD800, 0xDFFF)))


@settings(max_examples=400)
@given(_json(_ANY_SCALARS, _ANY_NAMES))
def test_any_value_canonicalises_or_fails_as_rfc8785(value: Any) -> None:
    """Floats, NaN, large integers, lone surrogates and astral member names included: same bytes
    as rfc8785, or refused (NOT_CANONICALIZABLE) exactly when rfc8785 refuses."""
    assert _ours(value) == _reference(value)


def test_every_scalar_value_is_escaped_as_rfc8785() -> None:
    """Each Unicode scalar value, alone in a string, in one string and as a member name, gives
    rfc8785's bytes on the fast path (only controls, quote and backslash are escaped)."""
    everything = "".join(SCALARS)
    names = {c: 0 for c in SCALARS if c <= "\uffff"}
    for value in (SCALARS, everything, names):
        assert _fast(value)
        assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "names",
    [
        ["\U0001f602", "\ufb33"],
        ["\ue000", "\U00010000", "\uffff"],
        ["a\U0010ffff", "a\uffff", "a"],
    ],
)
def test_astral_member_names_sort_by_utf16(names: list[str]) -> None:
    """Member names above U+FFFF sort by UTF-16 code units (before U+E000-U+FFFF), as RFC 8785 3.2.3
    says: such objects leave the fast path."""
    value = {name: i for i, name in enumerate(names)}
    assert not _fast(value)
    assert canonicalize(value) == rfc8785.dumps(value)
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) != rfc8785.dumps(value)  # why they leave


@pytest.mark.parametrize("name", sorted(JCS["files"]))
def test_cyberphone_reference_files(name: str) -> None:
    """cyberphone testdata, byte for byte, whichever path each takes."""
    case = JCS["files"][name]
    assert canonicalize(json.loads(case["input"])) == case["output"].encode("utf-8")


@pytest.mark.parametrize(("bits", "expected"), [(b, e) for b, e, _ in JCS["appendix_b"]] + JCS["es6_samples"])
def test_rfc8785_numbers_leave_the_fast_path(bits: str, expected: str) -> None:
    """RFC 8785 Appendix B / ES6 samples: floats go to rfc8785, inside an Item-like object too."""
    value = struct.unpack(">d", bytes.fromhex(bits.rjust(16, "0")))[0]
    doc = {"Size": value, "Name": "x"}
    assert not _fast(doc)
    assert canonicalize(doc) == b'{"Name":"x","Size":' + expected.encode() + b"}"


class _Colour(enum.Enum):
    RED = "red"


class _Number(enum.IntEnum):
    ONE = 1


class _Text(str):
    pass


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        MAX_SAFE + 1,
        -MAX_SAFE - 1,
        2**64,
        [math.nan],
        {"v": math.inf},
        "\ud800",
        {"\udfff": 1},
        {1: "a"},
        _Colour.RED,
        [_Number.ONE],
        {"k": _Text("v")},
        {_Text("k"): 1},
        _Point(1),
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        uuid.UUID(int=1),
        {"b": (1, 2), "a": [(), {}]},
        -0.0,
        1.0,
    ],
    ids=repr,
)
def test_values_orjson_reads_differently_get_rfc8785s_answer(value: Any) -> None:
    """Types and numbers where orjson and rfc8785 disagree give rfc8785's bytes or its refusal."""
    assert _ours(value) == _reference(value)


def test_deep_and_cyclic_values_behave_as_before() -> None:
    """Deeper than orjson goes (255): rfc8785's bytes. A cycle: RecursionError, as rfc8785 gives."""
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    assert canonicalize(deep) == rfc8785.dumps(deep)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        canonicalize(cyclic)


# ----------------------------------------------------------------------------- JSON Schema
def _signed(builder: Callable[[], Item], proofs: int) -> dict[str, Any]:
    doc = dict(builder().doc)
    key = SigningKey.from_seed(bytes(range(32)))
    for i in range(proofs):
        doc = sign_document(
            doc,
            key=key,
            verification_method=key.verification_method,
            created=f"2026-01-02T03:04:0{i}Z",
            proof_id=f"urn:uuid:p{i}",
            previous_proof=f"urn:uuid:p{i - 1}" if i else None,
        )
    return doc


_DOCS = [builder().doc for builder in BUILDERS.values()] + [
    _signed(BUILDERS["persona"], 1),
    _signed(BUILDERS["converted persona"], 2),
]


def _verdicts(doc: Any) -> tuple[bool, bool]:
    """(jsonschema-rs, jsonschema) on whether ``doc`` is valid for the schema of its ItemType."""
    item_type = doc["ItemType"]
    return _fast_validator(item_type).is_valid(doc), _validator(item_type).is_valid(doc)


def test_items_the_project_builds_get_the_same_verdict() -> None:
    """Every kind of Item the project builds, signed or not, is valid to both validators."""
    for doc in _DOCS:
        assert _plain_json(doc)
        assert _verdicts(doc) == (True, True)


@pytest.mark.parametrize("change", [c for _, c, _ in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_refused_items_are_refused_by_both(change: Callable[[dict[str, Any]], object]) -> None:
    """Each malformed Persona of test_schemas is invalid to jsonschema-rs too (or leaves its path)."""
    doc = json.loads(json.dumps(BUILDERS["persona"]().doc))
    change(doc)
    if _plain_json(doc):
        assert _verdicts(doc) == (False, False)


_IDS = st.one_of(
    st.from_regex(r"mmm://[a-z0-9.-]{1,24}(/[A-Za-z0-9._~-]{0,12}){1,3}", fullmatch=True),
    st.from_regex(r"mmm://a\.example/items/[A-Za-z0-9._~%/-]{0,8}[\n\u00e9\u212a\U0001d7d8]?", fullmatch=True),
)
_TIMES = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,4})?([Zz]|[+-][0-9]{2}:[0-9]{2})?\n?",
    fullmatch=True,
)
_STRINGS = st.one_of(
    st.text(max_size=12),
    st.text(_NASTY, max_size=8),
    _IDS,
    _TIMES,
    st.from_regex(r"[0-9a-fA-F]{62,66}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9. /+_-]{0,70}", fullmatch=True),
    st.sampled_from(
        ["ITM", "Persona", "Final", "Model", "sha-256", "DataIntegrityProof", "User", "MM-Add", "x" * 4097]
    ),
)
_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), _INTEGERS, st.integers(-(2**53), 2**53), _STRINGS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_STRINGS, inner, max_size=3)),
    max_leaves=8,
)


def _places(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key or index) of every member and element, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((value, key))
            _places(child, out)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.append((value, index))
            _places(child, out)
    return out


@settings(max_examples=600, deadline=None)
@given(
    doc=st.sampled_from(_DOCS).map(lambda d: json.loads(json.dumps(d))),
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(["set", "drop", "add"]), _STRINGS, _VALUES), max_size=3
    ),
)
def test_mutated_items_get_the_same_verdict(doc: dict[str, Any], edits: list[tuple[int, str, str, Any]]) -> None:
    """Items with members replaced, dropped or added anywhere: jsonschema-rs and jsonschema agree."""
    for where, action, name, value in edits:
        places = _places(doc, [])
        container, key = places[where % len(places)]
        if action == "set":
            container[key] = value
        elif action == "drop" and isinstance(container, dict):
            del container[key]
        elif action == "add" and isinstance(container[key], dict):
            container[key][name] = value
    if isinstance(doc.get("ItemType"), str) and doc["ItemType"] in {"ITM", "PRC", "ACC", "PPR"} and _plain_json(doc):
        assert _verdicts(doc)[0] == _verdicts(doc)[1]


def test_the_calendar_pattern_is_is_calendar_date() -> None:
    """jsonschema-rs checks a timestamp's date with CALENDAR_DATE instead of calling is_date_time:
    on every year with the months and days where calendars differ, and on every month and day of
    years of each kind (leap, not, centuries), it matches exactly the dates is_calendar_date takes."""
    pattern = re.compile(CALENDAR_DATE)
    every_day = [(m, d) for m in range(14) for d in range(33)]
    edges = [(1, 1), (2, 28), (2, 29), (2, 30), (4, 30), (4, 31), (12, 31), (0, 1), (13, 1), (1, 0), (1, 32)]
    kinds = {0, 1, 4, 100, 200, 400, 1600, 1900, 2000, 2023, 2024, 2100, 2400, 9996, 9999}
    for year in range(10_000):
        for month, day in every_day if year in kinds else edges:
            text = f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z"
            assert (pattern.match(text) is not None) == is_calendar_date(year, month, day), text


_CALENDAR_EDGES = st.builds(
    "{:04d}-{:02d}-{:02d}T{}".format,
    st.sampled_from([0, 1, 4, 100, 1900, 2000, 2023, 2024, 2100, 2400, 9999]) | st.integers(0, 9999),
    st.integers(0, 13),
    st.sampled_from([0, 1, 28, 29, 30, 31, 32]) | st.integers(0, 32),
    st.sampled_from(["12:00:00Z", "23:59:59.5+14:00", "00:00:60Z", "24:00:00Z", "12:00:00+14:01", "12:00:00z"]),
)


@settings(max_examples=400, deadline=None)
@given(time=_CALENDAR_EDGES, place=st.sampled_from(["trace", "created"]))
def test_timestamps_get_the_same_verdict(time: str, place: str) -> None:
    """A Trace Time or a proof's created on calendar edges (29 February, day 31, years 0 and 9999,
    second 60, offsets): jsonschema-rs, which checks the date by pattern, and jsonschema, which
    calls is_date_time, agree."""
    doc = json.loads(json.dumps(_DOCS[-2]))  # a signed Persona
    if place == "trace":
        doc["Trace"][0]["Time"] = time
    else:
        doc["proof"]["created"] = time
    assert _verdicts(doc)[0] == _verdicts(doc)[1]


def _host(chars: int) -> str:
    """A host of exactly ``chars`` characters: labels of 63, then the rest."""
    labels = []
    while chars > 64:
        labels.append("a" * 63)
        chars -= 64
    return ".".join([*labels, "b" * chars])


@pytest.mark.parametrize("chars", [1, 3, 191, 252, 253, 254, 300])
def test_identifier_host_lengths_get_the_same_verdict(chars: int) -> None:
    """The host of an mmm:// identifier is 1 to 253 characters up to its first '/' (a look-ahead
    in the schema, a second pattern in jsonschema-rs): both validators draw the line there."""
    doc = json.loads(json.dumps(BUILDERS["persona"]().doc))
    doc["ICapabilities"][0]["ProcessID"] = f"mmm://{_host(chars)}/processes/user/x"
    assert _verdicts(doc)[0] == _verdicts(doc)[1]
    if chars in (253, 254):
        assert _verdicts(doc)[1] == (chars == 253)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(ICapabilities=tuple(d["ICapabilities"])), "$.ICapabilities"),
        (lambda d: d["ItemData"].update(Size=4096.0), "$.ItemData.Size"),
        (lambda d: d["ItemQualifier"]["Attributes"].update({"\ud800": "x"}), "$.ItemQualifier.Attributes"),
        (lambda d: d["DescrMetadata"].update(Note=b"x"), "$.DescrMetadata.Note"),
    ],
    ids=["tuple", "integral float", "lone surrogate name", "bytes"],
)
def test_values_jsonschema_rs_reads_differently_go_to_jsonschema(
    change: Callable[[dict[str, Any]], object], path: str
) -> None:
    """jsonschema-rs takes a tuple for an array and 4096.0 for an integer, and cannot read lone
    surrogates or bytes: such Items are judged by jsonschema alone, which refuses these."""
    doc = json.loads(json.dumps(BUILDERS["persona"]().doc))
    change(doc)
    assert not _plain_json(doc)
    with pytest.raises(InvalidInput) as err:
        validate_item(doc)
    assert (err.value.reason, err.value.metadata["path"]) == ("SCHEMA_VIOLATION", path)


# ----------------------------------------------------------------------------- plain JSON (parse_json_plain)


@settings(max_examples=400)
@given(_json(_ANY_SCALARS, _ANY_NAMES), st.booleans())
def test_values_parsed_plain_pass_both_walks_and_canonicalise_as_rfc8785(value: Any, ensure_ascii: bool) -> None:
    """Whatever a JSON text holds (floats, large integers, astral or escaped characters), when
    parse_json_plain calls it plain both type walks accept it, so skipping them changes nothing,
    and canonicalize(plain_json=True) writes rfc8785's bytes."""
    try:
        data = json.dumps(value, ensure_ascii=ensure_ascii).encode()
    except UnicodeEncodeError:
        return  # a lone surrogate json.dumps keeps raw: not UTF-8, never parsed
    try:
        parsed, plain = parse_json_plain(data)
    except InvalidInput:
        return
    if plain:
        assert _orjson_is_jcs(parsed)
        assert _plain_json(parsed)
        assert canonicalize(parsed, plain_json=True) == rfc8785.dumps(parsed)


@pytest.mark.parametrize("doc", _DOCS, ids=[*BUILDERS, "signed persona", "signed converted persona"])
def test_items_the_project_builds_parse_as_plain(doc: dict[str, Any]) -> None:
    """The Items mmmfed builds, as a peer sends them, skip the walks."""
    item = parse_item(json.dumps(encode(doc), ensure_ascii=False, separators=(",", ":")).encode())
    assert item.plain_json


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["ItemQualifier"]["QualifierValueOrRef"][0].update(Scale=1.5),
        lambda d: d["ItemQualifier"]["QualifierValueOrRef"][0].update(Name="\U0001f600"),
        lambda d: d["ItemQualifier"]["QualifierValueOrRef"][0].update({"\U0001f600": "x"}),
    ],
    ids=["float", "astral string", "astral name"],
)
def test_floats_and_astral_characters_are_not_plain(change: Callable[[dict[str, Any]], object]) -> None:
    """An Item with a float or a character above U+FFFF (raw or escaped) goes through the walks."""
    doc = json.loads(BUILDERS["persona"]().raw)  # the V2.2 form, as a peer sends it
    change(doc)
    for ensure_ascii in (True, False):
        assert not parse_item(json.dumps(doc, ensure_ascii=ensure_ascii).encode()).plain_json
