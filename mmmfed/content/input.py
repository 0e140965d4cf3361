"""A 3D model file as the Conversion Service takes it: GLB bytes, packed from a ``.gltf`` package
when the file is glTF JSON (ITU FGMV-43 9.3, COIR-204/205)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmmfed.content.glb_pack import looks_like_gltf_json, pack_glb
from mmmfed.content.package import ContentPackage, read_gltf_package
from mmmfed.errors import InvalidInput


@dataclass(frozen=True)
class ModelInput:
    """``glb``: the bytes to convert; ``package``: the ``.gltf`` package they were packed from, or
    None for a file that was a GLB (``.glb``, ``.vrm``) already."""

    glb: bytes
    package: ContentPackage | None

    def package_dict(self) -> dict[str, Any]:
        """The package's parts as JSON (``{"root", "parts": [{path, media_type, size, sha256}]}``)."""
        if self.package is None:
            return {}
        return {
            "root": self.package.root.path,
            "parts": [
                {"path": p.path, "media_type": p.media_type, "size": p.size, "sha256": p.sha256}
                for p in self.package.parts
            ],
        }


def read_model(path: Path) -> ModelInput:
    """Read a model file. A ``.gltf`` (by name, or a file that starts like a JSON object) is read
    with its external parts (:func:`~mmmfed.content.package.read_gltf_package`) and packed
    (:func:`~mmmfed.content.glb_pack.pack_glb`); anything else is returned as it is, for the
    Conversion Service to check (``NOT_GLB``...). Raises InvalidInput (``GLTF_MALFORMED``,
    ``CONTENT_URI_OUTSIDE_PACKAGE``, ``CONTENT_PART_MISSING``), TooLarge, OSError."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if path.suffix.lower() != ".gltf" and not looks_like_gltf_json(head):
        return ModelInput(path.read_bytes(), None)
    package = read_gltf_package(path)
    try:
        return ModelInput(pack_glb(package), package)
    except InvalidInput as err:
        raise InvalidInput(
            f"{path}: {err.message}", reason=err.reason, metadata={**err.metadata, "file": str(path)}
        ) from err
