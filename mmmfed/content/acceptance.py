"""What contents an M-Instance accepts from peers, as its manifesto says it (ITU FGMV-43 9.3 with
9.5: the manifesto names the content kinds, formats and limits each M-Instance accepts).

Three manifesto policies (``Manifesto.policies``, set under ``manifesto.policies`` in the
M-Instance's configuration; each absent one sets no bound):

- ``content.accepts``: the Qualifiers accepted, comma-separated, each ``SubType`` (any format of
  that kind) or ``SubType Format``, e.g. ``"Model3D glTF/2.0-binary, Image, Text Markdown"``;
- ``content.max_bytes``: the largest content (all its parts), bytes;
- ``content.max_parts``: the most parts of one content.

The home gateway checks them against the peer's published policies before any byte leaves, and
the receiving gateway against its own again. A Qualifier not accepted is FAILED_PRECONDITION
``CONTENT_NOT_ACCEPTED`` naming it and what is accepted (conversion through a bridge's Conversion
Service, COCF, is not built yet); past a limit TooLarge ``CONTENT_TOO_LARGE`` (metadata
``limit``). A malformed policy is InvalidInput ``CONTENT_POLICY_INVALID``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmmfed.content.item import CONTENT_SUB_TYPES, PartRef
from mmmfed.content.transfer import check_limits
from mmmfed.errors import FailedPrecondition, InvalidInput

ACCEPTS, MAX_BYTES, MAX_PARTS = "content.accepts", "content.max_bytes", "content.max_parts"
NOT_ACCEPTED = "CONTENT_NOT_ACCEPTED"


def _bad(key: str, value: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"manifesto policy {key}={value[:200]!r} {why}", reason="CONTENT_POLICY_INVALID", metadata={"policy": key}
    )


def _bound(policies: Mapping[str, str], key: str) -> int | None:
    value = policies.get(key)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise _bad(key, value, "is not a whole number")
    return int(value)


@dataclass(frozen=True)
class ContentAcceptance:
    """An M-Instance's published acceptance of contents; build with :meth:`of`. ``qualifiers``:
    ``(SubType, Format or None for any)``, None for any content."""

    qualifiers: tuple[tuple[str, str | None], ...] | None = None
    max_bytes: int | None = None
    max_parts: int | None = None

    @classmethod
    def of(cls, policies: Mapping[str, str]) -> ContentAcceptance:
        """The acceptance ``policies`` publish (see the module docstring)."""
        qualifiers: list[tuple[str, str | None]] | None = None
        listed = policies.get(ACCEPTS)
        if listed is not None:
            qualifiers = []
            for entry in (e.strip() for e in listed.split(",")):
                if not entry:
                    continue
                sub_type, _, fmt = entry.partition(" ")
                if sub_type not in CONTENT_SUB_TYPES:
                    raise _bad(ACCEPTS, listed, f"names {sub_type!r}, not one of {sorted(CONTENT_SUB_TYPES)}")
                qualifiers.append((sub_type, fmt.strip() or None))
        return cls(
            tuple(qualifiers) if qualifiers is not None else None,
            _bound(policies, MAX_BYTES),
            _bound(policies, MAX_PARTS),
        )

    def describe(self) -> str:
        """What is accepted, for a refusal's message."""
        if self.qualifiers is None:
            return "any content"
        return ", ".join(f"{s} {f}" if f else s for s, f in self.qualifiers) or "no content"

    def require(self, qualifier: Mapping[str, Any], refs: Sequence[PartRef], *, where: str) -> None:
        """Refuse a content of ``qualifier`` and parts ``refs`` that ``where`` does not accept."""
        sub_type, fmt = str(qualifier.get("SubType", "")), str(qualifier.get("Format", ""))
        if self.qualifiers is not None and not any(s == sub_type and f in (None, fmt) for s, f in self.qualifiers):
            raise FailedPrecondition(
                f"{where} does not accept {sub_type} {fmt} contents (it accepts {self.describe()}); "
                "conversion through a bridge is not built yet",
                reason=NOT_ACCEPTED,
                metadata={"qualifier": f"{sub_type} {fmt}", "accepted": self.describe()[:500]},
            )
        bounds: dict[str, int] = {}
        if self.max_bytes is not None:
            bounds["max_bytes"] = self.max_bytes
        if self.max_parts is not None:
            bounds["max_parts"] = self.max_parts
        check_limits(refs, **bounds)
