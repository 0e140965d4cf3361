"""JSON Schemas (draft 2020-12) of the Items mmmfed builds, and :func:`validate_item`.

One schema file per Item type code (``ITM.json``, ``PRC.json``, ``RUL.json``, ``TRA.json``...), each
``$ref``-ing ``item-base.json`` for the MMM-ITM fields every Item shares (MMM-TEC V2.2) and closing
the object with ``unevaluatedProperties: false``. ``$id`` URIs are
``https://mmmfed.dev/schemas/v1/<name>.json``; they are names, never fetched: the ``$ref`` s resolve
in a :class:`referencing.Registry` holding only these files (an unknown reference raises, nothing
is retrieved).

The schemas check shape: required fields, types, ``mmm://`` and FQDN identifiers, lower-case hex64
digests, RFC 3339 times, bounds on strings and arrays. Cross-field rules (ItemID belongs to
MInstanceID, the data matches Size and Digest, proofs verify) stay in :mod:`mmmfed.items`,
the data stream and :mod:`mmmfed.proofs`.

Two places where this validator is stricter than the JSON Schema spec, to match
:func:`mmmfed.items.parse_item` and :mod:`mmmfed.strictjson`:

* ``integer`` excludes floats with an integral value (``1.0``, ``1e2``), which 2020-12 accepts.
* ``format: date-time`` is always asserted, by a checker here (jsonschema skips it silently when the
  optional ``rfc3339-validator`` package is missing).

Speed: ``jsonschema`` (pure Python) takes ~450 us for a signed Persona, so :func:`validate_item`
first asks ``jsonschema-rs`` (Rust; ~10 us in all, bench/verify.py) whether the Item is valid, with
the same schemas written for Rust's regular expressions and without calls back into Python
(:func:`_fast_schema`), in the same registry, and returns if it is. Only for an Item it
finds invalid does ``jsonschema`` run, to find the error to report (its ``best_match`` and JSON
path); ``jsonschema`` also decides alone for values the two read differently (:func:`_plain_json`):
floats (jsonschema-rs counts ``1.0`` as an ``integer``), tuples (an ``array`` to jsonschema-rs
only), other types and lone surrogates. So an Item is refused exactly when ``jsonschema`` refuses
it, with the same message, provided jsonschema-rs accepts nothing ``jsonschema`` refuses:
tests/unit/test_fast_paths.py compares the two on generated Items.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any, cast

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match, relevance
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from mmmfed.dates import is_calendar_date
from mmmfed.errors import InvalidInput

SCHEMA_BASE_URI = "https://mmmfed.dev/schemas/v1/"
BASE_SCHEMA = "item-base"
_MAX_DETAIL_CHARS = 400
_MAX_VALUE_CHARS = 60

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)


def _is_strict_integer(_checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# types-jsonschema leaves extend() unannotated; it returns a validator class.
_ItemValidator: type[Validator] = extend(  # type: ignore[no-untyped-call]  # unannotated in the stubs
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


def is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time`` (section 5.6) with a real calendar date; leap second ``:60`` allowed.
    Non-strings pass, as JSON Schema formats apply to strings only."""
    if not isinstance(value, str):
        return True
    m = _RFC3339.fullmatch(value)
    if m is None:
        return False
    year, month, day, hour, minute, second, off_h, off_m = m.groups()
    if not (is_calendar_date(int(year), int(month), int(day)) and int(hour) <= 23 and int(minute) <= 59):
        return False
    return int(second) <= 60 and (off_h is None or (int(off_h) <= 23 and int(off_m) <= 59))


@functools.cache
def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(is_date_time)
    return checker


@functools.cache
def _schemas() -> Mapping[str, Mapping[str, Any]]:
    """Every schema file of this package by name (``ITM``, ``item-base``...), loaded once."""
    found = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    return found


@functools.cache
def item_types() -> frozenset[str]:
    """The Item type codes that have a schema."""
    return frozenset(name for name in _schemas() if name != BASE_SCHEMA)


def item_schema(item_type: str) -> dict[str, Any]:
    """A copy of the schema of ``item_type`` (or of ``"item-base"``); KeyError if there is none."""
    copy: dict[str, Any] = json.loads(json.dumps(_schemas()[item_type]))
    return copy


