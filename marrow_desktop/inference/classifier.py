"""The Classifier protocol shared by the ONNX Runtime and PyTorch backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from marrow_desktop.core.domain import DomainStats
from marrow_desktop.core.model_spec import ModelSpec


@dataclass(frozen=True)
class Explanation:
    """Probabilities of one image and the CAM of one target class at the model's input size."""

    probabilities: np.ndarray  # K float32, temperature applied
    class_index: int  # the class the CAM explains
    cam: np.ndarray  # input_size x input_size float32 in [0, 1]


@runtime_checkable
class Classifier(Protocol):
    """What the CLI, batch runner and GUI need from a backend."""

    spec: ModelSpec
    backend: str  # "onnx" or "torch"
    domain: DomainStats | None  # the lab-shift check's statistics (None: unavailable)
    domain_error: str  # why the check is unavailable ('' when it is not)

    @property
    def device_name(self) -> str:
        """Where inference runs, for the status bar and reports."""
        ...

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Decoded RGB uint8 images -> N x K calibrated probabilities (float32)."""
        ...

    def logits(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """N x K logits before the temperature (evaluation, calibration)."""
        ...

    def predict_pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """N x K calibrated probabilities and the N x D pooled backbone features."""
        ...

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        """Probabilities and the Grad-CAM/CAM map for one image (default: the top class)."""
        ...


def top_k(probabilities: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The k most probable (class index, probability) pairs, best first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(int(i), float(probabilities[i])) for i in order]
