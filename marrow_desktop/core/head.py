"""A linear classifier head over pooled backbone features, kept apart from the network.

ReXNet's head is global-average-pool + linear, so a head refitted to a laboratory's own cells
(core.adapt) is just a weight matrix and a bias applied to the pooled features both backends
already compute: ONNX Runtime outputs the last feature map, PyTorch loads the head into its own
linear layer. Stored as NAME.head.npz (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marrow_desktop.core.errors import ModelFileError


@dataclass(frozen=True)
class LinearHead:
    """logits = pooled @ weight.T + bias."""

    weight: np.ndarray  # K x D float32
    bias: np.ndarray  # K float32

    def logits(self, pooled: np.ndarray) -> np.ndarray:
        return (np.asarray(pooled, np.float32) @ self.weight.T + self.bias).astype(np.float32)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "wb") as handle:
            np.savez(handle, weight=self.weight.astype(np.float32),
                     bias=self.bias.astype(np.float32))
        return path

    @classmethod
    def load(cls, path: str | Path, classes: int | None = None,
             features: int | None = None) -> LinearHead:
        try:
            with np.load(path, allow_pickle=False) as data:
                weight = np.asarray(data["weight"], np.float32)
                bias = np.asarray(data["bias"], np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a classifier head file ({exc})") from exc
        ok = weight.ndim == 2 and bias.shape == (weight.shape[0],)
        ok = ok and (classes is None or weight.shape[0] == classes)
        ok = ok and (features is None or weight.shape[1] == features)
        if not ok or not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise ModelFileError(f"{path}: classifier head of shape {weight.shape} does not fit "
                                 f"this model ({classes} classes, {features} features) or has "
                                 "non-finite values")
        return cls(weight, bias)
