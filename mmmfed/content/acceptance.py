"""What contents an M-Instance accepts from peers, as its manifesto says it (ITU FGMV-43 9.3 with
9.5: the manifesto names the content kinds, formats and limits each M-Instance accepts).

Three manifesto policies (``Manifesto.policies``, set under ``manifesto.policies`` in the
M-Instance's configuration; each absent one sets no bound):

- ``content.accepts``: the Qualifiers accepted, comma-separated, each ``SubType`` (any format of
  that kind) or ``SubType Format``, e.g. ``"Model3D glTF/2.0-binary, Image, Text Markdown"``;
- ``content.max_bytes``: the largest content (all its parts), bytes;
- ``content.max_parts``: the most parts of one content;
- ``content.model.max_triangles``, ``content.model.max_texture_px`` (longest texture side, px) and
  ``content.model.texture_formats`` (media types, comma-separated, e.g. ``"image/jpeg"``): what a
  3D model's Qualifier Attributes (Triangles, MaxTexturePx, TextureFormats) may say;
- ``content.image.max_px``: the longest side of an image (its Width and Height Attributes);
- ``content.sound.max_sample_rate`` (Hz) and ``content.sound.max_channels``: a sound's SampleRate
  and Channels Attributes.

The home gateway checks them against the peer's published policies before any byte leaves, and
the receiving gateway against its own again. A content that does not fit is converted through a
bridge's Conversion Service when the negotiation routed its Qualifier via a bridge (COCF,
:mod:`gateway.content_bridging`, with :meth:`ContentAcceptance.feature` as the target); otherwise
a Qualifier not accepted is FAILED_PRECONDITION ``CONTENT_NOT_ACCEPTED`` naming it and what is
accepted, an Attribute past a limit FAILED_PRECONDITION ``CONSTRAINTS_NOT_MET`` naming it, and
past a size limit TooLarge ``CONTENT_TOO_LARGE`` (metadata ``limit``). A malformed policy is
InvalidInput ``CONTENT_POLICY_INVALID``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.item import CONTENT_ITEM_TYPE, CONTENT_SUB_TYPES, PartRef
from mmmfed.content.transfer import check_limits
from mmmfed.errors import FailedPrecondition, InvalidInput

ACCEPTS, MAX_BYTES, MAX_PARTS = "content.accepts", "content.max_bytes", "content.max_parts"
MAX_TRIANGLES, MAX_TEXTURE_PX, TEXTURE_FORMATS = (
    "content.model.max_triangles",
    "content.model.max_texture_px",
    "content.model.texture_formats",
)
IMAGE_MAX_PX = "content.image.max_px"
SOUND_MAX_RATE, SOUND_MAX_CHANNELS = "content.sound.max_sample_rate", "content.sound.max_channels"
NOT_ACCEPTED = "CONTENT_NOT_ACCEPTED"
CONSTRAINTS_NOT_MET = "CONSTRAINTS_NOT_MET"
# (policy, content kind, Qualifier Attribute(s) it bounds, unit)
_ATTRIBUTE_LIMITS = (
    (MAX_TRIANGLES, "Model3D", ("Triangles",), "triangles"),
    (MAX_TEXTURE_PX, "Model3D", ("MaxTexturePx",), "px textures"),
    (IMAGE_MAX_PX, "Image", ("Width", "Height"), "px"),
    (SOUND_MAX_RATE, "Sound", ("SampleRate",), "Hz"),
    (SOUND_MAX_CHANNELS, "Sound", ("Channels",), "channels"),
)


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
    limits: tuple[tuple[str, int], ...] = ()
    """(policy, bound) of each attribute limit set (:data:`_ATTRIBUTE_LIMITS`)."""
    texture_formats: tuple[str, ...] = ()

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
        limits = tuple((key, bound) for key, *_ in _ATTRIBUTE_LIMITS if (bound := _bound(policies, key)) is not None)
        formats = tuple(f.strip() for f in policies.get(TEXTURE_FORMATS, "").split(",") if f.strip())
        return cls(
            tuple(qualifiers) if qualifiers is not None else None,
            _bound(policies, MAX_BYTES),
            _bound(policies, MAX_PARTS),
            limits,
            formats,
        )

    @property
    def restricts(self) -> bool:
        """Whether anything but sizes is bounded: only then can a bridge's conversion be needed."""
        return self.qualifiers is not None or bool(self.limits) or bool(self.texture_formats)

    def accepts(self, sub_type: str, fmt: str) -> bool:
        """Whether a content of Qualifier SubType ``sub_type`` and Format ``fmt`` is accepted."""
        return self.qualifiers is None or any(s == sub_type and f in (None, fmt) for s, f in self.qualifiers)

    def misfits(self, qualifier: Mapping[str, Any]) -> list[str]:
        """What in a content's Qualifier Attributes exceeds an attribute limit, one sentence each
        (empty: it fits; an Attribute missing or not a number cannot be shown to fit)."""
        sub_type = str(qualifier.get("SubType", ""))
        attributes = qualifier.get("Attributes") or {}
        bounds = dict(self.limits)
        out: list[str] = []
        for key, kind, names, unit in _ATTRIBUTE_LIMITS:
            if kind != sub_type or key not in bounds:
                continue
            for name in names:
                value = str(attributes.get(name, ""))
                if not value.isdigit():
                    out.append(f"{name} not bounded ({key} {bounds[key]})")
                elif int(value) > bounds[key]:
                    out.append(f"{name} {int(value)} {unit} > {bounds[key]} ({key})")
        if sub_type == "Model3D" and self.texture_formats:
            listed = [f for f in str(attributes.get("TextureFormats", "")).split(",") if f]
            extra = sorted(set(listed) - set(self.texture_formats))
            if extra:
                out.append(f"textures {', '.join(extra)} not in {', '.join(self.texture_formats)} ({TEXTURE_FORMATS})")
        return out

    def fits(self, qualifier: Mapping[str, Any]) -> bool:
        """Whether a content of ``qualifier`` is accepted as it is (Qualifier and Attributes)."""
        sub_type, fmt = str(qualifier.get("SubType", "")), str(qualifier.get("Format", ""))
        return self.accepts(sub_type, fmt) and not self.misfits(qualifier)

    def feature(self, sub_type: str, fmt: str) -> mpb.Feature:
        """The manifesto Feature of accepted contents of ``sub_type`` / ``fmt`` with this
        acceptance's limits as its Constraints (FGMV-43 9.5: what a bridge's conversion must fit):
        ``max_triangles``, ``texture_formats``, ``max_texture_px`` (for an Image: the longest
        side), ``max_bytes``, ``max_sample_rate_hz``, ``max_channels``; 0 / empty = no limit."""
        bounds = dict(self.limits)
        side = bounds.get(IMAGE_MAX_PX if sub_type == "Image" else MAX_TEXTURE_PX, 0)
        return mpb.Feature(
            item_type=CONTENT_ITEM_TYPE,
            qualifier=mpb.Qualifier(sub_type=sub_type, format=fmt),
            constraints=mpb.Constraints(
                max_triangles=bounds.get(MAX_TRIANGLES, 0) if sub_type == "Model3D" else 0,
                texture_formats=list(self.texture_formats) if sub_type == "Model3D" else [],
                max_texture_px=side if sub_type in ("Model3D", "Image") else 0,
                max_bytes=self.max_bytes or 0,
                max_sample_rate_hz=bounds.get(SOUND_MAX_RATE, 0) if sub_type == "Sound" else 0,
                max_channels=bounds.get(SOUND_MAX_CHANNELS, 0) if sub_type == "Sound" else 0,
            ),
        )

    def describe(self) -> str:
        """What is accepted, for a refusal's message."""
        if self.qualifiers is None:
            return "any content"
        return ", ".join(f"{s} {f}" if f else s for s, f in self.qualifiers) or "no content"

    def require(
        self, qualifier: Mapping[str, Any], refs: Sequence[PartRef], *, where: str, no_bridge: str = ""
    ) -> None:
        """Refuse a content of ``qualifier`` and parts ``refs`` that ``where`` does not accept
        (``CONTENT_NOT_ACCEPTED``, ``CONSTRAINTS_NOT_MET``, ``CONTENT_TOO_LARGE``: see the module
        docstring). ``no_bridge``: why no bridge converts it, added to the message."""
        sub_type, fmt = str(qualifier.get("SubType", "")), str(qualifier.get("Format", ""))
        why = f"; {no_bridge}" if no_bridge else ""
        if not self.accepts(sub_type, fmt):
            raise FailedPrecondition(
                f"{where} does not accept {sub_type} {fmt} contents (it accepts {self.describe()}){why}",
                reason=NOT_ACCEPTED,
                metadata={"qualifier": f"{sub_type} {fmt}", "accepted": self.describe()[:500]},
            )
        misfits = self.misfits(qualifier)
        if misfits:
            raise FailedPrecondition(
                f"{where} does not accept this {sub_type} content: {'; '.join(misfits)}{why}"[:1000],
                reason=CONSTRAINTS_NOT_MET,
                metadata={"qualifier": f"{sub_type} {fmt}"},
            )
        bounds: dict[str, int] = {}
        if self.max_bytes is not None:
            bounds["max_bytes"] = self.max_bytes
        if self.max_parts is not None:
            bounds["max_parts"] = self.max_parts
        check_limits(refs, **bounds)
