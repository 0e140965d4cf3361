"""RFC 8785 JSON Canonicalization (JCS) and the eddsa-jcs-2022 hash data (DI-EDDSA 3.3.4): what a
proof signs. :func:`canonicalize` writes with ``orjson`` where that provably gives RFC 8785 bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson
import rfc8785

from mmmfed.errors import InvalidInput
from mmmfed.proofs.reasons import NOT_CANONICALIZABLE

# canonicalize's fast path: orjson with sorted keys, refusing integers beyond +-(2**53-1) as
# rfc8785 does (orjson.OPT_STRICT_INTEGER's bounds are exactly those).
_ORJSON_JCS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_JSON_LEAVES = frozenset({str, int, bool, type(None)})
_JSON_CONTAINERS = frozenset({dict, list, tuple})
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _orjson_is_jcs(value: Any) -> bool:
    """True if ``orjson.dumps(value, option=_ORJSON_JCS)``, having succeeded, is RFC 8785 text.

    It is when the value holds only ``dict`` / ``list`` / ``tuple`` (exact types; both serialise
    a tuple as an array), ``str``, ``int``, ``bool`` and ``None``, and no member name has a
    character above U+FFFF. Then both write the same bytes: no numbers but integers within
    +-(2**53-1), written in plain decimal by both (orjson refuses larger ones with
    OPT_STRICT_INTEGER, the range rfc8785 accepts); strings as UTF-8 with the same escapes (both
    escape only U+0000-U+001F, ``"`` and ``\\``, with ``\\b \\t \\n \\f \\r`` and
    otherwise ``\\u00xx`` in lower case; U+007F, U+2028/2029 and all other characters raw; both
    refuse lone surrogates), checked over every Unicode scalar value in
    tests/unit/test_fast_paths.py; members sorted by code point (orjson compares the UTF-8
    bytes), which is RFC 8785's UTF-16 code-unit order except between a character above U+FFFF
    (a surrogate pair, D800-DFFF) and one in U+E000-U+FFFF, hence the member-name condition.
    Anything else (floats, whose ECMAScript form orjson does not write; subclasses, enums,
    dataclasses, datetimes and the rest that orjson serialises but rfc8785 refuses) is not.
    Recursion is bounded: orjson succeeded, so the value is acyclic and at most 255 deep.
    """
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str or (not key.isascii() and _ASTRAL.search(key)):
                return False
        children = value.values()
    elif kind is list or kind is tuple:
        children = value
    else:
        return kind in _JSON_LEAVES
    for child in children:
        child_kind = type(child)
        if child_kind in _JSON_LEAVES:
            continue
        if child_kind not in _JSON_CONTAINERS or not _orjson_is_jcs(child):
            return False
    return True


def canonicalize(value: Any, *, plain_json: bool = False) -> bytes:
    """RFC 8785 bytes of ``value``; InvalidInput ``NOT_CANONICALIZABLE`` for values JCS cannot
    represent (NaN, infinities, integers beyond +-(2**53-1), lone surrogates, non-string keys,
    non-JSON types).

    Values without floats (every Item mmmfed builds) take a fast path, ``orjson`` with sorted
    keys, where :func:`_orjson_is_jcs` shows that it writes the same bytes as ``rfc8785.dumps``;
    everything else, and everything orjson refuses, goes to ``rfc8785.dumps``, which gives the
    result or the error. ``plain_json``: the caller knows ``value`` is (part of) a value
    :func:`mmmfed.strictjson.parse_json_plain` reported plain, which :func:`_orjson_is_jcs` would
    accept, so the walk is skipped; leave it False for anything else.
    """
    try:
        fast = orjson.dumps(value, option=_ORJSON_JCS)
    except orjson.JSONEncodeError:
        pass  # not JSON as orjson sees it (too large an integer, a lone surrogate...): rfc8785 decides
    else:
        if plain_json or _orjson_is_jcs(value):
            return fast
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as err:
        raise InvalidInput(f"not representable as RFC 8785 JSON: {err}", reason=NOT_CANONICALIZABLE) from err


def jcs_hash_data(
    unsecured_document: Mapping[str, Any], proof_config: Mapping[str, Any], *, plain_json: bool = False
) -> bytes:
    """DI-EDDSA 3.3.4: ``SHA-256(JCS(proof_config)) || SHA-256(JCS(unsecured_document))``, 64 bytes.

    ``proof_config`` is the proof without ``proofValue`` (3.3.5); ``unsecured_document`` is what the
    proof covers (3.3.3); ``plain_json`` as for :func:`canonicalize`, for both. Raises InvalidInput
    ``NOT_CANONICALIZABLE``.
    """
    config = canonicalize(proof_config, plain_json=plain_json)
    return (
        hashlib.sha256(config).digest()
        + hashlib.sha256(canonicalize(unsecured_document, plain_json=plain_json)).digest()
    )
