"""What one conversion may make the bridge spend (issue 12 item 6): image dimensions checked
from their headers before anything is decoded, and a time limit on the whole conversion
(the validator's own time limit is :class:`~bridge.conversion.validator.GltfValidator`'s).

Images: a PNG, JPEG or WebP header gives the image's size without decoding its pixels (Pillow's
lazy ``Image.open(...).size``). An image larger than :attr:`ConversionLimits.max_image_side_px`
on a side, or holding more than :attr:`ConversionLimits.max_image_pixels`, is refused with
reason ``IMAGE_TOO_LARGE`` (gRPC INVALID_ARGUMENT: the input is what is wrong, and sending it
again will not help; RESOURCE_EXHAUSTED would suggest a retry later). The limit is on the
*input*: an image within it is downscaled to the target's ``max_texture_px`` as before.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bridge.conversion.errors import IMAGE_TOO_LARGE, ConversionRefused

DEFAULT_MAX_IMAGE_SIDE_PX = 8192
DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192  # 64 Mpx
DEFAULT_CONVERSION_TIMEOUT_S = 300.0


@dataclass(frozen=True, kw_only=True)
class ConversionLimits:
    """Limits of one conversion.

    Attributes:
        max_image_side_px: largest width or height of an input image, in pixels.
        max_image_pixels: largest width * height of an input image, in pixels.
        conversion_timeout_s: wall-clock seconds the whole conversion may take (reason
            ``CONVERSION_TIMEOUT``).
    """

    max_image_side_px: int = DEFAULT_MAX_IMAGE_SIDE_PX
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    conversion_timeout_s: float = DEFAULT_CONVERSION_TIMEOUT_S


def _too_large(name: str, detail: str, limits: ConversionLimits) -> ConversionRefused:
    return ConversionRefused(
        f"{name} is {detail}; this bridge converts images of at most {limits.max_image_side_px} px a side "
        f"and {limits.max_image_pixels:,} pixels",
        reason=IMAGE_TOO_LARGE,
        metadata={"max_image_side_px": str(limits.max_image_side_px)},
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels read from an encoded image's header, nothing decoded; None if
    Pillow does not recognise the format (the decoder then refuses it as UNSUPPORTED_INPUT).

    Raises:
        ConversionRefused(IMAGE_TOO_LARGE): Pillow's own decompression-bomb guard refused it.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own limit
            with Image.open(io.BytesIO(data)) as opened:
                return opened.size
    except Image.DecompressionBombError as err:
        message = f"image refused by the decompression-bomb guard: {err}"
        raise ConversionRefused(message, reason=IMAGE_TOO_LARGE) from err
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def check_image(data: bytes, limits: ConversionLimits, *, name: str = "image") -> None:
    """Refuse an image whose header gives a size over ``limits``, before it is decoded.

    Raises:
        ConversionRefused(IMAGE_TOO_LARGE): a side over ``max_image_side_px`` or more than
            ``max_image_pixels`` pixels.
    """
    size = image_size(data)
    if size is None:
        return
    width, height = size
    if max(width, height) > limits.max_image_side_px or width * height > limits.max_image_pixels:
        raise _too_large(name, f"{width}x{height}", limits)
