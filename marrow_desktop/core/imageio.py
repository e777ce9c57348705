"""Robust image loading: any common microscopy export becomes an 8-bit RGB numpy array."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.text import printable

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
)
#: Largest image accepted (pixels); single-cell crops are far smaller. Guards decompression bombs.
MAX_PIXELS = 40_000_000

# Pillow's own bomb check warns/raises at other limits; ours is checked first and explicitly.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels plus what the file was before conversion."""

    rgb: np.ndarray  # H x W x 3, uint8, C-contiguous
    source_mode: str  # Pillow mode of the file, e.g. "RGB", "L", "I;16", "CMYK"
    source_format: str  # "JPEG", "PNG", ...
    frames: int = 1  # pages of a multi-page TIFF or frames of a GIF: the first is used


def is_image_path(path: str | Path) -> bool:
    """File-type check by extension (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """Read a file (at most `limit` bytes: more is an error), turning OS errors into a
    per-file ImageLoadError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1 if limit is not None else -1)
        if limit is not None and len(data) > limit:
            raise ImageLoadError(f"{printable(str(path))}: file too large (over {limit:,} bytes)")
        return data
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{printable(str(path))}: file not found") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(f"{printable(str(path))}: is a directory") from exc
    except OSError as exc:
        raise ImageLoadError(f"{printable(str(path))}: cannot read file "
                             f"({exc.strerror or exc})") from exc


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Load a file from disk as 8-bit RGB; raises ImageLoadError naming the file and the reason."""
    return decode_image(read_bytes(path), name=str(path), max_pixels=max_pixels)


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Decode image bytes as 8-bit RGB with EXIF orientation applied."""
    if not data:
        raise ImageLoadError(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageLoadError(
                    f"{name}: image too large ({width}x{height} pixels, limit {max_pixels:,})"
                )
            if width < 1 or height < 1:
                raise ImageLoadError(f"{name}: image has no pixels")
            source_mode, source_format = image.mode, image.format or "unknown"
            frames = int(getattr(image, "n_frames", 1) or 1)
            fast = _fast_decode(image, data)
            if fast is not None:
                return LoadedImage(fast, source_mode, source_format)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            rgb = _to_rgb8(image)
    except ImageLoadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{name}: not an image or unsupported format") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{name}: corrupt or truncated image ({exc})") from exc
    return LoadedImage(np.ascontiguousarray(rgb), source_mode, source_format, frames)


_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)


def _fast_decode(image: Image.Image, data: bytes) -> np.ndarray | None:
    """OpenCV decode of plain 8-bit RGB JPEG/PNG files (~3x faster than Pillow, same pixels).

    Only for files Pillow would turn into the same array without conversion: complete (JPEG ends
    with EOI, PNG with IEND), no EXIF rotation, no transparency. Anything else returns None.
    """
    tile = getattr(image, "tile", None)
    if not tile or len(tile) != 1 or "transparency" in image.info:
        return None
    args = tile[0][3]
    if image.format == "JPEG":
        plain = args == ("RGB", "") and data.endswith(b"\xff\xd9") and (
            "exif" not in image.info or image.getexif().get(0x0112, 1) == 1)
    elif image.format == "PNG":
        plain = args == "RGB" and data.endswith(b"IEND\xaeB`\x82") and b"eXIf" not in data
    else:
        plain = False
    if not plain:
        return None
    flags = cv2.IMREAD_IGNORE_ORIENTATION | (_IMREAD_RGB or cv2.IMREAD_COLOR)
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if pixels is None or pixels.shape != (image.height, image.width, 3):
        return None
    if _IMREAD_RGB is None:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(pixels)


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to an H x W x 3 uint8 array."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max(initial=0) > 255 else 255.0
        gray = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)
