"""Quality checks on real MGG images: sharpness, brightness, stain, colour, unsharp mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.quality import (
    QualityThresholds,
    assess,
    blurriest_fraction,
    brightness,
    color_type,
    laplacian_variance,
    stain_ratio,
    unsharp_mask,
)


@pytest.fixture(scope="module")
def images(sample_paths: list[Path]) -> list[np.ndarray]:
    return [load_image(p).rgb for p in sample_paths]


def test_real_images_pass_every_check(images: list[np.ndarray]) -> None:
    for rgb in images:
        q = assess(rgb)
        assert q.ok, q.problems()
        assert (q.width, q.height) == (250, 250)


def test_blurred_real_image_is_flagged_and_sharp_one_is_not(images: list[np.ndarray]) -> None:
    for rgb in images:
        assert not assess(rgb).blurry
        blurred = cv2.GaussianBlur(rgb, (0, 0), 2.0)
        q = assess(blurred)
        assert q.blurry and q.problems() == ["blurry"]
        assert q.laplacian_var < laplacian_variance(rgb) / 2


def test_sharpness_is_comparable_across_sizes(images: list[np.ndarray]) -> None:
    for rgb in images[::4]:
        big = cv2.resize(rgb, (500, 500), interpolation=cv2.INTER_CUBIC)
        small, large = laplacian_variance(rgb), laplacian_variance(big)
        assert abs(large - small) / small < 0.15
        # the plain Laplacian at native size would differ several times over
        raw = [cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
               for x in (rgb, big)]
        assert raw[0] / raw[1] > 3


def test_laplacian_variance_matches_the_textbook_formula(images: list[np.ndarray]) -> None:
    for rgb in images[:5]:
        gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (256, 256),
                          interpolation=cv2.INTER_LINEAR)
        expected = cv2.Laplacian(gray, cv2.CV_64F).var()
        assert laplacian_variance(rgb) == pytest.approx(expected, rel=1e-9)


def test_too_dark_and_too_bright(images: list[np.ndarray]) -> None:
    rgb = images[0]
    dark = (rgb * 0.25).astype(np.uint8)
    bright = cv2.addWeighted(rgb, 0.1, np.full_like(rgb, 255), 0.9, 0)
    q_dark, q_bright = assess(dark), assess(bright)
    assert q_dark.too_dark and not q_dark.too_bright and q_dark.brightness < 60
    assert q_bright.too_bright and not q_bright.too_dark and q_bright.brightness > 230
    assert "too dark" in q_dark.problems() and "too bright" in q_bright.problems()
    assert 60 < brightness(rgb) < 230


def test_grayscale_is_detected(images: list[np.ndarray]) -> None:
    rgb = images[0]
    gray = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert color_type(rgb) == "rgb"
    assert color_type(gray) == "grayscale"
    q = assess(gray)
    assert "grayscale" in q.problems() and not q.stain_present


def test_stain_ratio_of_mgg_image_vs_grey(images: list[np.ndarray]) -> None:
    grey = np.full((250, 250, 3), 128, np.uint8)
    assert stain_ratio(grey) == 0.0
    ratios = [stain_ratio(rgb) for rgb in images]
    assert min(ratios) > 0.1  # purple nuclei and cytoplasm of a May-Grünwald-Giemsa stain
    assert not assess(grey).stain_present


def test_unsharp_mask_increases_laplacian_variance(images: list[np.ndarray]) -> None:
    for rgb in images[::3]:
        sharpened = unsharp_mask(rgb, amount=1.0, sigma=2.0)
        assert sharpened.dtype == np.uint8 and sharpened.shape == rgb.shape
        assert laplacian_variance(sharpened) > 2 * laplacian_variance(rgb)
    assert unsharp_mask(images[0], amount=0) is images[0]


def test_thresholds_are_configurable(images: list[np.ndarray]) -> None:
    rgb = images[0]
    value = laplacian_variance(rgb)
    assert assess(rgb, QualityThresholds(blur_threshold=value + 1)).blurry
    assert not assess(rgb, QualityThresholds(blur_threshold=value - 1)).blurry


def test_blurriest_fraction_ranks_like_the_original() -> None:
    values = [5.0, 30.0, 12.0, 8.0, 25.0, 40.0, 3.0, 18.0, 22.0, 15.0]
    flags = blurriest_fraction(values, 0.30)
    assert flags.sum() == 3
    assert sorted(np.asarray(values)[flags]) == [3.0, 5.0, 8.0]
    assert not blurriest_fraction([], 0.3).any()
    assert blurriest_fraction([1.0], 0.3).sum() == 0


def test_tiny_image_is_assessed() -> None:
    q = assess(np.full((1, 1, 3), 120, np.uint8))
    assert q.blurry and q.width == 1 and q.height == 1
