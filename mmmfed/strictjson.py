"""Strict JSON intake for everything signed: I-JSON (RFC 7493) over UTF-8, checked before use.

One function, :func:`parse_json`, turns the exact bytes received into Python values or raises
:class:`~mmmfed.errors.InvalidInput`. Signatures are verified over those same bytes, never over a
re-serialisation; this module makes sure every peer that reads the bytes sees one and the same value.

Shapes (JSON -> Python, as :func:`json.loads` gives them):

=========================================  =====================================================
JSON                                       Python
=========================================  =====================================================
object, array, string                      ``dict`` (member order kept), ``list``, ``str``
true, false, null                          ``True``, ``False``, ``None``
number without fraction or exponent        ``int``, exact; magnitude at most 2**53-1; ``-0`` -> 0
number with a fraction or an exponent      ``float``, the nearest IEEE 754 double, even when the
                                           value is integral: ``1.0`` -> 1.0, ``1e2`` -> 100.0
=========================================  =====================================================

Numbers. Integers are never rounded: outside +-(2**53-1) they are refused (RFC 7493 section 2.2).
A number written with a fraction or exponent is a double, as RFC 8785 section 3.2.2.3 reads every
number; rounding to the nearest double (``0.1``, ``3.141592653589793238``, ``1e-400`` -> 0.0,
``9007199254740993.0`` -> 9007199254740992.0) is accepted, although I-JSON says SHOULD NOT, and
only overflow to infinity (``1e400``) is refused. So a consumer that needs an integer must check
``isinstance(v, int)``: ``1e2`` and ``1.0`` arrive as floats.

Reasons (``InvalidInput.reason``). Messages name a byte offset or a JSON path where there is one;
it is also in ``metadata`` as ``offset`` or ``path``. When a document has several problems, which
one is reported is deterministic but unspecified.

========================  ======================================================================
Reason                    Refused because
========================  ======================================================================
JSON_TOO_LARGE            more than ``max_bytes`` bytes (checked before anything else)
JSON_NOT_UTF8             not well-formed UTF-8 (RFC 8259 section 8.1, RFC 7493 section 2.1),
                          which includes raw surrogates (ED A0 80..ED BF BF); or a leading BOM
                          (RFC 8259 section 8.1: senders MUST NOT add one)
JSON_TOO_DEEP             more than ``max_depth`` nested arrays/objects (found before parsing)
JSON_SYNTAX               not exactly one RFC 8259 JSON text: bad token, control character in a
                          string, trailing garbage (whitespace around the value is allowed)
JSON_DUPLICATE_KEY        an object at any depth names a member twice, compared after unescaping
                          (RFC 8259 section 4 SHOULD; RFC 7493 section 2.3 MUST NOT)
JSON_NON_FINITE           ``NaN``, ``Infinity``, ``-Infinity``: not JSON, but Python accepts them
JSON_NUMBER_OUT_OF_RANGE  an integer beyond +-(2**53-1), or a number whose nearest double is
                          infinite such as ``1e400`` (RFC 7493 section 2.2; RFC 8785 3.2.2.3)
JSON_LONE_SURROGATE       an escaped surrogate (``\\uD800``) that is not half of a valid pair, in a
                          string or a member name: decoders disagree on it (RFC 8259 section 8.2),
                          I-JSON forbids it (RFC 7493 section 2.1), and RFC 8785 section 3.2.2.2
                          serialises only well-formed strings
========================  ======================================================================

Noncharacters (U+FDD0..U+FDEF, U+nFFFE, U+nFFFF) are accepted although RFC 7493 section 2.1 says
MUST NOT: every decoder keeps them as they are, so they cannot make two peers read different
values, and refusing them would cost a scan of every non-ASCII string.

Limits. ``MAX_JSON_BYTES`` (256 KiB) equals :data:`mmmfed.items.MAX_ITEM_JSON_BYTES`: an Item
carries its 3D data out of band (bound by size and digest), so its JSON is metadata, and 256 KiB
bounds the worst foreign document to about 15 ms to accept or 30 ms to refuse (measured with
adversarial shapes). ``MAX_JSON_DEPTH`` (32) is several times the deepest Item (3 or 4 levels:
Item, ItemData, Digest; ICapabilities, entry, Rights) and far below what would trouble recursive
consumers (the ``json`` C scanner, canonicalisers, pydantic). Deeper documents are refused before
any recursion in Python (orjson, which reads at most 1,024 levels, and the walk after it stop at
the limit; what orjson refuses gets a pre-scan), so 100,000 ``[`` cost well under a millisecond.
``max_depth`` may be 0 (a scalar only) to 256.

Cost on the success path: a length check, ``bytes.decode``, then ``orjson`` with the checks of
:func:`_fast_parse`, whose one walk of the value finds floats and the depth (for a signed Persona
about half the time it took when the depth needed a byte scan first, as an Item has more containers
than ``MAX_JSON_DEPTH``: bench/verify.py). Documents with floats, escaped colons or anything orjson
refuses take the pre-scan for depth (``bytes.count``, then a string-stripping scan when there are
more openers than ``max_depth``) and go to the C ``json`` scanner with small Python hooks for
objects and numbers, and a search for ``\\uD8..\\uDF`` escapes (strings are re-checked only when
one is present). Errors found by a hook are located by a second, lenient parse.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from mmmfed.errors import InvalidInput

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
_DEPTH_CEILING = 256  # keeps the C scanner far from Python's recursion limit (1000)

_BOM = b"\xef\xbb\xbf"
_OPENERS = frozenset(b"[{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# A string token or a bracket (UTF-8 never has 0x22 or 0x5C inside a multi-byte character).
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The fast path (_fast_parse): a ':' written as an escape.
_COLON_ESCAPE = re.compile(rb"\\u003[aA]")
# parse_json_plain: a lead byte of 4-byte UTF-8 (a character above U+FFFF), and the deepest plain value.
_ASTRAL_UTF8 = re.compile(rb"[\xf0-\xff]")
_PLAIN_DEPTH = 64
_NOT_FAST = object()  # _fast_parse's "decide the slow way" (None is JSON null)
_TOO_DEEP = object()  # _fast_parse's "valid JSON, nested deeper than allowed"
_FLOAT = object()  # _float_or_too_deep's "holds a float"
_Trail = tuple[Any, str | int] | None  # (parent trail, member name or index); paths are built lazily


class _Fault(Exception):
    """What a strict hook raises, and the marker a lenient hook puts in place of a bad value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _DuplicateObject(dict[str, Any]):
    """What the lenient object hook returns for an object that names a member twice."""

    duplicate = ""


