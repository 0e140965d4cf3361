"""A content as one package of content-addressed parts, and a ``.gltf`` read as such a package
(ITU FGMV-43 9.3 step 1, COIR-204).

A multi-file content travels as one package: its root part (the file a reader opens first: the
``.gltf`` JSON) and every part the root names, each with its relative POSIX path in the package,
its media type, its size in bytes and its sha-256 digest (what the content's Item lists, as
RFC 6920 ``ni:`` URIs). A single-file content is a package of one part.

A glTF 2.0 model in its JSON form names its external data by URI reference (glTF 2.0 section
3.2 "URIs"): ``buffers[].uri`` and ``images[].uri``. Here a URI may only name a file inside the
package's folder; ``data:`` URIs are carried inside the root part. Refused with InvalidInput
reason ``CONTENT_URI_OUTSIDE_PACKAGE`` (metadata ``uri``): any other scheme (``file:``,
``http:``, ``https:``...), a network path (``//host/...``), an absolute path (``/etc/...``), a
path that climbs out (``../x``, also percent-encoded or after normalisation), a backslash, and a
path whose file is a symbolic link leading outside the folder.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mmmfed.errors import InvalidInput, TooLarge
from mmmfed.items import sha256_hex
from mmmfed.v22.parts import ni_uri

MEDIA_GLTF = "model/gltf+json"  # IANA, glTF 2.0 Appendix A
MEDIA_GLTF_BUFFER = "application/gltf-buffer"  # IANA, glTF 2.0 Appendix A
MAX_PACKAGE_BYTES = 512 * 1024 * 1024
OUTSIDE = "CONTENT_URI_OUTSIDE_PACKAGE"
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@dataclass(frozen=True)
class ContentPart:
    """One part of a package: ``path`` (relative POSIX path, e.g. ``textures/wood.png``), its
    bytes, media type and sha-256 (hex). Build with :meth:`of`, which computes the digest."""

    path: str
    data: bytes
    media_type: str
    sha256: str

    @classmethod
    def of(cls, path: str, data: bytes, media_type: str) -> ContentPart:
        return cls(path, data, media_type, sha256_hex(data))

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def ni(self) -> str:
        """The part's RFC 6920 name, ``ni:///sha-256;<base64url>?ct=<media type>``."""
        return ni_uri(self.sha256, self.media_type)


@dataclass(frozen=True)
class ContentPackage:
    """A content's parts, the root first (then in the order the root names them, each once)."""

    parts: tuple[ContentPart, ...]

    @property
    def root(self) -> ContentPart:
        return self.parts[0]

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def part(self, path: str) -> ContentPart:
        """The part at ``path``; InvalidInput ``CONTENT_PART_MISSING`` if the package has none."""
        for p in self.parts:
            if p.path == path:
                return p
        raise InvalidInput(f"the package has no part {path!r}", reason="CONTENT_PART_MISSING", metadata={"path": path})


def outside(uri: str, why: str) -> InvalidInput:
    """InvalidInput ``CONTENT_URI_OUTSIDE_PACKAGE`` naming ``uri`` and why it leaves the package."""
    return InvalidInput(
        f"URI {uri[:200]!r} {why}; a .gltf may only name files inside its own folder (or data: URIs)",
        reason=OUTSIDE,
        metadata={"uri": uri[:256]},
    )


def package_path(uri: str) -> str | None:
    """The relative POSIX path inside the package that ``uri`` names, or None for a ``data:`` URI
    (its bytes are in the root part). Raises InvalidInput ``CONTENT_URI_OUTSIDE_PACKAGE`` (see the
    module docstring) or ``GLTF_MALFORMED`` (an empty URI, a query or fragment)."""
    if "\\" in uri:
        raise outside(uri, "has a backslash")
    split = urlsplit(uri)
    if split.scheme:
        if split.scheme.lower() == "data":
            return None
        raise outside(uri, f"has the scheme {split.scheme!r}")
    if split.netloc or uri.startswith("//"):
        raise outside(uri, "names a host")
    if split.query or split.fragment:
        raise InvalidInput(f"URI {uri[:200]!r} has a query or fragment", reason="GLTF_MALFORMED", metadata={"uri": uri})
    path = unquote(split.path)
    if "\\" in path or "\x00" in path:
        raise outside(uri, "has a backslash or NUL once decoded")
    if path.startswith("/"):
        raise outside(uri, "is an absolute path")
    normal = posixpath.normpath(path) if path else ""
    if normal in ("", "."):
        raise InvalidInput(f"URI {uri!r} names no file", reason="GLTF_MALFORMED", metadata={"uri": uri})
    if normal == ".." or normal.startswith("../"):
        raise outside(uri, "climbs out of the package's folder")
    return normal


