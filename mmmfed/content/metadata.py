"""The metadata that travels with a content (ITU FGMV-43 9.3, COIR-102/103/106): title,
description, tags, creator, copyright and licence, an SPDX licence expression (``CC-BY-4.0``,
``MIT OR Apache-2.0``) checked against the SPDX licence list that ``license-expression`` ships;
a licence of the creator's own is an SPDX ``LicenseRef-<idstring>`` (SPDX 2.3 Annex D: letters,
digits, ``.`` and ``-``), which :mod:`mmmfed.content.licence` reads as granting no redistribution.

In the content's Item it is the DescrMetadata (MMM-TEC V2.2: a JSON text of at most 2,048
characters): ``{"Title", "Description", "Tags", "Creator", "Copyright", "Licence"}``, empty
fields left out. Raises InvalidInput ``CONTENT_METADATA_INVALID`` naming the field, and
``LICENCE_UNKNOWN`` for a licence that is not an SPDX expression of known ids.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from license_expression import ExpressionError, Licensing, get_spdx_licensing

from mmmfed.errors import InvalidInput

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 800
MAX_PARTY_CHARS = 200
MAX_TAGS = 16
_TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")


@functools.cache
def spdx_licensing() -> Licensing:
    """The SPDX licence list ``license-expression`` ships, loaded once."""
    return get_spdx_licensing()


def spdx_licence(expression: str) -> str:
    """``expression`` as the SPDX list spells it (``cc-by-4.0`` -> ``CC-BY-4.0``); InvalidInput
    ``LICENCE_UNKNOWN`` for an unknown id or a malformed expression."""
    if not expression.strip():
        raise InvalidInput("a content needs a licence: an SPDX id such as CC-BY-4.0", reason="LICENCE_UNKNOWN")
    try:
        info = spdx_licensing().validate(expression, strict=True)
    except ExpressionError as err:
        info = None
        problem = str(err)
    except AttributeError:  # license-expression fails so on some malformed input ("MIT/x")
        info = None
        problem = "malformed expression"
    else:
        problem = "; ".join(info.errors)
        if info.invalid_symbols and all(LICENSE_REF.fullmatch(str(s)) for s in info.invalid_symbols):
            return str(spdx_licensing().parse(expression))  # the listed ids spelt as SPDX does, LicenseRef-* kept
    if info is None or problem or not info.normalized_expression:
        raise InvalidInput(
            f"licence {expression[:100]!r} is not an SPDX licence expression ({problem or 'empty'}); "
            "use an id from https://spdx.org/licenses/ such as CC-BY-4.0 or CC0-1.0",
            reason="LICENCE_UNKNOWN",
            metadata={"licence": expression[:100]},
        )
    return str(info.normalized_expression)


def _invalid(field: str, why: str) -> InvalidInput:
    return InvalidInput(f"content {field} {why}", reason="CONTENT_METADATA_INVALID", metadata={"field": field})


def _text(field: str, value: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise _invalid(field, "is required")
    if len(value) > limit:
        raise _invalid(field, f"is {len(value)} characters; at most {limit}")
    if any(c < " " and c not in "\n\t" for c in value):
        raise _invalid(field, "has control characters")
    return value


@dataclass(frozen=True)
class ContentMetadata:
    """A content's metadata, checked: build with :meth:`of`."""

    title: str
    licence: str
    description: str = ""
    tags: tuple[str, ...] = ()
    creator: str = ""
    copyright: str = ""

    @classmethod
    def of(
        cls,
        *,
        title: str,
        licence: str,
        description: str = "",
        tags: tuple[str, ...] | list[str] = (),
        creator: str = "",
        copyright: str = "",  # the field's name in COIR-103
    ) -> ContentMetadata:
        """Checked metadata: title 1-200 characters, description up to 800, up to 16 tags of
        ``[a-z0-9-]`` (lower-cased, each once, in order), creator and copyright up to 200."""
        clean_tags: list[str] = []
        for tag in tags:
            tag = tag.strip().lower()
            if not _TAG.fullmatch(tag):
                raise _invalid("tags", f"{tag[:40]!r} is not 1-32 of a-z 0-9 - (starting with a letter or digit)")
            if tag not in clean_tags:
                clean_tags.append(tag)
        if len(clean_tags) > MAX_TAGS:
            raise _invalid("tags", f"are {len(clean_tags)}; at most {MAX_TAGS}")
        return cls(
            title=_text("title", title, MAX_TITLE_CHARS, required=True),
            licence=spdx_licence(licence.strip()),
            description=_text("description", description, MAX_DESCRIPTION_CHARS),
            tags=tuple(clean_tags),
            creator=_text("creator", creator, MAX_PARTY_CHARS),
            copyright=_text("copyright", copyright, MAX_PARTY_CHARS),
        )

    def descr(self) -> dict[str, Any]:
        """As the Item's DescrMetadata (empty fields left out)."""
        out: dict[str, Any] = {"Title": self.title, "Licence": self.licence}
        for key, value in (("Description", self.description), ("Creator", self.creator), ("Copyright", self.copyright)):
            if value:
                out[key] = value
        if self.tags:
            out["Tags"] = list(self.tags)
        return out

    @classmethod
    def from_descr(cls, descr: Mapping[str, Any]) -> ContentMetadata:
        """The metadata of an Item's DescrMetadata, checked again (it may come from a peer)."""
        tags = descr.get("Tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _invalid("tags", "must be a list of strings")
        fields = {k: descr.get(k.capitalize(), "") for k in ("title", "licence", "description", "creator", "copyright")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise _invalid("metadata", "fields must be strings")
        return cls.of(tags=tags, **fields)
