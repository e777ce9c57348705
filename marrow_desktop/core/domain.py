"""The lab-shift check: how unlike the model's training images a cell is, and a case verdict.

A model's *domain statistics* (NAME.domain.npz, hashed in its JSON) describe each laboratory
the model knows (its training lab; an adapted model adds the labs it was adapted to):

- features: the pooled backbone features' mean and leading principal components (whitening),
  the class means and a shrunk shared within-class covariance in that space, and how far
  features usually lie from that subspace;
- colour: the mean and covariance of each image's mean RGB (stain and scanner colour).

A cell's score for a lab is its feature distance (Mahalanobis to the nearest class mean, plus
the standardised distance from the subspace) and its colour distance, each divided by its 99th
percentile on the lab's own images, added. Its `domain_score` is the smallest of these over the
labs, divided by the threshold: a score above 1 is out of range (`in_domain` false). The
threshold is set on images the reported figures do not use, so that ~99% of in-lab cells fall
under it. Measured choices (v1 model, matek7 validation vs the peripheral-blood lab): colour
alone separates the two labs with per-image AUROC 0.995, features alone 0.89-0.93.

An adapted model (core.adapt) routes each cell to the lab it is closest to and uses that lab's
head; the statistics also keep a stratified sample of the base training features so that a head
can be refitted without the training images. A case gets the verdict "unlike the training
images" when more of its cells are out of range than the per-image false-alarm rate explains
(one-sided binomial test, see case_verdict). numpy only: no Qt, no torch.
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

#: Principal components kept for the feature distance (whitened space).
COMPONENTS = 32
#: Shrinkage of the within-class covariance towards its average variance.
SHRINKAGE = 0.2
#: Share of in-lab cells meant to fall under the threshold.
IN_RANGE_QUANTILE = 0.99
#: Training features kept per class for adapting a head (float16).
SAMPLE_PER_CLASS = 100
#: Significance of the case verdict: P(this many out-of-range cells | in-lab) below ALPHA.
ALPHA = 1e-3
#: No verdict below this many classified cells.
MIN_CELLS = 20
FORMAT = 2


def in_range(domain_score: float) -> bool:
    """in_domain: the score is within the threshold (scores are in units of it)."""
    return bool(domain_score <= 1.0)


def colour_features(images: Sequence[np.ndarray]) -> np.ndarray:
    """N x 3: each image's mean R, G, B (0-255)."""
    return np.array([np.asarray(im, np.float32).reshape(-1, 3).mean(axis=0) for im in images],
                    np.float64).reshape(len(images), 3)


def _mahalanobis(diff: np.ndarray, precision: np.ndarray) -> np.ndarray:
    return np.einsum("...i,ij,...j->...", diff, precision, diff)