def _without_dialect(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` without ``$schema``: jsonschema switches to the stock validator class of a
    ``$schema`` it meets behind a ``$ref``, which would drop the strict ``integer`` above. The
    dialect is still 2020-12: the registry's resources and the validator class say so."""
    return {key: value for key, value in schema.items() if key != "$schema"}


@functools.cache
def _registry() -> Registry[Any]:
    return Registry().with_resources(
        (schema["$id"], DRAFT202012.create_resource(_without_dialect(schema))) for schema in _schemas().values()
    )


@functools.cache
def _validator(item_type: str) -> Validator:
    """The compiled validator of a known ``item_type`` (callers check membership first, so the
    cache holds at most one entry per schema file)."""
    schema = _without_dialect(_schemas()[item_type])
    return _ItemValidator(schema, registry=_registry(), format_checker=_format_checker())


@functools.cache
def _fast_validator(item_type: str) -> jsonschema_rs.Validator:
    """jsonschema-rs' validator of a known ``item_type``: the same schemas (without ``$schema``:
    draft 2020-12 by class), written for Rust's regular expressions (:func:`_fast_schema`), in a
    registry of only these files, offline (an unknown reference raises, nothing is retrieved),
    and the same ``date-time`` checker for any format the rewrite left."""
    fast = {name: _fast_schema(_without_dialect(schema)) for name, schema in _schemas().items()}
    registry = jsonschema_rs.Registry(
        [(schema["$id"], schema) for schema in fast.values()], draft=jsonschema_rs.Draft202012
    )
    return jsonschema_rs.Draft202012Validator(
        fast[item_type],
        registry=registry,
        formats={"date-time": is_date_time},
        validate_formats=True,
        offline=True,
    )


_END = "(?![\\s\\S])"
_MMM_ID_HOST = "^mmm://(?=[^/]{1,253}/)"
_TIMESTAMP_PATTERN = (
    "^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(?:\\.[0-9]+)?(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))(?![\\s\\S])"
)
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"  # 0001-9999
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
CALENDAR_DATE = (
    f"^(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    f"|(?:0[13578]|1[02])-31)|{_LEAP_YEAR}-02-29)"
)
"""A leading ``YYYY-MM-DD`` that :func:`mmmfed.dates.is_calendar_date` accepts, as a regular
expression: years 0001-9999, the days of each month, 29 February in leap years (divisible by 4,
and by 400 if by 100)."""


def _fast_schema(schema: Any) -> Any:
    """``schema`` with the same verdicts in jsonschema-rs, written so that its patterns run in
    Rust's ``regex`` engine rather than ``fancy-regex``'s backtracking, and without calls back into
    Python (together ~28 -> ~9 us for a signed Persona):

    * the pattern end ``(?![\\s\\S])`` (Python's ``$`` would match before a trailing newline) is
      ``\\z``, which means the same in Rust;
    * ``^mmm://(?=[^/]{1,253}/)<rest>`` is ``allOf`` of ``^mmm://[^/]{1,253}/`` and
      ``^mmm://<rest>``: the look-ahead said that the first ``/`` after ``mmm://`` is 1 to 253
      characters on, which is what the first pattern says;
    * a ``format: date-time`` beside exactly item-base.json's ``timestamp`` pattern is the
      pattern :data:`CALENDAR_DATE`: on a string that pattern matches (upper-case ``T`` and ``Z``,
      hours to 23, minutes and seconds to 59, offsets to 14:00), :func:`is_date_time` checks only
      the calendar date. tests/unit/test_fast_paths.py checks it against
      :func:`mmmfed.dates.is_calendar_date` on every year, month and day.

    Anything else is kept as it is, so a changed schema stays exact (and slower).
    """
    if isinstance(schema, list):
        return [_fast_schema(value) for value in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: value if key in ("pattern", "const", "enum") else _fast_schema(value) for key, value in schema.items()}
    pattern = out.get("pattern")
    if not isinstance(pattern, str):
        return out
    checks: list[dict[str, Any]] = []
    if pattern == _TIMESTAMP_PATTERN and out.get("format") == "date-time":
        del out["format"]
        checks.append({"pattern": CALENDAR_DATE})
    if pattern.startswith(_MMM_ID_HOST):
        checks.append({"pattern": "^mmm://[^/]{1,253}/"})
        pattern = "^mmm://" + pattern.removeprefix(_MMM_ID_HOST)
    if pattern.endswith(_END) and _END not in pattern[: -len(_END)]:
        pattern = pattern.removesuffix(_END) + "\\z"
    out["pattern"] = pattern
    if checks:
        out["allOf"] = [*out.get("allOf", []), *checks]
    return out


_PLAIN_LEAVES = frozenset({str, int, bool, type(None)})
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_PLAIN_DEPTH = 64  # beyond any Item (mmmfed.strictjson allows 32); deeper values, or cycles, go to jsonschema


def _plain_json(value: Any, depth: int = 0) -> bool:
    """True if ``value`` holds only ``dict`` with ``str`` keys, ``list``, ``int``, ``bool``,
    ``None`` and ``str`` without lone surrogates (exact types), at most 64 deep: values that
    jsonschema-rs and the validator here read alike. Items parsed by mmmfed.strictjson without
    floats are such values."""
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str or (not key.isascii() and _SURROGATE.search(key)):
                return False
        children = value.values()
    elif kind is list:
        children = value
    elif kind is str:
        return value.isascii() or not _SURROGATE.search(value)
    else:
        return kind in _PLAIN_LEAVES
    if depth >= _MAX_PLAIN_DEPTH:
        return False
    for child in children:
        child_kind = type(child)
        if child_kind is str:
            if not child.isascii() and _SURROGATE.search(child):
                return False
        elif child_kind not in _PLAIN_LEAVES and not _plain_json(child, depth + 1):
            return False
    return True


def _short(text: str, limit: int = 256) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _detail(error: ValidationError) -> str:
    """``<keyword>: <jsonschema's message>``, with the offending value cut short: a message goes
    back to the peer and must not echo a megabyte it sent."""
    message, shown = error.message, repr(error.instance)
    if len(shown) > _MAX_VALUE_CHARS and message.startswith(shown):
        message = _short(shown, _MAX_VALUE_CHARS) + message[len(shown) :]
    return f"{error.validator}: {_short(message, _MAX_DETAIL_CHARS)}"


def _relevance(error: ValidationError) -> tuple[Any, ...]:
    """Prefer an error about a named field over ``unevaluatedProperties`` on its parent, which
    jsonschema also reports when a ``$ref`` above failed (annotations of failed subschemas drop)."""
    # jsonschema's relevance key is a tuple; its stub promises only something comparable.
    return (error.validator != "unevaluatedProperties", *cast(tuple[Any, ...], relevance(error)))


def _violation(item_type: str, path: str, detail: str) -> InvalidInput:
    return InvalidInput(
        f"{item_type or 'Item'} Item does not match its schema at {path}: {detail}",
        reason="SCHEMA_VIOLATION",
        metadata={"item_type": item_type, "path": path},
    )


def validate_item(doc: Mapping[str, Any], *, plain_json: bool = False) -> None:
    """Check an Item document (as :func:`mmmfed.strictjson.parse_json` gives it) against the
    schema of its ItemType.

    ``plain_json``: the caller knows ``doc`` is plain JSON (``Item.plain_json`` from
    :func:`mmmfed.items.parse_item`), so jsonschema-rs may take it without the :func:`_plain_json`
    walk. Only for values mmmfed.strictjson reported plain: anything else must leave it False.

    Raises InvalidInput: ``SCHEMA_VIOLATION`` (message names the JSON path, e.g.
    ``$.ItemData.Size``, and what failed; metadata ``item_type`` and ``path``), or
    ``ITEM_TYPE_UNKNOWN`` (an ItemType string with no schema; metadata ``item_type``).
    """
    if not isinstance(doc, Mapping):
        raise _violation("", "$", f"an Item is a JSON object, not {type(doc).__name__}")
    item_type = doc.get("ItemType")
    if not isinstance(item_type, str):
        raise _violation("", "$.ItemType", "ItemType is missing or not a string")
    if item_type not in item_types():
        shown = _short(item_type, 32)
        raise InvalidInput(
            f"no schema for ItemType {shown!r}; known: {', '.join(sorted(item_types()))}",
            reason="ITEM_TYPE_UNKNOWN",
            metadata={"item_type": shown},
        )
    instance = doc if isinstance(doc, dict) else dict(doc)
    if plain_json or _plain_json(instance):
        try:
            if _fast_validator(item_type).is_valid(instance):
                return
        except ValueError:
            pass  # a value jsonschema-rs cannot take after all: jsonschema decides
    error = best_match(_validator(item_type).iter_errors(instance), key=_relevance)
    if error is None:
        return
    raise _violation(item_type, _short(error.json_path), _detail(error))
