"""What a correction of MPAI's MMM-TEC V2.2 JSON Schemas is (:class:`Correction`), and helpers to
write the corrected fragments. The corrections themselves are in
:mod:`mmmfed.schemas.mpai_corrections` and :mod:`mmmfed.schemas.mpai_pa_corrections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mmmfed.schemas.mpai.pointer import ABSENT

REMOVE: Final = ABSENT
"""As ``corrected``: the key is removed (:data:`ABSENT`, which as ``mpai`` says MPAI has no such key)."""


class CorrectionMismatch(ValueError):
    """MPAI's document does not have, at a correction's place, the value the correction expects."""


@dataclass(frozen=True)
class Correction:
    """One fault in MPAI's schemas and its correction.

    ``schema`` is a component name of MPAI's document, ``pointer`` an RFC 6901 JSON pointer inside
    it (``""`` is the whole schema), ``mpai`` the exact value found there (or :data:`ABSENT`),
    ``corrected`` the replacement (or :data:`REMOVE`), ``fault`` one sentence on what is wrong and
    ``we_emit`` one sentence on what mmmfed's Items carry there.
    """

    id: str
    schema: str
    pointer: str
    mpai: object
    corrected: object
    fault: str
    we_emit: str


def ref(name: str) -> dict[str, str]:
    """A reference to MPAI's component ``name``, written as in MPAI's document."""
    return {"$ref": f"#/components/schemas/{name}"}


def with_required(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``oneOf`` / ``anyOf`` branches of one property each, with that property made ``required``."""
    return [{**b, "required": list(b["properties"])} for b in branches]
