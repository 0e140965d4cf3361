"""The Qualifier Formats mmmfed knows (MMM-TEC ItemQualifier ``Format``): their media types and the
check a file of each format must pass.

A name not in :data:`FORMATS` is refused wherever a node is told to produce, accept or convert it
(``UNKNOWN_FORMAT``: a manifesto feature at start-up, a Conversion Service pair, an Asset's
declared format), and bytes registered under a format must be a file of that format. The checks
read only; they raise :class:`~mmmfed.errors.InvalidInput`:

* ``glTF/2.0-binary``, ``VRM/0.x``, ``VRM/1.0``: a GLB (glTF 2.0 section 4.4 "GLB File Format
  Specification") that :func:`mmmfed.glb.inspect_glb` reads whole (``GLB_MALFORMED`` /
  ``GLB_TRUNCATED``), of the declared flavour: the root extension ``VRM`` for VRM 0.x,
  ``VRMC_vrm`` for VRM 1.0, neither for plain glTF (``ASSET_FORMAT_MISMATCH`` otherwise).
* ``USDZ/1.0``: a zip archive as the USDZ specification (OpenUSD, "Usdz File Format
  Specification") lays it out: entries stored uncompressed and unencrypted, each one's data
  64-byte aligned, the first entry a USD layer (``.usda``, ``.usdc`` or ``.usd``) whose content
  is USD text (``#usda``) or crate (``PXR-USDC``) (``USDZ_MALFORMED`` otherwise).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mmmfed.errors import InvalidInput
from mmmfed.glb import inspect_glb
from mmmfed.items import FORMAT_GLB, FORMAT_VRM_0, FORMAT_VRM_1

FORMAT_USDZ = "USDZ/1.0"
MEDIA_GLB = "model/gltf-binary"  # IANA, glTF 2.0 section 4.4.1 / Appendix A
MEDIA_USDZ = "model/vnd.usdz+zip"  # IANA registration of 2018
# What a caller sends when it does not know the media type: the format's own is recorded instead.
UNSPECIFIED_MEDIA_TYPES = frozenset({"", "application/octet-stream"})
USDZ_ALIGNMENT = 64
_USD_LAYER_MAGIC = {".usda": (b"#usda",), ".usdc": (b"PXR-USDC",), ".usd": (b"#usda", b"PXR-USDC")}
_ZIP_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # as zipfile's structFileHeader: 30 bytes


@dataclass(frozen=True)
class QualifierFormat:
    """One Qualifier Format: its ``name`` (ItemQualifier Format), the media types a DataBinding of
    it may carry (the first is recorded when the caller gives none), its specification, and
    ``check(data)``, which raises InvalidInput when ``data`` is not a file of this format."""

    name: str
    media_types: tuple[str, ...]
    spec: str
    check: Callable[[bytes], None]


def _glb_flavour(expected: str) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        found = inspect_glb(data).format
        if found != expected:
            raise InvalidInput(
                f"it is a {found} GLB; declare its format as {found}",
                reason="ASSET_FORMAT_MISMATCH",
                metadata={"format": expected, "found": found},
            )

    return check


def _usdz_bad(message: str) -> InvalidInput:
    return InvalidInput(message, reason="USDZ_MALFORMED", metadata={"format": FORMAT_USDZ})


def check_usdz(data: bytes) -> None:
    """Raise InvalidInput ``USDZ_MALFORMED`` unless ``data`` is a USDZ package (see the module
    docstring for the rules, from the USDZ specification's "Layout" section)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if not entries:
                raise _usdz_bad("the zip archive is empty")
            for entry in entries:
                _check_usdz_entry(data, entry)
            first = entries[0]
            suffix = "." + first.filename.rsplit(".", 1)[-1].lower() if "." in first.filename else ""
            if suffix not in _USD_LAYER_MAGIC:
                raise _usdz_bad(f"its first entry {first.filename!r} is not a .usda, .usdc or .usd layer")
            head = archive.read(first)[:8]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        raise _usdz_bad(f"not a readable zip archive ({err})") from err
    if not head.startswith(_USD_LAYER_MAGIC[suffix]):
        raise _usdz_bad(f"its first entry {first.filename!r} is neither USD text (#usda) nor a USD crate (PXR-USDC)")


def _check_usdz_entry(data: bytes, entry: zipfile.ZipInfo) -> None:
    if entry.compress_type != zipfile.ZIP_STORED:
        raise _usdz_bad(f"entry {entry.filename!r} is compressed; USDZ entries are stored uncompressed")
    if entry.flag_bits & 0x1:
        raise _usdz_bad(f"entry {entry.filename!r} is encrypted")
    header = data[entry.header_offset : entry.header_offset + _ZIP_LOCAL_HEADER.size]
    if len(header) < _ZIP_LOCAL_HEADER.size:
        raise _usdz_bad(f"entry {entry.filename!r} has no local header")
    fields = _ZIP_LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    start = entry.header_offset + _ZIP_LOCAL_HEADER.size + name_len + extra_len
    if start % USDZ_ALIGNMENT:
        raise _usdz_bad(f"entry {entry.filename!r} starts at byte {start}, not on a {USDZ_ALIGNMENT}-byte boundary")


FORMATS: Mapping[str, QualifierFormat] = MappingProxyType(
    {
        f.name: f
        for f in (
            QualifierFormat(FORMAT_GLB, (MEDIA_GLB,), "glTF 2.0, section 4.4 (GLB)", _glb_flavour(FORMAT_GLB)),
            QualifierFormat(
                FORMAT_VRM_0,
                (MEDIA_GLB,),
                "VRM 0.x (vrm-c/vrm-specification, specification/0.0)",
                _glb_flavour(FORMAT_VRM_0),
            ),
            QualifierFormat(
                FORMAT_VRM_1,
                (MEDIA_GLB,),
                "VRM 1.0 (vrm-c/vrm-specification, VRMC_vrm-1.0)",
                _glb_flavour(FORMAT_VRM_1),
            ),
            QualifierFormat(FORMAT_USDZ, (MEDIA_USDZ,), "OpenUSD Usdz File Format Specification", check_usdz),
        )
    }
)


def lookup(name: str, *, field: str = "format") -> QualifierFormat:
    """The registered format ``name``; InvalidInput ``UNKNOWN_FORMAT`` naming ``field`` (where the
    name came from, e.g. ``manifesto.accepts[2].format``) and the formats there are."""
    known = FORMATS.get(name)
    if known is None:
        raise InvalidInput(
            f"{field} {name!r} is not a Qualifier Format mmmfed knows; use one of {', '.join(sorted(FORMATS))}",
            reason="UNKNOWN_FORMAT",
            metadata={"field": field, "format": name[:256]},
        )
    return known


def check_data(name: str, data: bytes, *, media_type: str = "") -> str:
    """Check that ``data`` is a file of format ``name`` declared with ``media_type``; return the
    media type to record (``media_type``, or the format's own when it is empty or
    ``application/octet-stream``).

    Raises InvalidInput: ``UNKNOWN_FORMAT``; ``ASSET_MEDIA_TYPE_MISMATCH`` (a media type the
    format does not have); the format's check (``GLB_MALFORMED``, ``GLB_TRUNCATED``,
    ``ASSET_FORMAT_MISMATCH``, ``USDZ_MALFORMED``), its message prefixed with the format."""
    fmt = lookup(name)
    if media_type not in UNSPECIFIED_MEDIA_TYPES and media_type not in fmt.media_types:
        raise InvalidInput(
            f"media type {media_type[:128]!r} is not one of {name}'s ({', '.join(fmt.media_types)})",
            reason="ASSET_MEDIA_TYPE_MISMATCH",
            metadata={"format": name},
        )
    try:
        fmt.check(data)
    except InvalidInput as err:
        raise InvalidInput(
            f"data is not a valid {name} file: {err.message}",
            reason=err.reason,
            metadata={**err.metadata, "format": name},
        ) from err
    return fmt.media_types[0] if media_type in UNSPECIFIED_MEDIA_TYPES else media_type
