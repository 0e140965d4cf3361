"""What a conversion kept, dropped and changed (FGMV-43 9.1 step 4 AVCF: conversion report)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ConversionReport:
    """Report of one conversion.

    Attributes:
        source_format: "VRM 0.x", "VRM 1.0" or "glTF 2.0".
        bytes_in, bytes_out: sizes of the input and output GLB in bytes.
        triangles_in, triangles_out: triangles drawn (each mesh once per node instancing it).
        textures: per image ``{"name", "from": "image/png 1024x1024", "to": "image/jpeg 512x512"}``.
        kept: features carried over, e.g. "skin: 68 joints", "VRM meta in asset.extras (vrm_meta)".
        dropped: features plain glTF cannot carry or the target forced out.
        facing_fixed: True if a VRM 0.x scene was turned to face +Z.
        validator_errors, validator_warnings: Khronos validator counts for the OUTPUT.
    """

    source_format: str
    bytes_in: int
    bytes_out: int = 0
    triangles_in: int = 0
    triangles_out: int = 0
    textures: list[dict[str, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    facing_fixed: bool = False
    validator_errors: int = 0
    validator_warnings: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return asdict(self)
