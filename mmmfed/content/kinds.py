"""The content kinds of ITU FGMV-43 7.3 and the check of each file (9.3 step 1, COTF): what a
content is, as its Item's Qualifier says it (MMM-TEC ItemQualifier: SubType, Format, Attributes).

* ``Model3D``: ``.glb``/``.vrm`` (glTF 2.0 binary; Format ``glTF/2.0-binary``, ``VRM/0.x``,
  ``VRM/1.0``) or a ``.gltf`` with its external parts (``glTF/2.0-json``); Attributes Triangles,
  TextureFormats, MaxTexturePx (of the GLB the package packs into).
* ``Image``: PNG, JPEG, WebP, decoded whole by Pillow (``PNG``, ``JPEG``, ``WebP``); Width, Height.
* ``Sound``: WAV, FLAC, Ogg Vorbis/Opus, decoded whole by libsndfile (``WAV``, ``FLAC``,
  ``Ogg/Vorbis``, ``Ogg/Opus``); SampleRate, Channels, DurationMs, Encoding.
* ``Text``: UTF-8 Markdown (``.md``) or plain text (``Markdown``, ``PlainText``); Characters, Lines.

The kind comes from the file's name, the format from its bytes: a ``.png`` holding a JPEG is a
JPEG. Raises InvalidInput: ``CONTENT_KIND_UNKNOWN`` (a name of no kind above),
``CONTENT_MALFORMED`` (bytes that are not a file of that kind, e.g. a truncated PNG, text that is
not UTF-8 or has control characters), ``CONTENT_FORMAT_UNSUPPORTED`` (a readable file of another
format, e.g. a GIF), and for models the ``GLB_*``/``GLTF_*``/``CONTENT_URI_OUTSIDE_PACKAGE``
reasons of :mod:`mmmfed.glb` and :mod:`mmmfed.content.package`; TooLarge ``CONTENT_TOO_LARGE``.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile
from PIL import Image, UnidentifiedImageError

from mmmfed.content.glb_pack import pack_glb
from mmmfed.content.package import ContentPackage, ContentPart, gltf_package, read_gltf_package
from mmmfed.errors import InvalidInput, TooLarge
from mmmfed.glb import inspect_glb

FORMAT_GLTF_JSON = "glTF/2.0-json"
MEDIA_GLB = "model/gltf-binary"
MAX_CONTENT_BYTES = 512 * 1024 * 1024
MAX_IMAGE_SIDE_PX = 16384
_IMAGES = {"PNG": ("PNG", "image/png"), "JPEG": ("JPEG", "image/jpeg"), "WEBP": ("WebP", "image/webp")}
_SOUNDS = {"WAV": ("WAV", "audio/wav"), "FLAC": ("FLAC", "audio/flac"), "OGG": ("Ogg", "audio/ogg")}
_ALLOWED_CONTROLS = frozenset("\t\n\r")


class ContentKind(enum.StrEnum):
    """A content kind of FGMV-43 7.3, as its Item's Qualifier SubType."""

    MODEL = "Model3D"
    IMAGE = "Image"
    SOUND = "Sound"
    TEXT = "Text"


_SUFFIXES = {
    ContentKind.MODEL: (".glb", ".vrm", ".gltf"),
    ContentKind.IMAGE: (".png", ".jpg", ".jpeg", ".webp"),
    ContentKind.SOUND: (".wav", ".flac", ".ogg", ".oga", ".opus"),
    ContentKind.TEXT: (".md", ".markdown", ".txt", ".text"),
}


@dataclass(frozen=True)
class InspectedContent:
    """A checked content: its kind, Qualifier Format and Attributes (strings), and its parts."""

    kind: ContentKind
    format: str
    attributes: Mapping[str, str]
    package: ContentPackage

    def qualifier(self) -> dict[str, Any]:
        """The ItemQualifier of its Item: ``{"SubType", "Format", "Attributes"}``."""
        return {"SubType": self.kind.value, "Format": self.format, "Attributes": dict(self.attributes)}


def kind_of(name: str) -> ContentKind:
    """The kind a file name says (by its suffix); InvalidInput ``CONTENT_KIND_UNKNOWN``."""
    suffix = Path(name).suffix.lower()
    for kind, suffixes in _SUFFIXES.items():
        if suffix in suffixes:
            return kind
    known = ", ".join(s for group in _SUFFIXES.values() for s in group)
    raise InvalidInput(
        f"{name}: no content kind has the suffix {suffix or '(none)'!r}; use one of {known}",
        reason="CONTENT_KIND_UNKNOWN",
        metadata={"file": name},
    )


def _malformed(name: str, why: str) -> InvalidInput:
    return InvalidInput(f"{name}: {why}", reason="CONTENT_MALFORMED", metadata={"file": name})


def _unsupported(name: str, found: str, kind: ContentKind) -> InvalidInput:
    return InvalidInput(
        f"{name} is {found}, which is not a {kind.value} format mmmfed takes",
        reason="CONTENT_FORMAT_UNSUPPORTED",
        metadata={"file": name, "format": found},
    )


