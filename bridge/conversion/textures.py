"""Texture re-encoding (Pillow): target format (JPEG or PNG), longest side <= max_texture_px.

FGMV-43 9.1 step 3 AVCF (fit the target's texture limits). JPEG has no alpha: an image whose
alpha channel is not fully opaque loses it, and the caller reports this.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import cast

from PIL import Image, UnidentifiedImageError

from bridge.conversion.errors import IMAGE_TOO_LARGE, UNSUPPORTED_INPUT, ConversionRefused

MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
JPEG_QUALITY = 90


@dataclass(frozen=True)
class ReencodedImage:
    """One re-encoded image: bytes, mime type, sizes in pixels and whether alpha was dropped."""

    data: bytes
    mime_type: str
    size_in: tuple[int, int]
    size_out: tuple[int, int]
    mime_in: str
    alpha_dropped: bool


def _has_alpha(img: Image.Image) -> bool:
    if img.mode not in ("RGBA", "LA", "PA"):
        return False
    low, _ = cast(tuple[int, int], img.getchannel("A").getextrema())  # one band: (min, max)
    return bool(low < 255)


def reencode_image(data: bytes, *, fmt: str, max_px: int) -> ReencodedImage:
    """Decode ``data``, downscale (aspect kept, LANCZOS) so max(width, height) <= ``max_px``,
    encode as ``fmt`` ("jpeg" or "png"). An image already in ``fmt`` that fits is kept as is.
    The input type is detected from the bytes, not from the glTF ``mimeType``.

    Callers check the header's size first (:func:`bridge.conversion.limits.check_image`).

    Raises:
        ConversionRefused(UNSUPPORTED_INPUT): not a PNG or JPEG image Pillow can decode.
        ConversionRefused(IMAGE_TOO_LARGE): Pillow's decompression-bomb guard refused it.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            detected = opened.format
            opened.load()
            img = opened.copy()
    except Image.DecompressionBombError as err:  # callers check sizes first (limits.check_image)
        message = f"image refused by the decompression-bomb guard: {err}"
        raise ConversionRefused(message, reason=IMAGE_TOO_LARGE) from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ConversionRefused(f"image cannot be decoded: {err}", reason=UNSUPPORTED_INPUT) from err
    if detected not in ("PNG", "JPEG"):
        raise ConversionRefused(f"image format {detected} is not PNG or JPEG", reason=UNSUPPORTED_INPUT)
    mime = "image/png" if detected == "PNG" else "image/jpeg"
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # palette transparency: make alpha explicit
    size_in = img.size
    longest = max(size_in)
    if longest <= max_px and mime == MIME_TYPES[fmt]:
        # Already fits: keep the original bytes (no second lossy encode).
        return ReencodedImage(data, mime, size_in, size_in, mime, alpha_dropped=False)
    if longest > max_px:
        ratio = max_px / longest
        size = (max(1, round(size_in[0] * ratio)), max(1, round(size_in[1] * ratio)))
        size = (min(size[0], max_px), min(size[1], max_px))
        if img.mode not in ("RGB", "RGBA", "L", "LA"):
            img = img.convert("RGBA")
        img = img.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    alpha_dropped = False
    if fmt == "jpeg":
        alpha_dropped = _has_alpha(img)
        img = img.convert("L" if img.mode in ("L", "LA", "I;16", "I") else "RGB")
        img.save(out, format="JPEG", quality=JPEG_QUALITY)
    else:
        if img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            img = img.convert("RGBA")
        img.save(out, format="PNG", optimize=True)
    return ReencodedImage(
        data=out.getvalue(),
        mime_type=MIME_TYPES[fmt],
        size_in=size_in,
        size_out=img.size,
        mime_in=mime,
        alpha_dropped=alpha_dropped,
    )
