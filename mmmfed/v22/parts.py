"""The pieces the V2.2 Item codec (:mod:`mmmfed.v22.codec`) builds every data type from.

MPAI MMM-TEC V2.2 gives each data type its own fields, but a few shapes recur in all of them:

* **Simple Time** (``OSD-STM-V1.5``): absolute times in milliseconds since the Unix epoch
  (``FlagsByte`` 3: bit 0 TimeType = absolute, bits 1-2 TimeUnit = ``01`` ms), one segment per
  instant, with ``AccuracyMode`` ``single`` and ``AccuracyPlusMinus`` 0: MPAI's two ``if`` s
  both apply to a segment without ``AccuracyMode``, so it is always given.
* **Data Exchange Metadata** (``PTF-DEM-V1.0``, the ``DataXMData`` of every type): ``DataID`` is the
  ItemID, ``Source`` the Processes that produced the Item in order (``ImplementerAIMID``, the
  Trace's ProcessIDs) and ``DataExchangeMetadataTime`` one segment per Trace entry (its Time).
* **DescrMetadata**: a string of at most 2,048 characters. mmmfed's descriptive metadata is an
  object, so it travels as that object's compact JSON text; fields of ours that a closed V2.2 type
  has no place for travel in it too, under :data:`EXTENSION_KEY`.
* **Data binding**: ``ItemData`` entries ``{"Length": <bytes>, "DataURI": "ni:///sha-256;<b64url>?ct=<media type>"}``
  (RFC 6920 Named Information: the digest names the data, ``ct`` its media type).

Times on our side are RFC 3339 strings with milliseconds (``2026-11-25T07:00:00.123Z``), as
:func:`mmmfed.items.now_iso` writes them; they map to and from whole milliseconds exactly.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard
from urllib.parse import quote, unquote

from mmmfed.errors import InvalidInput

SIMPLE_TIME_HEADER = "OSD-STM-V1.5"
OSD_TIME_HEADER = "OSD-TIM-V1.5"
DEM_HEADER = "PTF-DEM-V1.0"
ABSOLUTE_MS = 0b011  # FlagsByte: TimeType absolute (bit 0), TimeUnit 01 = milliseconds (bits 1-2)
MAX_DESCR_CHARS = 2048
EXTENSION_KEY = "mmmfed:Fields"
NI_PREFIX = "ni:///sha-256;"
DATA_JSON_PREFIX = "data:application/json;base64,"
OPEN_END_MS = 9_007_199_254_740_991  # EndTime of a segment with no end (a Right without ValidUntil)


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, answered without the ABC machinery (a Python-level
    ``__instancecheck__``) for a ``dict``, which is what parsed JSON holds: the codec asks this a
    dozen times an Item."""
    return type(value) is dict or isinstance(value, Mapping)


