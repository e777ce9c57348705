"""The lab-shift check: how unlike the model's training images a cell is, and a case verdict.

A model's *domain statistics* (NAME.domain.npz, hashed in its JSON) summarise the pooled
backbone features of its training images: their mean and the leading principal components
(whitening), the class means and a shrunk shared within-class covariance in that space, how much
of a feature lies outside those components, and a stratified sample of the training features
(for `marrow adapt` to keep the base lab's behaviour). A cell's `domain_score` is its
Mahalanobis distance to the nearest class mean plus its standardised distance from the
components' subspace; `in_domain` is score <= threshold, the threshold being set on images the
reported figures do not use so that ~99% of in-lab cells fall under it.

A case gets the verdict "unlike the training images" when more of its cells are out of range
than the per-image false-alarm rate explains: a one-sided binomial test at ALPHA (see
case_verdict). No Qt, no torch: numpy only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from marrow_desktop.core.errors import ModelFileError

#: Principal components kept (whitened space of the class means and covariance).
COMPONENTS = 64
#: Shrinkage of the within-class covariance towards its average variance.
SHRINKAGE = 0.2
#: Share of in-lab cells meant to fall under the threshold.
IN_RANGE_QUANTILE = 0.99
#: Training features kept per class for adapting the head (float16).
SAMPLE_PER_CLASS = 100
#: Significance of the case verdict: P(this many out-of-range cells | in-lab) below ALPHA.
ALPHA = 1e-3
#: No verdict below this many classified cells.
MIN_CELLS = 20
FORMAT = 1


@dataclass(frozen=True)
class DomainStats:
    """What the check needs of the training images (see the module docstring)."""

    classes: tuple[str, ...]
    mean: np.ndarray  # D
    components: np.ndarray  # D x k, orthonormal columns
    scales: np.ndarray  # k: standard deviation along each component
    class_means: np.ndarray  # K x k, whitened
    precision: np.ndarray  # k x k: inverse of the shrunk within-class covariance (whitened)
    residual_mean: float  # squared distance from the subspace, on the fitted images
    residual_std: float
    threshold: float = math.inf
    false_alarm: float = math.nan  # share of the threshold images above it
    sample: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float16))
    sample_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> int:
        return int(self.mean.shape[0])

    @property
    def calibrated(self) -> bool:
        return math.isfinite(self.threshold)

    def score(self, pooled: np.ndarray) -> np.ndarray:
        """domain_score of each row of N x D pooled features (higher: less like training)."""
        x = np.asarray(pooled, np.float64) - self.mean
        projected = x @ self.components
        z = projected / self.scales
        diffs = z[:, None, :] - self.class_means[None]  # N x K x k
        mahalanobis = np.einsum("nkd,de,nke->nk", diffs, self.precision, diffs).min(axis=1)
        residual = (x * x).sum(axis=1) - (projected * projected).sum(axis=1)
        k = self.components.shape[1]
        return (mahalanobis / k + (residual - self.residual_mean) / self.residual_std
                ).astype(np.float32)

    def in_domain(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) <= self.threshold

    def with_threshold(self, scores: np.ndarray, quantile: float = IN_RANGE_QUANTILE,
                       described: str = "") -> DomainStats:
        """Set the threshold so that `quantile` of these (in-lab, unused) images fall under."""
        scores = np.asarray(scores, np.float64)
        if len(scores) < 20:
            raise ValueError(f"{len(scores)} images are too few to set a threshold")
        threshold = float(np.quantile(scores, quantile, method="higher"))
        rate = float((scores > threshold).mean())
        info = {**self.info, "threshold_images": len(scores),
                "threshold_quantile": quantile}
        if described:
            info["threshold_set_on"] = described
        return replace(self, threshold=threshold, false_alarm=rate, info=info)

    # file ------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays = {
            "format": np.int64(FORMAT), "classes": np.array(self.classes),
            "mean": self.mean.astype(np.float32), "components": self.components.astype(np.float32),
            "scales": self.scales.astype(np.float32),
            "class_means": self.class_means.astype(np.float32),
            "precision": self.precision.astype(np.float32),
            "residual": np.array([self.residual_mean, self.residual_std], np.float64),
            "threshold": np.array([self.threshold, self.false_alarm], np.float64),
            "sample": self.sample.astype(np.float16),
            "sample_labels": self.sample_labels.astype(np.int16),
            "info": np.array(json.dumps(self.info, allow_nan=False)),
        }
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DomainStats:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT:
                    raise ValueError(f"format {int(data['format'])}")
                residual, threshold = data["residual"], data["threshold"]
                stats = cls(
                    classes=tuple(str(c) for c in data["classes"]),
                    mean=data["mean"].astype(np.float64),
                    components=data["components"].astype(np.float64),
                    scales=data["scales"].astype(np.float64),
                    class_means=data["class_means"].astype(np.float64),
                    precision=data["precision"].astype(np.float64),
                    residual_mean=float(residual[0]), residual_std=float(residual[1]),
                    threshold=float(threshold[0]), false_alarm=float(threshold[1]),
                    sample=data["sample"], sample_labels=data["sample_labels"].astype(np.int64),
                    info=json.loads(str(data["info"])))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ModelFileError(f"{path}: not a domain statistics file ({exc})") from exc
        d, k = stats.components.shape
        if stats.mean.shape != (d,) or stats.class_means.shape[1] != k or \
                stats.precision.shape != (k, k) or stats.scales.shape != (k,):
            raise ModelFileError(f"{path}: domain statistics arrays do not fit together")
        return stats


def fit_domain(features: np.ndarray, labels: np.ndarray, classes: Sequence[str],
               components: int = COMPONENTS, shrinkage: float = SHRINKAGE,
               sample_per_class: int = SAMPLE_PER_CLASS, seed: int = 0,
               info: dict[str, Any] | None = None) -> DomainStats:
    """Statistics of N x D pooled training features with their class indices (no threshold)."""
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(x) < 10:
        raise ValueError(f"need N x D features with N labels (N >= 10), got {x.shape}")
    mean = x.mean(axis=0)
    centred = x - mean
    k = min(components, x.shape[1], len(x) - 1)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:k].T  # D x k
    scales = np.maximum(singular[:k] / math.sqrt(len(x) - 1), 1e-6)
    z = (centred @ basis) / scales
    present = sorted(set(y.tolist()))
    class_means = np.zeros((len(classes), k))
    within = np.zeros((k, k))
    for c in present:
        members = z[y == c]
        class_means[c] = members.mean(axis=0)
        dev = members - class_means[c]
        within += dev.T @ dev
    within /= max(1, len(z) - len(present))
    shrunk = (1 - shrinkage) * within + shrinkage * np.trace(within) / k * np.eye(k)
    precision = np.linalg.inv(shrunk)
    for c in set(range(len(classes))) - set(present):  # a class with no image: unreachable
        class_means[c] = np.full(k, 1e6)
    projected = centred @ basis
    residual = (centred * centred).sum(axis=1) - (projected * projected).sum(axis=1)
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:sample_per_class]
                           for c in present]) if sample_per_class else np.zeros(0, np.int64)
    keep.sort()
    return DomainStats(
        classes=tuple(classes), mean=mean, components=basis, scales=scales,
        class_means=class_means, precision=precision,
        residual_mean=float(residual.mean()), residual_std=float(residual.std() + 1e-9),
        sample=x[keep].astype(np.float16), sample_labels=y[keep].astype(np.int16),
        info={"fitted_images": len(x), "components": int(k), "shrinkage": shrinkage,
              "counts": {classes[c]: int((y == c).sum()) for c in present}, **(info or {})})


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Probability that a positive (other-lab) score exceeds a negative one (ties count half)."""
    neg = np.sort(np.asarray(negatives, np.float64))
    pos = np.asarray(positives, np.float64)
    if not len(neg) or not len(pos):
        return math.nan
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(neg) * len(pos)))


