"""Classifier heads per laboratory, over pooled backbone features (adapted models, core.adapt).

ReXNet's head is global-average-pool + linear, so a head refitted to a laboratory's own cells is
a weight matrix and a bias applied to the pooled features both backends already compute. An
adapted model keeps one head per lab it knows (its base lab's own head first) and routes each
cell to the lab whose domain statistics it is closest to (core.domain). Each head is stored
folded: the lab's feature alignment and softmax temperature are already in its weights, so
probabilities are softmax(pooled @ W.T + b). Stored with the labs' statistics in one .npz (no
pickle), which is both the model's `head` (it decides predictions, so it is part of the model's
identity) and its `domain` file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marrow_desktop.core.domain import DomainStats
from marrow_desktop.core.errors import ModelFileError


@dataclass(frozen=True)
class LabHeads:
    """weight L x K x D, bias L x K; `domain` routes cells to labs (same order)."""

    weight: np.ndarray
    bias: np.ndarray
    domain: DomainStats

    def routes(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        if len(self.weight) == 1:
            return np.zeros(len(pooled), np.int64)
        return self.domain.route(pooled, colours)

    def logits(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """N x K logits (temperature folded in), each cell through its lab's head."""
        pooled = np.asarray(pooled, np.float32)
        lab = self.routes(pooled, colours)
        out = np.einsum("nd,nkd->nk", pooled, self.weight[lab]) + self.bias[lab]
        return out.astype(np.float32)

    def weight_for(self, lab: int) -> np.ndarray:
        return self.weight[lab]

    def save(self, path: str | Path) -> Path:
        """The statistics file with the heads added (see DomainStats.save)."""
        self.domain.save(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["head_weight"] = self.weight.astype(np.float32)
        arrays["head_bias"] = self.bias.astype(np.float32)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, classes: int, features: int) -> LabHeads:
        domain = DomainStats.load(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                weight = np.asarray(data["head_weight"], np.float32)
                bias = np.asarray(data["head_bias"], np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"{path}: no classifier heads in this file ({exc})") from exc
        labs = len(domain.labs)
        if weight.shape != (labs, classes, features) or bias.shape != (labs, classes) \
                or not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise ModelFileError(f"{path}: heads of shape {weight.shape} do not fit this model "
                                 f"({labs} labs, {classes} classes, {features} features)")
        return cls(weight, bias, domain)
