"""The one Item that describes a content (ITU FGMV-43 9.3 step 1, COTF; MMM-TEC V2.2 Item).

An ``ITM`` Item whose ItemQualifier is the content's (SubType = kind, Format, Attributes:
:mod:`mmmfed.content.kinds`), whose DescrMetadata is its metadata
(:mod:`mmmfed.content.metadata`) and whose ``ItemParts`` list every part, root first:
``{"Path", "MediaType", "Size", "Digest": {"Algorithm": "sha-256", "Value"}}``. In its V2.2 form
each part is an ``ItemData`` entry ``{"DataID": <path>, "Length", "DataURI": "ni:///sha-256;...
?ct=<media type>"}`` (RFC 6920), so the Item's Data Integrity proof (made by the M-Instance's
gateway, :func:`mmmfed.items.sign_item`) covers every part's digest: a part changed after signing
no longer matches (:func:`check_parts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmmfed.content.kinds import ContentKind, InspectedContent
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import DataIntegrityError, InvalidInput
from mmmfed.items import item_document, sha256_hex

CONTENT_ITEM_TYPE = "ITM"
CONTENT_SUB_TYPES = frozenset(k.value for k in ContentKind)


@dataclass(frozen=True)
class PartRef:
    """What a content Item says of one part: its path, media type, size (bytes) and sha-256."""

    path: str
    media_type: str
    size: int
    sha256: str


def content_document(
    *,
    m_instance_id: str,
    item_id: str,
    producer_process_id: str,
    content: InspectedContent,
    metadata: ContentMetadata,
) -> dict[str, Any]:
    """The domain document of a content's Item (a draft the Author Process Action stores)."""
    parts = [
        {
            "Path": p.path,
            "MediaType": p.media_type,
            "Size": p.size,
            "Digest": {"Algorithm": "sha-256", "Value": p.sha256},
        }
        for p in content.package.parts
    ]
    return item_document(
        m_instance_id=m_instance_id,
        item_id=item_id,
        item_type=CONTENT_ITEM_TYPE,
        qualifier=content.qualifier(),
        producer_process_id=producer_process_id,
        descr=metadata.descr(),
        extra={"ItemParts": parts},
    )


def _part_doc(part: ContentPart) -> dict[str, Any]:
    digest = {"Algorithm": "sha-256", "Value": part.sha256}
    return {"Path": part.path, "MediaType": part.media_type, "Size": part.size, "Digest": digest}


def is_content(doc: Mapping[str, Any]) -> bool:
    """Whether a domain document is a content's Item (an ITM with ItemParts and a content SubType)."""
    qualifier = doc.get("ItemQualifier") or {}
    return (
        doc.get("ItemType") == CONTENT_ITEM_TYPE
        and "ItemParts" in doc
        and qualifier.get("SubType") in CONTENT_SUB_TYPES
    )


def parts_of(doc: Mapping[str, Any]) -> list[PartRef]:
    """The parts a content Item lists, in order. InvalidInput ``ITEM_MALFORMED`` otherwise."""
    try:
        return [
            PartRef(str(p["Path"]), str(p["MediaType"]), int(p["Size"]), str(p["Digest"]["Value"]))
            for p in doc["ItemParts"]
        ]
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInput(
            f"content Item {doc.get('ItemID')} has malformed ItemParts ({err})", reason="ITEM_MALFORMED"
        ) from err


def check_parts(doc: Mapping[str, Any], package: ContentPackage) -> None:
    """Check that ``package`` is exactly the parts ``doc`` lists: same paths in the same order,
    each with the listed size and sha-256. DataIntegrityError ``DIGEST_MISMATCH`` /
    ``SIZE_MISMATCH`` naming the part, InvalidInput ``CONTENT_PARTS_MISMATCH`` for other paths."""
    listed = parts_of(doc)
    paths = [p.path for p in package.parts]
    if [p.path for p in listed] != paths:
        raise InvalidInput(
            f"the parts {paths} are not those the Item lists ({[p.path for p in listed]})",
            reason="CONTENT_PARTS_MISMATCH",
        )
    for ref, part in zip(listed, package.parts, strict=True):
        if ref.size != part.size:
            raise DataIntegrityError(
                f"part {ref.path} has {part.size} bytes; the Item lists {ref.size}",
                reason="SIZE_MISMATCH",
                metadata={"path": ref.path},
            )
        if sha256_hex(part.data) != ref.sha256:
            raise DataIntegrityError(
                f"part {ref.path} does not have the sha-256 the Item lists",
                reason="DIGEST_MISMATCH",
                metadata={"path": ref.path},
            )
