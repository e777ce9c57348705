"""Batch augmentation for single-cell images, on whatever device the batch lives on.

Two presets: `basic` (the first shipped model's: rotation, flip, scale ±15%, small brightness,
contrast and per-channel stain jitter) and `lab` (for other laboratories' scanners and stains:
scale ±20%, stain jitter in a haematoxylin/eosin/DAB optical-density basis, gamma, saturation,
mild blur, and JPEG re-encoding at quality 60-100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: Ruifrok & Johnston's stain vectors (rows: haematoxylin, eosin, DAB), as scikit-image's rgb2hed.
RGB_FROM_HED = torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
HED_FROM_RGB = torch.linalg.inv(RGB_FROM_HED)


@dataclass(frozen=True)
class AugmentSettings:
    """Strength of each random change (0 turns one off)."""

    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.05
    brightness: float = 0.08
    contrast: float = 0.15
    stain: float = 0.08  # per-channel optical-density scale (basic)
    hed: float = 0.0  # HED stain-concentration scale, ± this fraction
    hed_shift: float = 0.0  # HED concentration offset, ± this (optical density units)
    gamma: float = 0.0  # gamma in [1/(1+g), 1+g], log-uniform
    saturation: float = 0.0  # ± this fraction
    hue: float = 0.0  # rotation of the chroma plane (YIQ), ± this many radians
    blur_p: float = 0.0  # share of images blurred
    blur_sigma: float = 1.0  # largest Gaussian sigma, pixels at the output size
    jpeg_p: float = 0.0  # share of images JPEG re-encoded (on the uint8 cache)
    jpeg_quality: tuple[int, int] = (60, 100)


PRESETS: dict[str, AugmentSettings] = {
    "basic": AugmentSettings(),
    "lab": AugmentSettings(scale=(0.8, 1.2), stain=0.0, hed=0.15, hed_shift=0.04, gamma=0.35,
                           saturation=0.25, hue=0.25, brightness=0.08, contrast=0.2, blur_p=0.25,
                           blur_sigma=1.2, jpeg_p=0.5),
}


def normalize_tensor(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """N x 3 x H x W floats in [0, 1] -> (x - mean) / std; same maths as core.preprocess."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def to_float(batch_uint8: torch.Tensor) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 3 x H x W float32 in [0, 1]."""
    return batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)


def jpeg_recode(batch: np.ndarray, settings: AugmentSettings, rng: np.random.Generator
                ) -> np.ndarray:
    """Re-encode a share of N x H x W x 3 uint8 RGB images as JPEG at a random quality."""
    if settings.jpeg_p <= 0:
        return batch
    out = batch.copy()
    lo, hi = settings.jpeg_quality
    for i in np.flatnonzero(rng.random(len(batch)) < settings.jpeg_p):
        quality = int(rng.integers(lo, hi + 1))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(batch[i], cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out[i] = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image with its own sigma (N,), separable, reflect-padded."""
    n, c, h, w = x.shape
    radius = max(1, math.ceil(3 * float(sigma.max())))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(t[None] ** 2) / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, k)
    flat = F.pad(x.reshape(1, n * c, h, w), (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                            [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate each image's hue by its angle (N,) in radians, keeping luma (YIQ)."""
    n = x.shape[0]
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(n, 3, 3, device=x.device, dtype=x.dtype)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    m = _YIQ_TO_RGB.to(x.device) @ rot @ _RGB_TO_YIQ.to(x.device)  # N x 3 x 3
    return torch.einsum("nij,njhw->nihw", m, x).clamp(0.0, 1.0)


def augment(x: torch.Tensor, out_size: int, generator: torch.Generator | None = None,
            settings: AugmentSettings | None = None) -> torch.Tensor:
    """Random geometry and colour changes of a batch.

    x: N x 3 x H x W floats in [0, 1]; returns N x 3 x out_size x out_size in [0, 1].
    """
    s = settings or PRESETS["basic"]
    n, device = x.shape[0], x.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.rand(n, *shape, generator=generator, device="cpu").to(device) * (hi - lo) + lo

    if x.shape[-1] != out_size:
        x = F.interpolate(x, size=(out_size, out_size), mode="bilinear", antialias=True,
                          align_corners=False)
    angle = uniform(0.0, 2 * math.pi)
    zoom = uniform(*s.scale)
    flip = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos * flip, -sin, uniform(-s.shift, s.shift)], dim=1),
        torch.stack([sin * flip, cos, uniform(-s.shift, s.shift)], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, [n, 3, out_size, out_size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    od = -torch.log(x.clamp(min=1.0 / 255.0))  # optical density (Beer-Lambert)
    if s.stain > 0:  # per-channel stain jitter
        od = od * uniform(1 - s.stain, 1 + s.stain, 3).view(n, 3, 1, 1) + uniform(
            -s.stain / 4, s.stain / 4, 3).view(n, 3, 1, 1)
    if s.hed > 0 or s.hed_shift > 0:  # stain-concentration jitter (Tellez et al. 2018)
        to_hed, from_hed = HED_FROM_RGB.to(device), RGB_FROM_HED.to(device)
        hed = torch.einsum("nchw,cd->ndhw", od, to_hed)
        hed = hed * uniform(1 - s.hed, 1 + s.hed, 3).view(n, 3, 1, 1) + uniform(
            -s.hed_shift, s.hed_shift, 3).view(n, 3, 1, 1)
        od = torch.einsum("ndhw,dc->nchw", hed, from_hed)
    x = torch.exp(-od.clamp(min=0.0)).clamp(0.0, 1.0)
    if s.gamma > 0:
        g = torch.exp(uniform(-math.log1p(s.gamma), math.log1p(s.gamma))).view(n, 1, 1, 1)
        x = x.clamp(min=1e-4) ** g
    if s.saturation > 0:
        grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = grey + (x - grey) * uniform(1 - s.saturation, 1 + s.saturation).view(n, 1, 1, 1)
    if s.hue > 0:
        x = _rotate_hue(x, uniform(-s.hue, s.hue))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(1 - s.contrast, 1 + s.contrast).view(n, 1, 1, 1) + mean
    x = x + uniform(-s.brightness, s.brightness).view(n, 1, 1, 1)
    if s.blur_p > 0:
        sigma = uniform(0.3, s.blur_sigma) * (uniform(0, 1) < s.blur_p)
        if bool((sigma > 0).any()):
            blurred = _gaussian_blur(x, sigma.clamp(min=0.05))
            x = torch.where((sigma > 0).view(n, 1, 1, 1), blurred, x)
    return x.clamp_(0.0, 1.0)