def inspect_image(name: str, data: bytes) -> tuple[str, str, dict[str, str]]:
    """(Format, media type, Attributes) of a PNG, JPEG or WebP, decoded whole."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            found, (width, height) = str(image.format), image.size
            if max(width, height) > MAX_IMAGE_SIDE_PX:
                raise TooLarge(
                    f"{name} is {width}x{height} px; at most {MAX_IMAGE_SIDE_PX} a side", reason="CONTENT_TOO_LARGE"
                )
            if found not in _IMAGES:
                raise _unsupported(name, found, ContentKind.IMAGE)
            image.load()  # every pixel: a truncated file fails here, not at a reader
    except Image.DecompressionBombError as err:  # Pillow's own pixel limit, met before ours
        raise TooLarge(f"{name}: {err}", reason="CONTENT_TOO_LARGE") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise _malformed(name, f"not a readable image ({err})") from err
    fmt, media = _IMAGES[found]
    return fmt, media, {"Width": str(width), "Height": str(height)}


def inspect_sound(name: str, data: bytes) -> tuple[str, str, dict[str, str]]:
    """(Format, media type, Attributes) of a WAV, FLAC or Ogg file, decoded whole by libsndfile."""
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            found, encoding, rate, channels = sound.format, sound.subtype, sound.samplerate, sound.channels
            frames = sum(len(block) for block in sound.blocks(blocksize=65536))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise _malformed(name, f"not a readable sound file ({err})") from err
    if found not in _SOUNDS:
        raise _unsupported(name, found, ContentKind.SOUND)
    fmt, media = _SOUNDS[found]
    if found == "OGG":
        fmt = f"Ogg/{encoding.capitalize()}"
    duration_ms = frames * 1000 // rate if rate else 0
    attributes = {"SampleRate": str(rate), "Channels": str(channels), "DurationMs": str(duration_ms)}
    return fmt, media, {**attributes, "Encoding": encoding}


def inspect_text(name: str, data: bytes) -> tuple[str, str, dict[str, str]]:
    """(Format, media type, Attributes) of UTF-8 text: ``Markdown`` for ``.md``/``.markdown``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _malformed(name, f"not UTF-8 text (byte {err.start})") from err
    text = text.removeprefix("\ufeff")
    bad = next((i for i, c in enumerate(text) if (c < " " or c == "\x7f") and c not in _ALLOWED_CONTROLS), None)
    if bad is not None:
        raise _malformed(name, f"control character U+{ord(text[bad]):04X} at character {bad}")
    markdown = Path(name).suffix.lower() in (".md", ".markdown")
    fmt, media = ("Markdown", "text/markdown") if markdown else ("PlainText", "text/plain")
    return fmt, media, {"Characters": str(len(text)), "Lines": str(text.count("\n") + (not text.endswith("\n")))}


def inspect_single(name: str, data: bytes) -> InspectedContent:
    """A one-part content (every kind but a ``.gltf`` package) from its name and bytes."""
    if len(data) > MAX_CONTENT_BYTES:
        raise TooLarge(f"{name} is over {MAX_CONTENT_BYTES:,} bytes", reason="CONTENT_TOO_LARGE")
    kind = kind_of(name)
    if kind is ContentKind.MODEL:
        if Path(name).suffix.lower() == ".gltf":
            raise InvalidInput(f"{name}: a .gltf is read with its parts", reason="GLTF_MALFORMED")
        facts = inspect_glb(data)
        fmt, media, attributes = facts.format, MEDIA_GLB, facts.attributes()
    else:
        inspect = {ContentKind.IMAGE: inspect_image, ContentKind.SOUND: inspect_sound, ContentKind.TEXT: inspect_text}
        fmt, media, attributes = inspect[kind](name, data)
    return InspectedContent(kind, fmt, attributes, ContentPackage((ContentPart.of(Path(name).name, data, media),)))


def inspect_file(path: Path) -> InspectedContent:
    """The content in the file at ``path``: a ``.gltf`` with the parts its URIs name (checked as
    the GLB it packs into), any other kind as one part. Raises as the module docstring says, and
    OSError for a file that cannot be read."""
    if path.suffix.lower() != ".gltf":
        return inspect_single(path.name, path.read_bytes())
    return gltf_content(read_gltf_package(path, max_bytes=MAX_CONTENT_BYTES))


def gltf_content(package: ContentPackage) -> InspectedContent:
    """A ``.gltf`` package as a 3D model, qualified by the GLB it packs into."""
    facts = inspect_glb(pack_glb(package))
    return InspectedContent(ContentKind.MODEL, FORMAT_GLTF_JSON, facts.attributes(), package)


def inspect_parts(parts: Sequence[tuple[str, bytes]]) -> InspectedContent:
    """The content sent as ``(path, bytes)`` parts, the root first: a ``.gltf`` root with exactly
    the files its URIs name (each at the path its URI names), any other kind as one part.

    Raises as the module docstring says, and InvalidInput ``CONTENT_PARTS_MISMATCH`` for no part,
    a part sent twice, a part the ``.gltf`` does not name, or a second part of a one-file kind."""
    if not parts:
        raise InvalidInput("a content has at least one part", reason="CONTENT_PARTS_MISMATCH")
    paths = [path for path, _ in parts]
    if len(set(paths)) != len(paths):
        raise InvalidInput("a part is sent twice", reason="CONTENT_PARTS_MISMATCH")
    root_path, root = parts[0]
    if Path(root_path).suffix.lower() != ".gltf":
        if len(parts) > 1:
            raise InvalidInput(f"{root_path} is a one-file content", reason="CONTENT_PARTS_MISMATCH")
        return inspect_single(root_path, root)
    sent = dict(parts[1:])

    def load(path: str, uri: str) -> bytes:
        if path not in sent:
            raise InvalidInput(
                f"{root_path} names {uri!r}, which was not sent", reason="CONTENT_PART_MISSING", metadata={"uri": uri}
            )
        return sent[path]

    package = gltf_package(root_path, root, load, max_bytes=MAX_CONTENT_BYTES)
    unnamed = sorted(set(sent) - {p.path for p in package.parts})
    if unnamed:
        raise InvalidInput(f"{root_path} does not name {unnamed}", reason="CONTENT_PARTS_MISMATCH")
    return gltf_content(package)
