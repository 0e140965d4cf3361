"""MMM-ITM Items: identifiers, building, parsing, and the data binding (size + sha-256 digest).

An Item has two forms. Its **V2.2 form** (:mod:`mmmfed.v22`) is what is stored, signed and sent:
the MPAI MMM-TEC V2.2 data type of its kind, with a Header per type (``MMM-ITM-V2.2``,
``MMM-PRC-V2.2`` ...) and its Data Integrity ``proof`` beside the fields. Its **domain document**
is what the M-Instance reads: the MMM-ITM fields every Item shares (Header, MInstanceID, ItemID,
ItemType, SourceItemID, ICapabilities, ItemData, ItemQualifier, ItemStatus, Trace,
DescrMetadata) plus its type's own. The two are inverse (:func:`mmmfed.v22.encode` /
:func:`mmmfed.v22.decode`).

An Item travels as the exact bytes of its V2.2 form (``ItemEnvelope.item_json``); receivers parse
those bytes, verify proofs over that form and never re-serialise it. Large data (3D files) is
bound by ``ItemData.Size`` and ``ItemData.Digest`` = ``{"Algorithm": "sha-256", "Value": <hex>}``
(in V2.2: ``{"Length", "DataURI": "ni:///sha-256;..."}``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput
from mmmfed.proofs import SigningKey, sign_document
from mmmfed.strictjson import parse_json_plain
from mmmfed.v22 import decode, encode
from mmmfed.v22.conformance import check_conforms
from mmmfed.v22.parts import is_mapping

ITEM_HEADER = "MMM-ITM-V2.2"
MAX_TRACE = 64
"""The most Trace entries an Item carries (``item-base.json`` Trace ``maxItems``): an Item built
from one that already has as many keeps the newest, so an Asset that moves between M-Instances
hop after hop stays valid (each hop's Item appends one entry)."""
MAX_ITEM_JSON_BYTES = 256 * 1024
_INSTANCE_ID = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")

# Qualifier formats (ItemQualifier.Format) of avatar data; every format mmmfed knows, with its
# media types and checks, is registered in mmmfed.formats.
FORMAT_VRM_0 = "VRM/0.x"
FORMAT_VRM_1 = "VRM/1.0"
FORMAT_GLB = "glTF/2.0-binary"


def check_instance_id(m_instance_id: str) -> str:
    """Return ``m_instance_id`` if it is a lower-case FQDN (IDIR-105..107), else raise
    InvalidInput (reason ``BAD_INSTANCE_ID``)."""
    if not _INSTANCE_ID.fullmatch(m_instance_id):
        raise InvalidInput(
            f"M-Instance id {m_instance_id!r} is not a lower-case fully qualified domain name",
            reason="BAD_INSTANCE_ID",
        )
    return m_instance_id


def new_id(m_instance_id: str, kind: str, local: str | None = None) -> str:
    """A globally unique identifier ``mmm://<m_instance_id>/<kind>/<local>`` (IDIR-101, -103).

    ``kind`` is e.g. ``items`` or ``processes/user``; ``local`` defaults to a random UUID.
    """
    return f"mmm://{check_instance_id(m_instance_id)}/{kind}/{local or uuid.uuid4()}"


def instance_of(identifier: str) -> str:
    """The M-Instance id an ``mmm://`` identifier belongs to; InvalidInput if it has none."""
    if not identifier.startswith("mmm://"):
        raise InvalidInput(f"{identifier!r} is not an mmm:// identifier", reason="BAD_IDENTIFIER")
    return check_instance_id(identifier.removeprefix("mmm://").partition("/")[0])


def instance_or_none(identifier: object) -> str | None:
    """The M-Instance id of ``identifier`` if it is a string ``mmm://`` id, else None (never raises)."""
    if not isinstance(identifier, str):
        return None
    try:
        return instance_of(identifier)
    except InvalidInput:
        return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    """UTC now as RFC 3339 with milliseconds, e.g. ``2026-11-25T05:00:00.123Z``."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


@dataclass(frozen=True)
class DataBinding:
    """What an Item says about its data: byte size, sha-256 hex digest and media type."""

    size: int
    sha256: str
    media_type: str


@dataclass(frozen=True)
class Item:
    """A parsed Item: the exact bytes received, its V2.2 form and its domain document.

    ``raw`` is the JSON of ``wire`` (the V2.2 form, :mod:`mmmfed.v22`: what proofs cover and what
    travels); ``doc`` is the domain document decoded from it (what the M-Instance reads). Build
    Items with :func:`parse_item`, :func:`item_of`, :func:`build_item` or :func:`sign_item`, so the
    three agree.

    ``plain_json`` is True when :func:`parse_item` read ``raw`` as plain JSON
    (:func:`mmmfed.strictjson.parse_json_plain`: no floats, nothing above U+FFFF, exact JSON
    types): :func:`mmmfed.schemas.validate_item` and :func:`mmmfed.proofs.verify_document` may then
    skip their type walks. False (every Item built otherwise) only means that they walk."""

    raw: bytes
    doc: Mapping[str, Any]
    wire: Mapping[str, Any]
    plain_json: bool = dataclasses.field(default=False, compare=False)

    @property
    def item_id(self) -> str:
        return str(self.doc["ItemID"])

    @property
    def m_instance_id(self) -> str:
        return str(self.doc["MInstanceID"])

    @property
    def qualifier(self) -> Mapping[str, Any]:
        return self.doc.get("ItemQualifier") or {}

    @property
    def format(self) -> str:
        return str(self.qualifier.get("Format", ""))

    @property
    def data(self) -> DataBinding | None:
        """The data binding, or None for an Item without streamed data."""
        data = self.doc.get("ItemData")
        if not is_mapping(data) or "Digest" not in data:
            return None
        return DataBinding(int(data["Size"]), str(data["Digest"]["Value"]), str(data.get("MediaType", "")))


def parse_item(raw: bytes) -> Item:
    """Parse an Item from its exact bytes and check its required fields.

    Raises InvalidInput: the ``JSON_*`` reasons of :func:`parse_json_plain` (strict intake: size,
    UTF-8, duplicate keys, NaN, I-JSON number range, lone surrogates, depth), then
    ``ITEM_MALFORMED`` (not an MMM-TEC V2.2 Header, missing or mistyped fields),
    ``ITEM_TYPE_UNKNOWN``, ``V22_SCHEMA_VIOLATION`` (not MPAI's V2.2 data type of its Header,
    :mod:`mmmfed.v22.conformance`) or ``BAD_IDENTIFIER``.
    """
    wire, plain_json = parse_json_plain(raw, max_bytes=MAX_ITEM_JSON_BYTES)
    if not isinstance(wire, dict):
        raise InvalidInput("Item must be a JSON object", reason="ITEM_MALFORMED")
    header = wire.get("Header")
    if not (isinstance(header, str) and header.startswith("MMM-") and header.endswith("-V2.2")):
        raise InvalidInput(
            f"Item Header must be an MMM-TEC V2.2 data type (e.g. {ITEM_HEADER!r})", reason="ITEM_MALFORMED"
        )
    check_conforms(wire)  # MPAI's V2.2 data type of its Header (V22_SCHEMA_VIOLATION)
    try:
        doc = decode(wire)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:  # a shape decode did not expect
        raise InvalidInput(
            f"Item is not a well-formed {header}: {type(err).__name__} {err}"[:300], reason="ITEM_MALFORMED"
        ) from err
    for field in ("MInstanceID", "ItemID"):
        if not isinstance(doc.get(field), str):
            raise InvalidInput(f"Item field {field} is missing or not a string", reason="ITEM_MALFORMED")
    check_instance_id(doc["MInstanceID"])
    if instance_of(doc["ItemID"]) != doc["MInstanceID"]:
        raise InvalidInput(
            f"ItemID {doc['ItemID']} does not belong to MInstanceID {doc['MInstanceID']}",
            reason="BAD_IDENTIFIER",
        )
    item = Item(raw=raw, doc=doc, wire=wire, plain_json=plain_json)
    data = doc.get("ItemData")
    if data is not None:
        try:
            size = data["Size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ValueError(f"Size must be a non-negative integer, not {size!r}")
            binding = item.data
            if binding is not None and len(binding.sha256) != 64:
                raise ValueError("Digest.Value must be 64 hex digits")
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInput(f"ItemData binding is malformed: {err}", reason="ITEM_MALFORMED") from err
    return item


def item_document(
    *,
    m_instance_id: str,
    item_id: str | None = None,
    item_type: str,
    qualifier: Mapping[str, Any],
    data: DataBinding | None = None,
    producer_process_id: str,
    time: str | None = None,
    source_item_id: str | None = None,
    capabilities: list[Mapping[str, Any]] | None = None,
    descr: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    trace: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The one builder of Item documents (MMM-ITM, MMM-TEC V2.2): the base fields, then ``extra``
    (the Item type's own fields). Every Item of the project is built here, by :func:`build_item`
    (which serialises it) or by the World's ``instance.world.itemdocs.item_doc``.

    ``time`` is the Trace entry's RFC 3339 time (now when None); ``trace`` is the Trace of the
    source Item, if any, to which this producer's entry is appended (the newest :data:`MAX_TRACE`
    entries kept, oldest dropped).
    """
    doc: dict[str, Any] = {
        "Header": ITEM_HEADER,
        "MInstanceID": m_instance_id,
        "ItemID": item_id or new_id(m_instance_id, "items"),
        "ItemType": item_type,
        "SourceItemID": source_item_id,
        "ICapabilities": list(capabilities or []),
        "ItemQualifier": dict(qualifier),
        "ItemStatus": "Final",
        "Trace": [*(trace or []), {"ProcessID": producer_process_id, "Time": time or now_iso()}][-MAX_TRACE:],
        "DescrMetadata": dict(descr or {}),
    }
    if data is not None:
        doc["ItemData"] = {
            "MediaType": data.media_type,
            "Size": data.size,
            "Digest": {"Algorithm": "sha-256", "Value": data.sha256},
        }
    doc.update(extra or {})
    return doc


def item_of(doc: Mapping[str, Any]) -> Item:
    """The Item of a domain document: its V2.2 form (:func:`mmmfed.v22.encode`) serialised once
    (compact UTF-8 JSON); the returned ``raw`` is what travels. Raises InvalidInput for a document
    that has no V2.2 form (:mod:`mmmfed.v22.codec`)."""
    wire = encode(doc)
    check_conforms(wire)  # what mmmfed makes is MPAI's V2.2 data type (a failure here is a bug)
    return Item(raw=_json_bytes(wire), doc=doc, wire=wire)


def item_of_wire(wire: Mapping[str, Any]) -> Item:
    """The Item of a V2.2 document already parsed (an original a conversion embeds)."""
    return Item(raw=_json_bytes(wire), doc=decode(wire), wire=wire)


def domain_doc(raw: bytes | str) -> dict[str, Any]:
    """The domain document of an Item's V2.2 bytes, without :func:`parse_item`'s intake checks:
    for Items this node already checked or made (display, its own stores). Raises InvalidInput
    (``ITEM_MALFORMED``...) or ValueError for bytes that are not a V2.2 Item."""
    return decode(json.loads(raw))


def _json_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def build_item(
    *,
    m_instance_id: str,
    item_id: str | None = None,
    item_type: str,
    qualifier: Mapping[str, Any],
    data: DataBinding | None = None,
    producer_process_id: str,
    source_item_id: str | None = None,
    capabilities: list[Mapping[str, Any]] | None = None,
    descr: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    trace: list[Mapping[str, Any]] | None = None,
) -> Item:
    """Build an Item with :func:`item_document` and serialise it once; the returned ``raw`` is
    what travels. ``trace`` is the Trace of the source Item, if any; this producer's entry is
    appended."""
    return item_of(
        item_document(
            m_instance_id=m_instance_id,
            item_id=item_id,
            item_type=item_type,
            qualifier=qualifier,
            data=data,
            producer_process_id=producer_process_id,
            source_item_id=source_item_id,
            capabilities=capabilities,
            descr=descr,
            extra=extra,
            trace=trace,
        )
    )


def proof_time(at: float | None = None) -> str:
    """A proof ``created`` value: UTC, seconds precision (an XML Schema dateTimeStamp)."""
    t = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def sign_item(item: Item, *, key: SigningKey, verification_method: str) -> Item:
    """``item`` with a Data Integrity proof (eddsa-jcs-2022, assertionMethod) added by ``key`` over
    its V2.2 form, serialised once: the returned ``raw`` is what travels. An Item that already has
    proofs gets one more (a proof set). The domain document carries the same ``proof``."""
    wire = sign_document(item.wire, key=key, verification_method=verification_method, created=proof_time())
    return Item(raw=_json_bytes(wire), doc={**item.doc, "proof": wire["proof"]}, wire=wire)