def load_model_domain(spec: Any) -> tuple[DomainStats | None, str]:
    """A model's domain statistics, checked against their SHA-256, or None and why not (the
    model still classifies; the check is then unavailable)."""
    if "domain" not in spec.files:
        return None, f"{spec.name} has no domain statistics: the lab-shift check is unavailable"
    try:
        stats = DomainStats.load(spec.weight_file("domain"))
    except ModelFileError as exc:
        return None, f"lab-shift check unavailable: {exc}"
    if stats.classes != tuple(spec.classes):
        return None, (f"lab-shift check unavailable: the domain statistics of {spec.name} are "
                      "for other classes")
    if not stats.calibrated:
        return None, f"lab-shift check unavailable: {spec.name}'s statistics have no threshold"
    return stats, ""


# the case verdict ------------------------------------------------------------------------------
def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    p = min(max(p, 1e-12), 1 - 1e-12)
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
             + i * log_p + (n - i) * log_q for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


@dataclass(frozen=True)
class CaseVerdict:
    """How many of a case's cells are out of range, and whether that is more than chance."""

    out_of_range: int
    scored: int
    false_alarm: float  # the per-image rate of in-lab cells
    p_value: float
    flagged: bool

    @property
    def share(self) -> float:
        return self.out_of_range / self.scored if self.scored else 0.0

    def text(self) -> str:
        if not self.flagged:
            return (f"{self.out_of_range} of {self.scored} cells look unlike the model's "
                    "training images (within what is expected)")
        return (f"These images look unlike the model's training images ({self.out_of_range} "
                f"of {self.scored} cells); the validation accuracy does not apply here")


def case_verdict(in_domain: Sequence[bool], false_alarm: float, alpha: float = ALPHA,
                 min_cells: int = MIN_CELLS) -> CaseVerdict:
    """Flag a case whose out-of-range count is improbable for in-lab cells: one-sided binomial
    test against the per-image false-alarm rate (at least 1%, the quantile the threshold was
    set at), P < alpha, and at least `min_cells` scored cells."""
    flags = [not bool(v) for v in in_domain]
    n, k = len(flags), sum(flags)
    rate = max(float(false_alarm) if math.isfinite(false_alarm) else 0.0,
               1 - IN_RANGE_QUANTILE)
    p = binomial_tail(k, n, rate)
    return CaseVerdict(k, n, rate, p, n >= min_cells and p < alpha)
