"""Image loading: every common mode becomes 8-bit RGB; bad files are per-file errors."""

from __future__ import annotations

import time
import tracemalloc
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.imageio import _to_rgb8, decode_image, is_image_path, load_image
from tests.cli import badfiles


@pytest.fixture(scope="module")
def rgb(sample_paths: list[Path]) -> np.ndarray:
    return load_image(sample_paths[0]).rgb


def _pillow_reference(data: bytes) -> np.ndarray:
    """The Pillow-only path, which the OpenCV fast path must reproduce exactly."""
    image = Image.open(BytesIO(data))
    image.load()
    return _to_rgb8(ImageOps.exif_transpose(image) or image)


def test_real_jpeg_is_rgb8(sample_paths: list[Path]) -> None:
    loaded = load_image(sample_paths[0])
    assert loaded.rgb.shape == (250, 250, 3)
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.flags.c_contiguous
    assert (loaded.source_mode, loaded.source_format) == ("RGB", "JPEG")


def test_fast_decode_matches_pillow_on_real_images(sample_paths: list[Path],
                                                   matek_dir: Path) -> None:
    paths = sample_paths + sorted(matek_dir.glob("*/*_0000[0-4].jpg"))
    for path in paths:
        data = path.read_bytes()
        assert np.array_equal(decode_image(data).rgb, _pillow_reference(data)), path


@pytest.mark.parametrize("options", [
    {"quality": 50, "subsampling": 2}, {"quality": 95, "subsampling": 0},
    {"quality": 80, "progressive": True},
])
def test_fast_decode_matches_pillow_on_jpeg_variants(rgb: np.ndarray, options: dict) -> None:
    data = badfiles.encode(Image.fromarray(rgb), "JPEG", **options)
    assert np.array_equal(decode_image(data).rgb, _pillow_reference(data))


def test_png_rgb_roundtrip_is_exact(rgb: np.ndarray) -> None:
    assert np.array_equal(decode_image(badfiles.encode(Image.fromarray(rgb), "PNG")).rgb, rgb)


def test_rgba_is_composited_on_white(rgb: np.ndarray) -> None:
    out = decode_image(badfiles.rgba_png(rgb, transparent_rows=10)).rgb
    assert out.shape == rgb.shape
    assert (out[:10] == 255).all()  # fully transparent rows: white background
    assert np.array_equal(out[10:], rgb[10:])  # opaque rows: the pixels themselves


def test_palette_with_transparency_and_la(rgb: np.ndarray) -> None:
    pal = Image.fromarray(rgb).convert("P")
    pal.info["transparency"] = 0
    assert decode_image(badfiles.encode(pal, "PNG", transparency=0)).rgb.shape == rgb.shape
    la = Image.fromarray(rgb).convert("LA")
    out = decode_image(badfiles.encode(la, "PNG")).rgb
    assert out.shape == rgb.shape and (out[..., 0] == out[..., 2]).all()


def test_grayscale_jpeg_and_png(rgb: np.ndarray) -> None:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    png = decode_image(badfiles.encode(Image.fromarray(gray), "PNG"))
    assert png.source_mode == "L"
    assert np.array_equal(png.rgb, np.dstack([gray] * 3))
    jpg = decode_image(badfiles.encode(Image.fromarray(gray), "JPEG"))
    assert jpg.rgb.shape == rgb.shape and (jpg.rgb[..., 0] == jpg.rgb[..., 1]).all()


def test_16bit_png_is_scaled_to_8bit(rgb: np.ndarray) -> None:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    loaded = decode_image(badfiles.png16(rgb))
    assert loaded.source_mode.startswith("I")
    assert np.array_equal(loaded.rgb[..., 0], gray)  # v * 257 / 65535 * 255 == v


def test_48bit_png(rgb: np.ndarray) -> None:
    out = decode_image(badfiles.rgb48_png(rgb)).rgb
    assert out.shape == rgb.shape and np.abs(out.astype(int) - rgb).max() <= 1


def test_cmyk_jpeg(rgb: np.ndarray) -> None:
    data = badfiles.encode(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95)
    loaded = decode_image(data)
    assert loaded.source_mode == "CMYK" and loaded.rgb.shape == rgb.shape
    assert np.abs(loaded.rgb.astype(int) - rgb).mean() < 8


@pytest.mark.parametrize("fmt", ["TIFF", "BMP"])
def test_tiff_and_bmp(rgb: np.ndarray, fmt: str) -> None:
    assert np.array_equal(decode_image(badfiles.encode(Image.fromarray(rgb), fmt)).rgb, rgb)


@pytest.mark.parametrize(("orientation", "turns"), [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(rgb: np.ndarray, orientation: int, turns: int) -> None:
    wide = np.ascontiguousarray(rgb[:150])  # 250 wide, 150 high: rotation shows in the shape
    data = badfiles.exif_rotated_jpeg(wide, orientation)
    plain = np.asarray(Image.open(BytesIO(data)).convert("RGB"))  # pixels as stored
    out = decode_image(data).rgb
    assert np.array_equal(out, np.rot90(plain, turns))


def test_one_pixel_image() -> None:
    out = decode_image(badfiles.encode(Image.new("RGB", (1, 1), (200, 100, 150)), "PNG")).rgb
    assert out.shape == (1, 1, 3) and out[0, 0].tolist() == [200, 100, 150]


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_huge_header_fails_fast_without_allocating(sample_paths: list[Path], kind: str) -> None:
    data = (badfiles.huge_png_header() if kind == "png"
            else badfiles.huge_jpeg_header(sample_paths[0].read_bytes()))
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageLoadError, match=r"too large.*30000x30000"):
        decode_image(data, "huge." + kind)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 20_000_000


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty file"),
    (b"hello, this is a text file\n", "not an image"),
])
def test_not_images(data: bytes, message: str) -> None:
    with pytest.raises(ImageLoadError, match=message):
        decode_image(data, "x.jpg")


@pytest.mark.parametrize("fraction", [0.3, 0.7, 0.98])
def test_truncated_jpeg_is_an_error(sample_paths: list[Path], fraction: float) -> None:
    data = sample_paths[0].read_bytes()
    with pytest.raises(ImageLoadError, match=r"cut.jpg: corrupt or truncated"):
        decode_image(data[: int(len(data) * fraction)], "cut.jpg")


def test_truncated_png_is_an_error(rgb: np.ndarray) -> None:
    data = badfiles.encode(Image.fromarray(rgb), "PNG")
    with pytest.raises(ImageLoadError, match=r"corrupt or truncated"):
        decode_image(data[: len(data) // 2], "cut.png")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match=r"missing.jpg: file not found"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ImageLoadError, match=r"folder.jpg: is a directory"):
        load_image(tmp_path / "folder.jpg")


def test_non_ascii_path(tmp_path: Path, sample_paths: list[Path]) -> None:
    path = tmp_path / "Zelle_é_细胞.jpg"
    path.write_bytes(sample_paths[0].read_bytes())
    assert np.array_equal(load_image(path).rgb, load_image(sample_paths[0]).rgb)


def test_is_image_path() -> None:
    assert is_image_path("a/B.JPG") and is_image_path("x.tiff") and is_image_path("y.png")
    assert not is_image_path("notes.txt") and not is_image_path("noext")
