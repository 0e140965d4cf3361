"""The conversion target: what the receiving platform can render (FGMV-43 9.1 step 1 AVCF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmmfed.errors import InvalidInput


@dataclass(frozen=True, kw_only=True)
class ConversionTarget:
    """Limits the converted avatar must fit.

    Attributes:
        max_triangles: total triangle budget of the output (>= 1); a mesh counts once per node
            that instances it (what a renderer draws), once if no node uses it.
        texture_format: "jpeg" or "png" for every texture.
        max_texture_px: longest side of every texture in pixels (>= 1).

    Raises:
        InvalidInput: a limit is out of range.
    """

    max_triangles: int
    texture_format: Literal["jpeg", "png"]
    max_texture_px: int

    def __post_init__(self) -> None:
        if self.max_triangles < 1:
            raise InvalidInput(f"max_triangles must be >= 1, got {self.max_triangles}")
        if self.max_texture_px < 1:
            raise InvalidInput(f"max_texture_px must be >= 1, got {self.max_texture_px}")
        if self.texture_format not in ("jpeg", "png"):
            raise InvalidInput(f"texture_format must be 'jpeg' or 'png', got {self.texture_format!r}")