@dataclass(frozen=True)
class LabStats:
    """One laboratory's feature and colour statistics (see the module docstring)."""

    name: str
    mean: np.ndarray  # D
    components: np.ndarray  # D x k, orthonormal columns
    scales: np.ndarray  # k: standard deviation along each component
    class_means: np.ndarray  # K x k, whitened (unreachable classes far away)
    precision: np.ndarray  # k x k: inverse shrunk within-class covariance, whitened space
    residual: tuple[float, float]  # mean and std of the squared distance from the subspace
    colour_mean: np.ndarray  # 3
    colour_precision: np.ndarray  # 3 x 3
    norms: tuple[float, float]  # 99th percentiles of the feature and colour distances
    shift: np.ndarray  # D: features of this lab are aligned to the base lab as
    scale: np.ndarray  # D: (f - shift) * scale + base mean (identity for the base lab)
    images: int = 0

    def feature_distance(self, pooled: np.ndarray) -> np.ndarray:
        x = np.asarray(pooled, np.float64) - self.mean
        projected = x @ self.components
        z = projected / self.scales
        diffs = z[:, None, :] - self.class_means[None]
        nearest = _mahalanobis(diffs, self.precision).min(axis=1)
        outside = (x * x).sum(axis=1) - (projected * projected).sum(axis=1)
        k = self.components.shape[1]
        return nearest / k + (outside - self.residual[0]) / self.residual[1]

    def colour_distance(self, colours: np.ndarray) -> np.ndarray:
        return _mahalanobis(np.asarray(colours, np.float64) - self.colour_mean,
                            self.colour_precision)

    def score(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """Feature plus colour distance, each in units of its 99th percentile on the lab."""
        return (self.feature_distance(pooled) / self.norms[0]
                + self.colour_distance(colours) / self.norms[1])


def fit_lab(name: str, features: np.ndarray, labels: np.ndarray, colours: np.ndarray,
            classes: Sequence[str], components: int = COMPONENTS,
            shrinkage: float = SHRINKAGE) -> LabStats:
    """Statistics of one lab's N x D pooled features, class indices and N x 3 colours."""
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.int64)
    c = np.asarray(colours, np.float64)
    if x.ndim != 2 or len(x) != len(y) or len(c) != len(x) or len(x) < 10:
        raise ValueError(f"need N x D features, N labels and N colours (N >= 10), got {x.shape}")
    mean = x.mean(axis=0)
    centred = x - mean
    k = max(1, min(components, x.shape[1], len(x) // 4))
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:k].T
    scales = np.maximum(singular[:k] / math.sqrt(max(1, len(x) - 1)), 1e-6)
    z = (centred @ basis) / scales
    present = sorted(set(y.tolist()))
    class_means = np.full((len(classes), k), 1e6)
    within = np.zeros((k, k))
    for cls in present:
        members = z[y == cls]
        class_means[cls] = members.mean(axis=0)
        dev = members - class_means[cls]
        within += dev.T @ dev
    within /= max(1, len(z) - len(present))
    shrunk = (1 - shrinkage) * within + shrinkage * np.trace(within) / k * np.eye(k)
    projected = centred @ basis
    outside = (centred * centred).sum(axis=1) - (projected * projected).sum(axis=1)
    colour_cov = np.cov(c.T) + np.eye(3) * 1e-3
    lab = LabStats(
        name=name, mean=mean, components=basis, scales=scales, class_means=class_means,
        precision=np.linalg.inv(shrunk),
        residual=(float(outside.mean()), float(outside.std() + 1e-9)),
        colour_mean=c.mean(axis=0), colour_precision=np.linalg.inv(colour_cov), norms=(1.0, 1.0),
        shift=np.zeros_like(mean), scale=np.ones_like(mean), images=len(x))
    norms = (float(np.quantile(lab.feature_distance(x), 0.99)),
             float(np.quantile(lab.colour_distance(c), 0.99)))
    return replace(lab, norms=(max(norms[0], 1e-6), max(norms[1], 1e-6)))


@dataclass(frozen=True)
class DomainStats:
    """The labs a model knows, the threshold, and a sample of base training features."""

    classes: tuple[str, ...]
    labs: tuple[LabStats, ...]
    threshold: float = math.inf
    false_alarm: float = math.nan  # share of the threshold images above it
    sample: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float16))
    sample_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sample_colours: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> int:
        return int(self.labs[0].mean.shape[0])

    @property
    def calibrated(self) -> bool:
        return math.isfinite(self.threshold)

    def lab_scores(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """N x L: each cell's raw score for each lab."""
        return np.stack([lab.score(pooled, colours) for lab in self.labs], axis=1)

    def route(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """The index of the lab each cell is closest to."""
        return self.lab_scores(pooled, colours).argmin(axis=1)

    def raw_score(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        return self.lab_scores(pooled, colours).min(axis=1)

    def score(self, pooled: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """domain_score: the nearest lab's score over the threshold (above 1: out of range)."""
        return (self.raw_score(pooled, colours) / self.threshold).astype(np.float32)

    def with_threshold(self, raw_scores: np.ndarray, quantile: float = IN_RANGE_QUANTILE,
                       described: str = "") -> DomainStats:
        """Set the threshold so that `quantile` of these in-lab raw scores fall under it (on
        images the reported figures do not use)."""
        scores = np.asarray(raw_scores, np.float64)
        if len(scores) < 20:
            raise ValueError(f"{len(scores)} images are too few to set a threshold")
        threshold = float(np.quantile(scores, quantile, method="higher"))
        info = {**self.info, "threshold_images": len(scores), "threshold_quantile": quantile}
        if described:
            info["threshold_set_on"] = described
        return replace(self, threshold=threshold,
                       false_alarm=float((scores > threshold).mean()), info=info)

    # file ------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT), "classes": np.array(self.classes),
            "threshold": np.array([self.threshold, self.false_alarm], np.float64),
            "sample": self.sample.astype(np.float16),
            "sample_labels": self.sample_labels.astype(np.int16),
            "sample_colours": self.sample_colours.astype(np.float32),
            "info": np.array(json.dumps(self.info, allow_nan=False)),
            "labs": np.array([lab.name for lab in self.labs]),
        }
        for i, lab in enumerate(self.labs):
            for key in ("mean", "components", "scales", "class_means", "precision",
                        "colour_mean", "colour_precision", "shift", "scale"):
                arrays[f"lab{i}_{key}"] = np.asarray(getattr(lab, key), np.float32)
            arrays[f"lab{i}_numbers"] = np.array([*lab.residual, *lab.norms, lab.images],
                                                 np.float64)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> DomainStats:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT:
                    raise ValueError(f"format {int(data['format'])}")
                labs = []
                for i, name in enumerate(str(n) for n in data["labs"]):
                    get = {key: data[f"lab{i}_{key}"].astype(np.float64) for key in (
                        "mean", "components", "scales", "class_means", "precision",
                        "colour_mean", "colour_precision", "shift", "scale")}
                    numbers = data[f"lab{i}_numbers"]
                    labs.append(LabStats(name=name, residual=(float(numbers[0]),
                                                              float(numbers[1])),
                                         norms=(float(numbers[2]), float(numbers[3])),
                                         images=int(numbers[4]), **get))
                stats = cls(classes=tuple(str(c) for c in data["classes"]), labs=tuple(labs),
                            threshold=float(data["threshold"][0]),
                            false_alarm=float(data["threshold"][1]),
                            sample=data["sample"],
                            sample_labels=data["sample_labels"].astype(np.int64),
                            sample_colours=data["sample_colours"],
                            info=json.loads(str(data["info"])))
        except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise ModelFileError(f"{path}: not a domain statistics file ({exc})") from exc
        for lab in stats.labs:
            d, k = lab.components.shape
            if (lab.mean.shape != (d,) or lab.class_means.shape != (len(stats.classes), k)
                    or lab.precision.shape != (k, k) or lab.colour_precision.shape != (3, 3)):
                raise ModelFileError(f"{path}: domain statistics arrays do not fit together")
        if not stats.labs:
            raise ModelFileError(f"{path}: domain statistics without a lab")
        return stats


def fit_domain(features: np.ndarray, labels: np.ndarray, colours: np.ndarray,
               classes: Sequence[str], name: str = "training", seed: int = 0,
               sample_per_class: int = SAMPLE_PER_CLASS,
               info: dict[str, Any] | None = None) -> DomainStats:
    """Domain statistics of a model's training images (one lab; no threshold yet)."""
    y = np.asarray(labels, np.int64)
    lab = fit_lab(name, features, y, colours, classes)
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:sample_per_class]
                                   for c in sorted(set(y.tolist()))]))
    return DomainStats(
        classes=tuple(classes), labs=(lab,),
        sample=np.asarray(features, np.float32)[keep].astype(np.float16),
        sample_labels=y[keep], sample_colours=np.asarray(colours, np.float32)[keep],
        info={"fitted_images": len(y), "components": int(lab.components.shape[1]),
              "shrinkage": SHRINKAGE,
              "counts": {classes[c]: int((y == c).sum()) for c in sorted(set(y.tolist()))},
              **(info or {})})


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
    false_alarm: float  # the per-image rate tested against
    p_value: float
    flagged: bool

    @property
    def share(self) -> float:
        return self.out_of_range / self.scored if self.scored else 0.0

    def text(self) -> str:
        if not self.flagged:
            return (f"{self.out_of_range} of {self.scored} cells are unlike the model's training "
                    "images, within what chance explains")
        return (f"These images look unlike the model's training images ({self.out_of_range} "
                f"of {self.scored} cells); the validation accuracy does not apply here")


def case_verdict(in_domain: Sequence[bool], false_alarm: float, alpha: float = ALPHA,
                 min_cells: int = MIN_CELLS) -> CaseVerdict:
    """Flag a case whose out-of-range count is improbable for in-lab cells: one-sided binomial
    test against the per-image false-alarm rate (at least 1%, the share the threshold leaves
    above it), P < alpha, with at least `min_cells` scored cells."""
    flags = [not bool(v) for v in in_domain]
    n, k = len(flags), sum(flags)
    rate = max(float(false_alarm) if math.isfinite(false_alarm) else 0.0,
               1 - IN_RANGE_QUANTILE)
    p = binomial_tail(k, n, rate)
    return CaseVerdict(k, n, rate, p, n >= min_cells and p < alpha)