def external_uris(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(where, uri)`` of every ``buffers[].uri`` and ``images[].uri`` of a glTF JSON document,
    e.g. ``("buffers[0]", "Model.bin")``. Raises InvalidInput ``GLTF_MALFORMED`` for a URI that
    is not a string."""
    for key in ("buffers", "images"):
        entries = doc.get(key) or []
        if not isinstance(entries, list):
            raise InvalidInput(f"glTF {key} must be an array", reason="GLTF_MALFORMED")
        for i, entry in enumerate(entries):
            if isinstance(entry, Mapping) and "uri" in entry:
                uri = entry["uri"]
                if not isinstance(uri, str):
                    raise InvalidInput(f"glTF {key}[{i}].uri must be a string", reason="GLTF_MALFORMED")
                yield f"{key}[{i}]", uri


def parse_gltf_json(data: bytes, *, name: str) -> dict[str, Any]:
    """The glTF JSON object of ``data``; InvalidInput ``GLTF_MALFORMED`` naming ``name``."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInput(f"{name} is not glTF JSON: {err}", reason="GLTF_MALFORMED") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("asset"), Mapping):
        raise InvalidInput(f"{name} is not a glTF document (no asset object)", reason="GLTF_MALFORMED")
    return doc


def media_type_of(where: str, data: bytes) -> str:
    """A part's media type: ``application/gltf-buffer`` for a buffer; for an image, PNG, JPEG or
    WebP from its first bytes (its declared mimeType is for the validator to check), else
    ``application/octet-stream``."""
    if where.startswith("buffers"):
        return MEDIA_GLTF_BUFFER
    for magic, media in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def gltf_package(
    root_path: str, root: bytes, load: Callable[[str, str], bytes], *, max_bytes: int = MAX_PACKAGE_BYTES
) -> ContentPackage:
    """The package of a ``.gltf`` whose bytes are ``root``: the root part, then each file its URIs
    name, read by ``load(path, uri)`` (which raises InvalidInput ``CONTENT_PART_MISSING``).

    Raises InvalidInput ``GLTF_MALFORMED`` / ``CONTENT_URI_OUTSIDE_PACKAGE`` (every URI is
    checked before any part is read), and TooLarge ``CONTENT_TOO_LARGE`` past ``max_bytes``."""
    doc = parse_gltf_json(root, name=root_path)
    named = [(where, uri, package_path(uri)) for where, uri in external_uris(doc)]
    parts = [ContentPart.of(root_path, root, MEDIA_GLTF)]
    seen = {root_path}
    total = len(root)
    for where, uri, path in named:
        if path is None or path in seen:
            continue
        data = load(path, uri)
        total += len(data)
        if total > max_bytes:
            raise TooLarge(f"the package is over {max_bytes:,} bytes", reason="CONTENT_TOO_LARGE")
        parts.append(ContentPart.of(path, data, media_type_of(where, data)))
        seen.add(path)
    return ContentPackage(tuple(parts))


def read_gltf_package(path: Path, *, max_bytes: int = MAX_PACKAGE_BYTES) -> ContentPackage:
    """Read the ``.gltf`` at ``path`` and the files it names in its folder as one package (see
    :func:`gltf_package`). A named file that is missing, not a file, or a link leading outside
    the folder is refused (``CONTENT_PART_MISSING``, ``CONTENT_URI_OUTSIDE_PACKAGE``)."""
    folder = path.parent.resolve()

    def load(rel: str, uri: str) -> bytes:
        target = folder / rel
        if not target.resolve().is_relative_to(folder):
            raise outside(uri, "is a link that leads outside the package's folder")
        if not target.is_file():
            raise InvalidInput(
                f"{path.name} names {uri!r}, but {target} is not a file",
                reason="CONTENT_PART_MISSING",
                metadata={"uri": uri[:256]},
            )
        return target.read_bytes()

    try:
        return gltf_package(path.name, path.read_bytes(), load, max_bytes=max_bytes)
    except InvalidInput as err:  # name the file as well as the URI
        raise InvalidInput(
            f"{path}: {err.message}", reason=err.reason, metadata={**err.metadata, "file": str(path)}
        ) from err
