"""Per-image quality checks of the original project: brightness, stain, colour, sharpness.

Sharpness is the variance of the Laplacian of the grey image resized to a fixed working size,
so images of different sizes are comparable. Thresholds were set on the bundled data sets: sharp
MGG crops score 12-37 at 256 px, the same crops blurred with a Gaussian of sigma 1 score 4-12.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from marrow_desktop.core.defaults import BLUR_THRESHOLD as DEFAULT_BLUR_THRESHOLD

SHARPNESS_SIZE = 256


@dataclass(frozen=True)
class QualityThresholds:
    """Limits behind the verdicts; the GUI lets the user change the blur threshold."""

    too_dark: float = 60.0  # mean grey level below this: too dark
    too_bright: float = 230.0  # mean grey level above this: too bright (washed out / empty)
    min_stain_ratio: float = 0.02  # fraction of purple pixels below this: no MGG stain found
    blur_threshold: float = DEFAULT_BLUR_THRESHOLD  # Laplacian variance at 256 px: blurry
    grayscale_tolerance: float = 2.0  # mean |R-G|, |G-B| below this: grayscale
    blur_rank_fraction: float = 0.30  # a folder's blurriest fraction, as the original ranked


@dataclass(frozen=True)
class QualityMetrics:
    """Measured values and verdicts for one image."""

    brightness: float
    too_dark: bool
    too_bright: bool
    stain_ratio: float
    stain_present: bool
    color_type: str  # "rgb" or "grayscale"
    laplacian_var: float
    blurry: bool
    width: int
    height: int

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not (self.too_dark or self.too_bright or self.blurry or not self.stain_present
                    or self.color_type != "rgb")

    def problems(self) -> list[str]:
        """Human-readable list of failed checks."""
        out = []
        if self.blurry:
            out.append("blurry")
        if self.too_dark:
            out.append("too dark")
        if self.too_bright:
            out.append("too bright")
        if not self.stain_present:
            out.append("no stain")
        if self.color_type != "rgb":
            out.append("grayscale")
        return out

    def at_blur_threshold(self, blur_threshold: float) -> QualityMetrics:
        """These metrics with the blur verdict decided at a user's threshold."""
        blurry = self.laplacian_var < blur_threshold
        return self if blurry == self.blurry else replace(self, blurry=blurry)

    def problems_at(self, blur_threshold: float) -> list[str]:
        """problems() with the blur verdict re-decided at a user's threshold."""
        problems = [p for p in self.problems() if p != "blurry"]
        if self.laplacian_var < blur_threshold:
            problems.insert(0, "blurry")
        return problems

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def brightness(rgb: np.ndarray) -> float:
    """Mean grey level, 0-255."""
    return float(cv2.mean(gray(rgb))[0])


def stain_ratio(rgb: np.ndarray) -> float:
    """Fraction of purple (May-Grünwald-Giemsa) pixels: HSV hue 240-340°, saturated, not black."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    mask = cv2.inRange(hsv, (120, 50, 30), (170, 255, 255))
    return float(np.count_nonzero(mask)) / mask.size


def color_type(rgb: np.ndarray, tolerance: float = 2.0) -> str:
    """'grayscale' when the three channels are (nearly) equal, else 'rgb'."""
    small = rgb[::4, ::4].astype(np.int16)
    spread = max(np.abs(small[..., 0] - small[..., 1]).mean(),
                 np.abs(small[..., 1] - small[..., 2]).mean())
    return "grayscale" if spread < tolerance else "rgb"


def laplacian_variance(rgb: np.ndarray, size: int = SHARPNESS_SIZE) -> float:
    """Variance of the Laplacian of the grey image at a fixed size x size working resolution."""
    return _gray_laplacian_variance(gray(rgb), size)


def _gray_laplacian_variance(g: np.ndarray, size: int = SHARPNESS_SIZE) -> float:
    if g.shape != (size, size):
        shrink = g.shape[0] >= size and g.shape[1] >= size
        flag = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        g = cv2.resize(g, (size, size), interpolation=flag)
    # 3x3 Laplacian of uint8 fits int16 exactly; meanStdDev is one pass in double precision
    _, std = cv2.meanStdDev(cv2.Laplacian(g, cv2.CV_16S))
    return float(std[0, 0]) ** 2


def assess(rgb: np.ndarray, thresholds: QualityThresholds | None = None) -> QualityMetrics:
    """All quality checks for one decoded RGB image."""
    t = thresholds or QualityThresholds()
    g = gray(rgb)
    level = float(cv2.mean(g)[0])
    ratio = stain_ratio(rgb)
    sharpness = _gray_laplacian_variance(g)
    return QualityMetrics(
        brightness=level,
        too_dark=level < t.too_dark,
        too_bright=level > t.too_bright,
        stain_ratio=ratio,
        stain_present=ratio >= t.min_stain_ratio,
        color_type=color_type(rgb, t.grayscale_tolerance),
        laplacian_var=sharpness,
        blurry=sharpness < t.blur_threshold,
        width=int(rgb.shape[1]),
        height=int(rgb.shape[0]),
    )


def blurriest_fraction(values: Sequence[float], fraction: float = 0.30) -> np.ndarray:
    """Boolean mask of the `fraction` of images with the lowest Laplacian variance in a folder."""
    v = np.asarray(values, dtype=np.float64)
    flags = np.zeros(len(v), dtype=bool)
    count = round(len(v) * fraction)
    if count:
        flags[np.argsort(v, kind="stable")[:count]] = True
    return flags


def unsharp_mask(rgb: np.ndarray, amount: float = 1.0, sigma: float = 2.0) -> np.ndarray:
    """Sharpen: image + amount * (image - GaussianBlur(image, sigma)), clipped to uint8."""
    if amount <= 0:
        return rgb
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma)
    return cv2.addWeighted(rgb, 1.0 + amount, blurred, -amount, 0)