_CONTAINER_OR_FAULT = (dict, list, _Fault)


def _strict_int(text: str) -> int:
    if len(text) <= 15:  # at most 15 digits, so below 10**15 < 2**53
        return int(text)
    digits = text.removeprefix("-")  # JSON has no leading zeros: 17 digits are >= 10**16 > 2**53
    if len(digits) <= 16 and int(digits) <= MAX_SAFE_INTEGER:  # and int() never sees a huge string
        return int(text)
    shown = text if len(text) <= 40 else f"{text[:20]}... ({len(digits)} digits)"
    raise _Fault("JSON_NUMBER_OUT_OF_RANGE", f"integer {shown} is outside +-(2**53-1)")


def _strict_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 40 else f"{text[:20]}..."
        raise _Fault("JSON_NUMBER_OUT_OF_RANGE", f"number {shown} overflows a double")
    return value


def _strict_constant(name: str) -> Any:
    raise _Fault("JSON_NON_FINITE", f"{name} is not a JSON number")


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Fault("JSON_DUPLICATE_KEY", f"object names member {_quote(_duplicate(pairs))} twice")
    return obj


def _duplicate(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""


def _lenient(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """A hook that returns the fault ``check`` raises, to be found by :func:`_first_fault`."""

    def hook(text: str) -> Any:
        try:
            return check(text)
        except _Fault as fault:
            return fault

    return hook


def _lenient_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _DuplicateObject(pairs)
    marked.duplicate = _duplicate(pairs)
    return marked


# Configured once and never changed: decoders are immutable after construction.
_STRICT = json.JSONDecoder(
    object_pairs_hook=_strict_object, parse_int=_strict_int, parse_float=_strict_float, parse_constant=_strict_constant
)
_LENIENT = json.JSONDecoder(
    object_pairs_hook=_lenient_object,
    parse_int=_lenient(_strict_int),
    parse_float=_lenient(_strict_float),
    parse_constant=_lenient(_strict_constant),
)


def parse_json(data: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse one strict I-JSON text from the exact UTF-8 bytes received: the value of
    :func:`parse_json_plain`, with the same arguments and errors."""
    return parse_json_plain(data, max_bytes=max_bytes, max_depth=max_depth)[0]


def parse_json_plain(
    data: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> tuple[Any, bool]:
    """Parse one strict I-JSON text from the exact UTF-8 bytes received, and say if it is plain.

    Args:
        data: the bytes received (``bytes`` or ``bytearray``), not a ``str``.
        max_bytes: longer documents are refused before they are looked at.
        max_depth: most nested arrays/objects allowed, 0..256 (0 allows only a scalar).

    Returns:
        The value, shaped as the module docstring says, and whether it is *plain*: it holds no
        float and no character above U+FFFF (so no surrogate either), at most 64 deep (here
        always exact ``dict`` with ``str`` names, ``list``, ``str``, ``int`` within
        +-(2**53-1), ``bool``, ``None``). Plain values need no type walk before
        :func:`mmmfed.proofs.canonicalize` writes them with ``orjson`` or
        :func:`mmmfed.schemas.validate_item` hands them to jsonschema-rs; False says only that
        those walks decide. Known at C speed: the value came through :func:`_fast_parse` (no
        floats), ``data`` has no byte 0xF0-0xFF (no 4-byte UTF-8) and no ``\\uD8..\\uDF`` escape.

    Raises:
        InvalidInput: with one of the reasons in the module docstring.
        TypeError, ValueError: for a caller's bug (``data`` not bytes, ``max_depth`` out of range).
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"parse_json needs the bytes received, not {type(data).__name__}")
    if not 0 <= max_depth <= _DEPTH_CEILING:
        raise ValueError(f"max_depth must be within 0..{_DEPTH_CEILING}, not {max_depth}")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"JSON document of {len(data)} bytes exceeds the limit of {max_bytes}", reason="JSON_TOO_LARGE"
        )
    if data.startswith(_BOM):
        raise _invalid("JSON_NOT_UTF8", "JSON text starts with a UTF-8 byte order mark; send it without", offset=0)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _invalid("JSON_NOT_UTF8", f"JSON text is not UTF-8 ({err.reason})", offset=err.start) from err
    fast = _fast_parse(data, max_depth)
    if fast is _TOO_DEEP:
        offset = _deep_offset(data, max_depth)
        raise _invalid("JSON_TOO_DEEP", f"JSON nests deeper than {max_depth} arrays/objects", offset=offset)
    if fast is not _NOT_FAST:
        surrogate_escape = b"\\u" in data and _SURROGATE_ESCAPE.search(data) is not None
        astral = not data.isascii() and _ASTRAL_UTF8.search(data) is not None
        return fast, max_depth <= _PLAIN_DEPTH and not surrogate_escape and not astral
    if data.count(b"[") + data.count(b"{") > max_depth and _too_deep(data, max_depth):
        offset = _deep_offset(data, max_depth)
        raise _invalid("JSON_TOO_DEEP", f"JSON nests deeper than {max_depth} arrays/objects", offset=offset)
    try:
        value = _STRICT.decode(text)
    except json.JSONDecodeError as err:
        raise _syntax_error(text, err) from err
    except _Fault as fault:
        raise _locate(text, fault) from None
    if _SURROGATE_ESCAPE.search(data) and _has_surrogate(value):
        raise _first_fault(value, surrogates=True) or _invalid("JSON_LONE_SURROGATE", "a string holds a lone surrogate")
    return value, False


def _fast_parse(data: bytes | bytearray, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The value of ``data`` parsed by ``orjson`` when that is provably the value the strict parse
    gives; ``_TOO_DEEP`` when ``data`` is JSON that orjson reads and nests deeper than
    ``max_depth`` (what :func:`_too_deep` says of it); else ``_NOT_FAST`` (then the strict parse
    decides, and finds the error to report).

    ``orjson.loads`` (~3x faster than the ``json`` scanner with hooks) is strict RFC 8259 where
    this module is (no NaN or Infinity, no lone surrogates, no control characters in strings, no
    BOM, no invalid UTF-8, whitespace only space, tab, LF, CR, nothing after the value; ``-0`` is
    the integer 0), and gives the same shapes: exact ``dict`` (member order kept), ``list``,
    ``str``, ``int``, ``bool``, ``None``. What it does not refuse is checked on its output, written
    back compactly with ``orjson.dumps``: integers beyond +-(2**53-1) (``OPT_STRICT_INTEGER``
    refuses them; orjson reads those beyond 64 bits as floats), floats (any float sends the
    document to the strict parse, so float rounding never depends on orjson) and duplicate member
    names, which orjson keeps the last of. Every member has exactly one ``:`` outside strings and
    ``:`` inside strings is written raw by orjson, so with no ``\\u003a`` escape in ``data`` a
    dropped duplicate (with everything in its value) is exactly what makes the output have fewer
    ``:`` than ``data``. Floats and the depth are found in one walk of the value
    (:func:`_float_or_too_deep`), so a valid document needs no scan of its bytes for brackets
    (an Item has about 33 containers, more than :data:`MAX_JSON_DEPTH`: that scan took ~19 us).
    tests/unit/test_strictjson.py compares the two paths on generated documents.
    """
    if b"\\u" in data and _COLON_ESCAPE.search(data):
        return _NOT_FAST
    try:
        value = orjson.loads(data)
        written = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _NOT_FAST
    if written.count(b":") != data.count(b":"):
        return _NOT_FAST
    kind = type(value)
    if kind is dict or kind is list:
        found = _TOO_DEEP if max_depth == 0 else _float_or_too_deep(value, max_depth - 1)
    else:
        found = _FLOAT if kind is float else None
    if found is _TOO_DEEP:
        return _TOO_DEEP
    return _NOT_FAST if found is _FLOAT else value


def _float_or_too_deep(value: Any, room: int) -> object:
    """``_FLOAT`` if a container orjson parsed holds a float, ``_TOO_DEEP`` if its containers
    nest more than ``room`` levels below it, whichever the walk meets first; else None.
    Recursion is bounded by ``room`` (at most 255: ``_DEPTH_CEILING``)."""
    for child in value.values() if type(value) is dict else value:
        kind = type(child)
        if kind is float:
            return _FLOAT
        if kind is dict or kind is list:
            if room == 0:
                return _TOO_DEEP
            found = _float_or_too_deep(child, room - 1)
            if found is not None:
                return found
    return None


def _invalid(reason: str, message: str, *, offset: int | None = None, path: str | None = None) -> InvalidInput:
    if offset is not None:
        return InvalidInput(f"{message} at byte {offset}", reason=reason, metadata={"offset": str(offset)})
    if path is not None:
        return InvalidInput(f"{message} at {path}", reason=reason, metadata={"path": path})
    return InvalidInput(message, reason=reason)


def _syntax_error(text: str, err: json.JSONDecodeError) -> InvalidInput:
    offset = len(text[: err.pos].encode("utf-8"))
    return _invalid(
        "JSON_SYNTAX", f"JSON syntax error: {err.msg} (line {err.lineno}, column {err.colno})", offset=offset
    )


def _too_deep(data: bytes | bytearray, max_depth: int) -> bool:
    """Whether brackets outside strings nest deeper than ``max_depth``, without parsing.

    Exact up to the first syntax error, which is as far as the parser would recurse: there every
    backslash is inside a string and pairs up left to right, so once ``\\\\`` and ``\\"`` are gone
    the quotes alternate between opening and closing strings.
    """
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    depth = 0
    for byte in b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in _OPENERS else -1
        if depth > max_depth:
            return True
    return False


def _deep_offset(data: bytes | bytearray, max_depth: int) -> int | None:
    """Byte offset of the first bracket beyond ``max_depth``; None if this slower scan, which reads
    a broken document differently, finds none."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(data):
        if match.end() - match.start() == 1:
            depth += 1 if data[match.start()] in _OPENERS else -1
            if depth > max_depth:
                return match.start()
    return None


def _has_surrogate(value: Any) -> bool:
    """Whether any string or member name holds a surrogate (C speed: the encoder keeps them raw)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _locate(text: str, fault: _Fault) -> InvalidInput:
    """Turn a fault a strict hook raised into an error with a JSON path, by parsing leniently.

    A hook can fire before a syntax error further on; then the syntax error is reported.
    """
    try:
        lenient = _LENIENT.decode(text)
    except json.JSONDecodeError as err:
        return _syntax_error(text, err)
    return _first_fault(lenient, surrogates=False) or _invalid(fault.reason, fault.message)


def _first_fault(doc: Any, *, surrogates: bool) -> InvalidInput | None:
    """The first problem in a pre-order walk: a fault marker, a duplicate, or (if ``surrogates``)
    a string or member name holding a surrogate. Only such values and containers are visited."""
    stack: list[tuple[Any, _Trail, bool]] = [(doc, None, False)]
    while stack:
        value, trail, is_name = stack.pop()
        if isinstance(value, _Fault):
            return _invalid(value.reason, value.message, path=_path(trail))
        if isinstance(value, _DuplicateObject):
            message = f"object names member {_quote(value.duplicate)} twice"
            return _invalid("JSON_DUPLICATE_KEY", message, path=_path(trail))
        if isinstance(value, str):
            if surrogates and (match := _SURROGATE.search(value)) is not None:
                message = f"{'member name' if is_name else 'string'} holds lone surrogate U+{ord(match.group()):04X}"
                return _invalid("JSON_LONE_SURROGATE", message, path=_path(trail))
            continue
        steps = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        visit: list[tuple[Any, _Trail, bool]] = []
        for step, item in steps:
            if surrogates and isinstance(step, str) and _SURROGATE.search(step):
                visit.append((step, (trail, step), True))
            if isinstance(item, _CONTAINER_OR_FAULT) or (
                surrogates and isinstance(item, str) and _SURROGATE.search(item)
            ):
                visit.append((item, (trail, step), False))
        stack += reversed(visit)
    return None


def _path(trail: _Trail) -> str:
    """A JSONPath such as ``$.Trace[2]["odd name"]`` from a trail of names and indexes."""
    parts: list[str] = []
    while trail is not None:
        trail, step = trail
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if _NAME.fullmatch(step) else f"[{_quote(step)}]")
    return "$" + "".join(reversed(parts))


def _quote(name: str) -> str:
    """A member name for a message: JSON-quoted, ASCII only, shortened."""
    return json.dumps(name if len(name) <= 40 else f"{name[:40]}...")
