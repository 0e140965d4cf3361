"""Does an Item's V2.2 form conform to MPAI's MMM-TEC V2.2 data type its Header names? (issue 15)

The schema is MPAI's own, from ``mpai-mmm-tec-v2.2-openapi.json`` with the corrections listed in
``docs/mpai-v22-faults.md`` (:mod:`mmmfed.schemas.mpai`); the Item's ``proof`` is set aside, as
the Data Integrity proof is a property beside the data type's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmmfed.errors import InvalidInput
from mmmfed.schemas import mpai

_MAX_SHOWN = 3


def schema_name(wire: Mapping[str, Any]) -> str:
    """The MPAI type (e.g. ``MMM4_V22_Process``) of ``wire``'s Header; InvalidInput
    ``ITEM_TYPE_UNKNOWN`` for a Header no V2.2 type fixes."""
    header = wire.get("Header")
    name = mpai.schema_for_header(header) if isinstance(header, str) else None
    if name is None:
        raise InvalidInput(f"Header {str(header)[:40]!r} names no MMM-TEC V2.2 data type", reason="ITEM_TYPE_UNKNOWN")
    return name


def check_conforms(wire: Mapping[str, Any]) -> str:
    """Return the MPAI type ``wire`` (an Item's V2.2 form, proof included) conforms to.

    Raises InvalidInput ``V22_SCHEMA_VIOLATION`` naming the type and the first failures (JSON
    pointer and message), metadata ``schema``; ``ITEM_TYPE_UNKNOWN`` as :func:`schema_name`.
    """
    name = schema_name(wire)
    body = {k: v for k, v in wire.items() if k != "proof"}
    if mpai.validator(name).is_valid(body):
        return name
    problems = mpai.errors(name, body)
    shown = "; ".join(p[:200] for p in problems[:_MAX_SHOWN])
    raise InvalidInput(
        f"Item does not conform to MPAI's {name}: {shown}"
        + (f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""),
        reason="V22_SCHEMA_VIOLATION",
        metadata={"schema": name},
    )
