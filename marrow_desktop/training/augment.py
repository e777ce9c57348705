"""Batch augmentation for single-cell images, on whatever device the batch lives on."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def normalize_tensor(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """N x 3 x H x W floats in [0, 1] -> (x - mean) / std; same maths as core.preprocess."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def to_float(batch_uint8: torch.Tensor) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 3 x H x W float32 in [0, 1]."""
    return batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)


def augment(
    x: torch.Tensor,
    out_size: int,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.85, 1.15),
    shift: float = 0.05,
    brightness: float = 0.08,
    contrast: float = 0.15,
    stain: float = 0.08,
) -> torch.Tensor:
    """Random rotation (any angle), flip, scale, shift, brightness/contrast and stain jitter.

    x: N x 3 x H x W floats in [0, 1]; returns N x 3 x out_size x out_size in [0, 1].
    """
    n, device = x.shape[0], x.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.rand(n, *shape, generator=generator, device="cpu").to(device) * (hi - lo) + lo

    if x.shape[-1] != out_size:
        x = F.interpolate(x, size=(out_size, out_size), mode="bilinear", antialias=True,
                          align_corners=False)
    angle = uniform(0.0, 2 * math.pi)
    zoom = uniform(*scale)
    flip = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos * flip, -sin, uniform(-shift, shift)], dim=1),
        torch.stack([sin * flip, cos, uniform(-shift, shift)], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, [n, 3, out_size, out_size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # Stain-colour jitter in optical density (Beer-Lambert) space, per channel.
    od = -torch.log(x.clamp(min=1.0 / 255.0))
    od = od * uniform(1 - stain, 1 + stain, 3).view(n, 3, 1, 1) + uniform(
        -stain / 4, stain / 4, 3).view(n, 3, 1, 1)
    x = torch.exp(-od.clamp(min=0.0))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(1 - contrast, 1 + contrast).view(n, 1, 1, 1) + mean
    x = x + uniform(-brightness, brightness).view(n, 1, 1, 1)
    return x.clamp_(0.0, 1.0)
