"""The one preprocessing path: shape, dtype, normalisation values, resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.preprocess import normalize, preprocess, resize_to_input
from marrow_desktop.core.taxonomy import SHIPPED_CLASSES

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _spec(size: int = 128, interpolation: str = "area") -> ModelSpec:
    return ModelSpec(name="t", architecture="rexnet_150", classes=SHIPPED_CLASSES,
                     input_size=size, mean=MEAN, std=STD, interpolation=interpolation)


def test_batch_shape_and_dtype(sample_paths: list[Path]) -> None:
    images = [load_image(p).rgb for p in sample_paths[:3]]
    out = preprocess(images, _spec(128))
    assert out.shape == (3, 3, 128, 128) and out.dtype == np.float32
    assert out.flags.c_contiguous
    assert -2.2 < out.min() < out.max() < 2.7  # (0..1 - mean) / std for ImageNet statistics


def test_normalisation_values() -> None:
    white = np.full((1, 4, 4, 3), 255, np.uint8)
    out = normalize(white, MEAN, STD)
    expected = (1 - np.asarray(MEAN)) / np.asarray(STD)
    assert np.allclose(out[0, :, 0, 0], expected, atol=1e-5)
    mean_pixel = np.round(np.asarray(MEAN) * 255).astype(np.uint8)
    out = normalize(np.broadcast_to(mean_pixel, (1, 2, 2, 3)).copy(), MEAN, STD)
    assert np.abs(out).max() < 0.01


def test_channel_order_is_rgb() -> None:
    red = np.zeros((1, 2, 2, 3), np.uint8)
    red[..., 0] = 255
    out = normalize(red, MEAN, STD)
    assert out[0, 0].mean() > 2 and out[0, 1].mean() < -1.9 and out[0, 2].mean() < -1.7


@pytest.mark.parametrize("interpolation", ["area", "bilinear", "bicubic"])
def test_resize_any_size_to_input(interpolation: str) -> None:
    for shape in [(250, 250), (1, 1), (300, 120), (64, 64)]:
        rgb = np.random.default_rng(0).integers(0, 255, (*shape, 3), dtype=np.uint8)
        out = resize_to_input(rgb, 64, interpolation)
        assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    same = np.zeros((64, 64, 3), np.uint8)
    assert resize_to_input(same, 64) is same


def test_area_downscale_averages(sample_paths: list[Path]) -> None:
    rgb = load_image(sample_paths[0]).rgb
    small = resize_to_input(rgb, 125, "area")  # exactly 2x: each pixel is a 2x2 mean
    block = rgb[:2, :2].reshape(-1, 3).mean(axis=0)
    assert np.abs(small[0, 0].astype(float) - block).max() <= 1