def iso_of_ms(ms: int) -> str:
    """Unix ms -> ``2026-11-25T07:00:00.123Z``.

    The decoder asks this of every Trace entry of every Item a gateway verifies, mostly for
    times within the same few seconds: the second's text is cached (:func:`_iso_second`)."""
    second, milli = divmod(ms, 1000)
    return f"{_iso_second(second)}{milli:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    """Unix seconds -> ``2026-11-25T07:00:00.`` (bounded: 4,096 seconds' texts, ~0.5 MB at most)."""
    return datetime.datetime.fromtimestamp(second, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def ms_of_iso(text: str) -> int:
    """RFC 3339 -> Unix ms (rounded to the millisecond). Raises InvalidInput ``ITEM_MALFORMED``."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("z", "Z"))
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"{text!r} is not an RFC 3339 date-time", reason="ITEM_MALFORMED") from err
    if moment.tzinfo is None:
        raise InvalidInput(f"{text!r} has no UTC offset", reason="ITEM_MALFORMED")
    return round(moment.timestamp() * 1000)


def simple_time(time_id: str, segments: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """An ``OSD-STM-V1.5`` Simple Time of absolute millisecond segments ``(start, end)``."""
    return {
        "Header": SIMPLE_TIME_HEADER,
        "SimpleTimeID": time_id,
        "SimpleTimeData": [
            {
                "FlagsByte": ABSOLUTE_MS,
                "StartTime": start,
                "EndTime": end,
                "AccuracyMode": "single",
                "AccuracyPlusMinus": 0,
            }
            for start, end in segments
        ],
    }


def instant(time_id: str, text: str) -> dict[str, Any]:
    """A Simple Time of one instant, from an RFC 3339 string."""
    ms = ms_of_iso(text)
    return simple_time(time_id, [(ms, ms)])


def segments_of(value: object, where: str) -> list[tuple[int, int]]:
    """The absolute millisecond segments of a Simple Time. Raises InvalidInput ``ITEM_MALFORMED``
    naming ``where`` for anything else (another TimeUnit, a relative time, a float)."""
    data = value.get("SimpleTimeData") if is_mapping(value) else None
    if not isinstance(data, list):
        raise InvalidInput(f"{where} is not a Simple Time", reason="ITEM_MALFORMED")
    out = []
    for segment in data:
        if not is_mapping(segment) or segment.get("FlagsByte") != ABSOLUTE_MS:
            raise InvalidInput(f"{where} is not in absolute milliseconds (FlagsByte 3)", reason="ITEM_MALFORMED")
        start, end = segment.get("StartTime"), segment.get("EndTime")
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in (start, end)):
            raise InvalidInput(f"{where} times must be whole milliseconds", reason="ITEM_MALFORMED")
        out.append((int(start), int(end)))  # type: ignore[arg-type]  # checked just above
    return out


def instant_of(value: object, where: str) -> str:
    """The RFC 3339 string of a one-instant Simple Time."""
    segments = segments_of(value, where)
    if len(segments) != 1:
        raise InvalidInput(f"{where} must hold one time", reason="ITEM_MALFORMED")
    return iso_of_ms(segments[0][0])


def dem(item_id: str, trace: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``DataXMData`` of an Item: its ItemID and its Trace (producers and times, in order)."""
    return {
        "Header": DEM_HEADER,
        "DataID": item_id,
        "Source": [{"ImplementerAIMID": str(entry["ProcessID"])} for entry in trace],
        "DataExchangeMetadataTime": simple_time(f"{item_id}#trace", [(ms_of_iso(str(e["Time"])),) * 2 for e in trace]),
    }


def trace_of(value: object) -> tuple[str, list[dict[str, Any]]]:
    """(ItemID, Trace) from a ``DataXMData``. Raises InvalidInput ``ITEM_MALFORMED``."""
    if not is_mapping(value) or not isinstance(value.get("DataID"), str):
        raise InvalidInput("DataXMData with a DataID is required", reason="ITEM_MALFORMED")
    sources = value.get("Source")
    times = segments_of(value.get("DataExchangeMetadataTime"), "DataXMData.DataExchangeMetadataTime")
    if not isinstance(sources, list) or len(sources) != len(times):
        raise InvalidInput("DataXMData.Source and its times must pair up", reason="ITEM_MALFORMED")
    trace = []
    for source, (start, _end) in zip(sources, times, strict=True):
        producer = source.get("ImplementerAIMID") if is_mapping(source) else None
        if not isinstance(producer, str):
            raise InvalidInput("DataXMData.Source entries name a Process", reason="ITEM_MALFORMED")
        trace.append({"ProcessID": producer, "Time": iso_of_ms(start)})
    return str(value["DataID"]), trace


def descr_text(descr: Mapping[str, Any], extension: Mapping[str, Any]) -> str | None:
    """``DescrMetadata``: the compact JSON text of ``descr`` plus ``extension`` (our fields a closed
    V2.2 type has no place for) under :data:`EXTENSION_KEY`; None when both are empty.

    Raises InvalidInput ``DESCR_METADATA_TOO_LONG`` past 2,048 characters (MPAI's bound), or
    ``DESCR_METADATA_RESERVED`` for a descriptive name equal to :data:`EXTENSION_KEY`.
    """
    if EXTENSION_KEY in descr:
        raise InvalidInput(f"DescrMetadata may not use the name {EXTENSION_KEY!r}", reason="DESCR_METADATA_RESERVED")
    body = {**descr, **({EXTENSION_KEY: dict(extension)} if extension else {})}
    if not body:
        return None
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DESCR_CHARS:
        raise InvalidInput(
            f"DescrMetadata is {len(text)} characters as JSON text; MMM-TEC V2.2 allows {MAX_DESCR_CHARS}",
            reason="DESCR_METADATA_TOO_LONG",
        )
    return text


def descr_of(value: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """(descriptive metadata, extension fields) from a ``DescrMetadata`` string. Text that is not a
    JSON object (another implementation's prose) is kept as ``{"Text": <text>}``."""
    if value is None:
        return {}, {}
    if not isinstance(value, str):
        raise InvalidInput("DescrMetadata must be a string", reason="ITEM_MALFORMED")
    try:
        body = json.loads(value)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {"Text": value}, {}
    extension = body.pop(EXTENSION_KEY, {})
    if not isinstance(extension, dict):
        raise InvalidInput(f"DescrMetadata {EXTENSION_KEY} must be an object", reason="ITEM_MALFORMED")
    return body, extension


def ni_uri(sha256_hex: str, media_type: str) -> str:
    """RFC 6920 ``ni:///sha-256;<base64url digest>?ct=<media type>``."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
    return f"{NI_PREFIX}{digest}?ct={quote(media_type, safe='/+.-_')}"


def of_ni_uri(uri: str) -> tuple[str, str]:
    """(sha-256 hex, media type) from an ``ni:`` URI. Raises InvalidInput ``ITEM_MALFORMED``."""
    body, _, query = uri.removeprefix(NI_PREFIX).partition("?ct=")
    try:
        digest = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError as err:
        raise InvalidInput(f"ItemData DataURI {uri[:80]!r} has no base64url digest", reason="ITEM_MALFORMED") from err
    if len(digest) != 32 or "?" in body:
        raise InvalidInput(f"ItemData DataURI {uri[:80]!r} is not a sha-256 name", reason="ITEM_MALFORMED")
    return digest.hex(), unquote(query)


def json_data_uri(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An ItemData entry carrying a JSON document (the original Item a conversion embeds)."""
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return {"Length": len(raw), "DataURI": DATA_JSON_PREFIX + base64.b64encode(raw).decode()}


def of_json_data_uri(uri: str) -> dict[str, Any]:
    """The JSON object of a :func:`json_data_uri` entry. Raises InvalidInput ``ITEM_MALFORMED``."""
    from mmmfed.strictjson import parse_json

    try:
        doc = parse_json(base64.b64decode(uri.removeprefix(DATA_JSON_PREFIX), validate=True))
    except ValueError as err:
        raise InvalidInput("an embedded Item is not base64 JSON", reason="ITEM_MALFORMED") from err
    if not isinstance(doc, dict):
        raise InvalidInput("an embedded Item must be a JSON object", reason="ITEM_MALFORMED")
    return doc


def value_doc(amount: int, currency_id: str) -> dict[str, Any]:
    """An MMM-TEC V2.2 Value: ``Amount`` in the Currency's minor units (integers: no floats in
    money), the Currency named by ``CurrencyData``."""
    return {"Amount": amount, "Currency": {"Header": "MMM-CUO-V2.2", "CurrencyData": currency_id}}


def of_value_doc(value: object, where: str) -> dict[str, Any]:
    """``{"Amount", "CurrencyID"}`` from a :func:`value_doc`."""
    currency = value.get("Currency") if is_mapping(value) else None
    amount = value.get("Amount") if is_mapping(value) else None
    if not is_mapping(currency) or not isinstance(currency.get("CurrencyData"), str):
        raise InvalidInput(f"{where} has no Currency", reason="ITEM_MALFORMED")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidInput(f"{where} Amount must be an integer of minor units", reason="ITEM_MALFORMED")
    return {"Amount": amount, "CurrencyID": currency["CurrencyData"]}
