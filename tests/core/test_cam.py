"""CAM maths and overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from marrow_desktop.core.cam import class_activation_map, colorize, normalize_cam, overlay
from marrow_desktop.core.imageio import load_image


def test_cam_is_weighted_feature_sum_relu_normalised() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((8, 4, 4)).astype(np.float32)
    weight = rng.normal(size=(3, 8)).astype(np.float32)
    cam = class_activation_map(features, weight, 1)
    raw = np.maximum(np.tensordot(weight[1], features, axes=(0, 0)), 0)
    expected = (raw - raw.min()) / (raw.max() - raw.min() + 1e-7)
    assert cam.shape == (4, 4) and np.allclose(cam, expected, atol=1e-5)
    assert class_activation_map(features, weight, 1, size=(32, 16)).shape == (16, 32)


def test_normalize_flat_map() -> None:
    assert np.all(normalize_cam(np.zeros((4, 4))) == 0)


def test_overlay_on_real_image(sample_paths: list[Path]) -> None:
    rgb = load_image(sample_paths[0]).rgb
    cam = np.zeros((8, 8), np.float32)
    cam[2:6, 2:6] = 1
    out = overlay(rgb, cam)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    heat = colorize(np.ones((2, 2)))
    assert heat[0, 0, 0] > 100 and heat[0, 0, 2] < 50  # hot = red in RGB
    assert np.array_equal(overlay(rgb, cam, opacity=0.0), rgb)
