"""Awkward image files made from a real sample, as a clinic's folders contain them."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def huge_png_header(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header claiming width x height RGB pixels, followed by a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def huge_jpeg_header(real_jpeg: bytes, size: int = 30000) -> bytes:
    """A real JPEG whose frame header (SOF0/SOF2) is patched to claim size x size pixels."""
    data = bytearray(real_jpeg)
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", size, size)
            return bytes(data)
        i += 2 + length
    raise ValueError("no frame header found")


def rgba_png(rgb: np.ndarray, transparent_rows: int = 0) -> bytes:
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:transparent_rows] = 0
    return encode(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG")


def png16(rgb: np.ndarray) -> bytes:
    """A 16-bit grey PNG whose values are the 8-bit grey levels times 257."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    return encode(Image.fromarray(gray), "PNG")


def rgb48_png(rgb: np.ndarray) -> bytes:
    """A 48-bit (16 bits per channel) RGB PNG."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    assert ok
    return data.tobytes()


def exif_rotated_jpeg(rgb: np.ndarray, orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif.tobytes())


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
