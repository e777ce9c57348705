"""`marrow adapt`: fit a model to a laboratory's own reviewed cells, in the clinic runtime.

numpy + the model's backend only (ONNX Runtime needs no torch), seconds on 2 cores. The model's
network is unchanged; the adapted model adds the local lab to its domain statistics and a head
for it, and routes every cell to the lab it is closest to (core.head, core.domain):

- the local lab's pooled features are aligned to the base lab's (per-feature mean and spread of
  the base's stored training sample), then a head is fitted on the base sample plus the local
  cells (local cells weighted up, the base head as the starting point and an L2 anchor). Classes
  with fewer than MIN_LOCAL local cells keep the base head's rows;
- the local head's temperature is fitted on out-of-fold predictions of the local cells;
- cells that look like the base lab keep the base head, so the base lab's behaviour is kept.

Measured on the shipped v1 model (matek7) with the peripheral-blood lab: a linear head refitted
on both labs (no routing) reached 85% on the other lab but cost 2 points on matek7; routing
keeps matek7 at 87.5% (see benchmarks/bench_lab_shift.py for the figures of a run).

Accuracy before and after is cross-validated on the local labels (FOLDS folds), printed and
written to the adapted model's card.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from marrow_desktop.core.domain import DomainStats, LabStats, fit_lab
from marrow_desktop.core.errors import MarrowError, ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.head import LabHeads
from marrow_desktop.core.metrics import fit_temperature, softmax
from marrow_desktop.core.model_spec import BACKBONE_ROLES, ModelSpec
from marrow_desktop.inference.classifier import Classifier
from marrow_desktop.training.dataset import Sample

#: Classes with fewer local cells keep the base head's behaviour.
MIN_LOCAL = 10
FOLDS = 5
#: Weight of the local cells against the base sample, L2 pull towards the base head.
LOCAL_WEIGHT = 3.0
ANCHOR = 1e-3
ITERATIONS = 200
LEARNING_RATE = 0.02


class AdaptError(MarrowError):
    """The labelled cells or the base model cannot be used for adapting."""


@dataclass
class LocalCells:
    """Pooled features, colours and class indices of the lab's labelled cells."""

    features: np.ndarray
    colours: np.ndarray
    labels: np.ndarray
    digest: str
    left_out: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class Adaptation:
    """The adapted model's heads and statistics, and what the card says about them."""

    heads: LabHeads
    counts: dict[str, int]
    kept_base: list[str]  # classes with too few local cells
    accuracy_before: float
    accuracy_after: float
    temperature: float
    seconds: float = 0.0


def _fit_head(x: np.ndarray, y: np.ndarray, w: np.ndarray, start_w: np.ndarray,
              start_b: np.ndarray, frozen: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Weighted multinomial logistic regression from (start_w, start_b), L2 anchored to it,
    full-batch Adam; rows of `frozen` classes stay as they started."""
    x = np.asarray(x, np.float32)
    start_w, start_b = start_w.astype(np.float32), start_b.astype(np.float32)
    weight, bias = start_w.copy(), start_b.copy()
    w = np.asarray(w, np.float32)
    onehot = np.eye(weight.shape[0], dtype=np.float32)[y]
    moments = [np.zeros_like(weight), np.zeros_like(weight), np.zeros_like(bias),
               np.zeros_like(bias)]
    keep = np.zeros(weight.shape[0], bool)
    keep[list(frozen)] = True
    for step in range(1, ITERATIONS + 1):
        p = softmax(x @ weight.T + bias)
        g = (p - onehot) * w[:, None]
        grads = (g.T @ x + ANCHOR * (weight - start_w), g.sum(axis=0))
        for i, (param, grad) in enumerate(zip((weight, bias), grads)):
            m, v = moments[2 * i], moments[2 * i + 1]
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= LEARNING_RATE * (m / (1 - 0.9 ** step)) / (
                np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        weight[keep], bias[keep] = start_w[keep], start_b[keep]
    return weight.astype(np.float64), bias.astype(np.float64)


def _alignment(base: DomainStats, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """shift, scale, target: local features f become (f - shift) * scale + target."""
    sample = base.sample.astype(np.float64)
    return (local.mean(axis=0), (sample.std(axis=0) + 1e-6) / (local.std(axis=0) + 1e-6),
            sample.mean(axis=0))


def _local_head(base: DomainStats, base_w: np.ndarray, base_b: np.ndarray, x: np.ndarray,
                y: np.ndarray, frozen: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """A head for the local lab, folded onto raw pooled features (alignment included)."""
    shift, scale, target = _alignment(base, x)
    aligned = (x - shift) * scale + target
    sample = base.sample.astype(np.float64)
    features = np.vstack([sample, aligned])
    labels = np.concatenate([base.sample_labels, y])
    weights = np.concatenate([np.full(len(sample), 1 / len(sample)),
                              np.full(len(y), LOCAL_WEIGHT / len(y))])
    w, b = _fit_head(features, labels, weights, base_w, base_b, frozen)
    # logits = W((f - shift) * scale + target) + b = (W * scale) f + (b + W(target - shift*scale))
    return w * scale, b + w @ (target - shift * scale)


def _folds(y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Stratified fold index of each cell."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), np.int64)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold[members] = np.arange(len(members)) % k
    return fold


def adapt_heads(base: DomainStats, base_w: np.ndarray, base_b: np.ndarray,
                base_temperature: float, local: LocalCells, classes: Sequence[str],
                lab_name: str) -> Adaptation:
    """Fit the local lab's head and statistics; cross-validate before/after on its labels.

    The matrices are small: one BLAS thread is faster than several (measured 5 s vs 10 s on
    2 busy cores), so threadpoolctl holds BLAS to one thread here."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _adapt_heads(base, base_w, base_b, base_temperature, local, classes, lab_name)


def _adapt_heads(base: DomainStats, base_w: np.ndarray, base_b: np.ndarray,
                 base_temperature: float, local: LocalCells, classes: Sequence[str],
                 lab_name: str) -> Adaptation:
    started = time.perf_counter()
    x, y = local.features.astype(np.float64), local.labels
    counts = Counter(y.tolist())
    kept = sorted(c for c in range(len(classes)) if counts.get(c, 0) < MIN_LOCAL)
    if len(counts) - sum(1 for c in counts if c in kept) < 2:
        raise AdaptError(f"need at least {MIN_LOCAL} cells of two or more classes; have "
                         + ", ".join(f"{classes[c]} {n}" for c, n in sorted(counts.items())))
    before = float(((x @ base_w.T + base_b).argmax(axis=1) == y).mean())
    folds = _folds(y, min(FOLDS, min(counts.values()) if min(counts.values()) >= 2 else 2))
    oof = np.zeros((len(y), len(classes)))
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        w, b = _local_head(base, base_w, base_b, x[train], y[train], kept)
        oof[test] = x[test] @ w.T + b
    after = float((oof.argmax(axis=1) == y).mean())
    temperature = fit_temperature(oof.astype(np.float32), y)
    w, b = _local_head(base, base_w, base_b, x, y, kept)
    small = len(y) < 400
    lab: LabStats = fit_lab(lab_name, x, y, local.colours, classes,
                            components=max(2, min(32, len(y) // 8)),
                            shrinkage=0.5 if small else 0.2)
    shift, scale, target = _alignment(base, x)
    lab = replace(lab, shift=shift, scale=scale)
    del target
    stats = replace(base, labs=(*base.labs, lab),
                    info={**base.info, "labs": [*(la.name for la in base.labs), lab_name]})
    previous_w = np.asarray(base_w, np.float64)[None] / base_temperature
    previous_b = np.asarray(base_b, np.float64)[None] / base_temperature
    heads = LabHeads(np.concatenate([previous_w, (w / temperature)[None]]).astype(np.float32),
                     np.concatenate([previous_b, (b / temperature)[None]]).astype(np.float32),
                     stats)
    return Adaptation(heads, {classes[c]: int(n) for c, n in sorted(counts.items())},
                      [classes[c] for c in kept], before, after, float(temperature),
                      time.perf_counter() - started)


def base_head(classifier: Classifier, local_images: Sequence[np.ndarray],
              ) -> tuple[np.ndarray, np.ndarray]:
    """The base model's own linear head (weight from the graph, bias recovered exactly from
    logits - pooled @ W.T on a few images)."""
    classifier = getattr(classifier, "inner", classifier)  # the GUI's serialized wrapper
    weight = getattr(classifier, "fc_weight", None)
    if weight is None:
        fc = classifier.model.get_classifier()  # type: ignore[attr-defined]
        return (fc.weight.detach().float().cpu().numpy(),
                fc.bias.detach().float().cpu().numpy())
    images = list(local_images[:8])
    logits = classifier.logits(images)
    _, pooled = classifier.predict_pooled(images)
    bias = (logits - pooled @ np.asarray(weight, np.float32).T).mean(axis=0)
    return np.asarray(weight, np.float64), bias.astype(np.float64)


def local_digest(samples: Sequence[Sample], classes: Sequence[str]) -> str:
    """A fingerprint of the labelled cells (class and content), not of their file names."""
    h = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.source):
        content = hashlib.sha256(Path(sample.source).read_bytes()).hexdigest() \
            if sample.data is None else hashlib.sha256(sample.data).hexdigest()
        h.update(f"{classes[sample.label]}\t{content}\n".encode())
    return h.hexdigest()[:16]


def write_adapted(base: ModelSpec, adaptation: Adaptation, out: Path, name: str,
                  local: LocalCells, lab_name: str) -> ModelSpec:
    """The adapted model: NAME.json + NAME.adapted.npz (heads + statistics)."""
    data_file = out.with_name(f"{out.stem}.adapted.npz")
    adaptation.heads.save(data_file)
    sha = sha256_file(data_file)
    backbone = {r: base.sha256[r] for r in BACKBONE_ROLES if r in base.sha256}
    base_entry: dict[str, Any] = dict(base.base) if base.adapted else {
        "name": base.name, "identity": base.identity,
        "files": {r: base.files[r] for r in backbone},
        "sha256": backbone}
    card = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base": base.name, "base_identity": base.identity, "lab": lab_name,
        "local_counts": adaptation.counts, "local_data_digest": local.digest,
        "left_out": local.left_out, "skipped_unreadable": len(local.skipped),
        "kept_base_head": adaptation.kept_base,
        "cross_validated_accuracy": {"before": adaptation.accuracy_before,
                                     "after": adaptation.accuracy_after, "folds": FOLDS},
        "local_temperature": adaptation.temperature,
        "method": "lab-routed heads: local features aligned to the base lab's, head refitted "
                  "on the base training sample + local cells, cells routed to the nearest lab",
        "seconds": round(adaptation.seconds, 2),
    }
    info = {k: v for k, v in base.info.items() if k not in ("domain", "selftest")}
    stats = adaptation.heads.domain
    info["domain"] = {"file": data_file.name, "labs": [lab.name for lab in stats.labs],
                      "false_alarm": stats.false_alarm}
    spec = ModelSpec(
        name=name, architecture=base.architecture, classes=base.classes,
        class_names=base.class_names, input_size=base.input_size, mean=base.mean, std=base.std,
        interpolation=base.interpolation, temperature=1.0, version=f"{base.version}+{lab_name}",
        files={"head": data_file.name, "domain": data_file.name},
        sha256={"head": sha, "domain": sha}, base=base_entry,
        info={**info, "adaptation": card})
    spec.save(out)
    return spec


def check_output(out: Path) -> None:
    if out.exists() or out.with_name(f"{out.stem}.adapted.npz").exists():
        raise AdaptError(f"{out}: already exists; choose another name (nothing was overwritten)")
    if out.suffix != ".json":
        raise AdaptError(f"{out}: the adapted model's metadata must be a .json file")


def read_local(classifier: Classifier, samples: Sequence[Sample], dataset_classes: list[str],
               show_progress: bool = False) -> LocalCells:
    """Pooled features of the labelled cells whose class the model knows."""
    from marrow_desktop.training.domain_stats import pooled_features

    spec = classifier.spec
    known = [s for s in samples if dataset_classes[s.label] in spec.classes]
    if not known:
        raise AdaptError("none of the labelled folders is a class of the model "
                         f"({', '.join(spec.classes)})")
    _, feats, colours, kept, skipped = pooled_features(classifier, known,
                                                       show_progress=show_progress,
                                                       desc="local cells")
    labels = np.array([spec.classes.index(dataset_classes[known[i].label]) for i in kept])
    return LocalCells(feats, colours, labels, local_digest([known[i] for i in kept],
                                                           dataset_classes), skipped=skipped)


def describe(adaptation: Adaptation) -> list[str]:
    lines = [
        "local cells: " + ", ".join(f"{c} {n}" for c, n in adaptation.counts.items()),
        f"cross-validated accuracy on the local cells ({FOLDS} folds): before "
        f"{adaptation.accuracy_before:.1%}, after {adaptation.accuracy_after:.1%}",
    ]
    if adaptation.kept_base:
        lines.append(f"fewer than {MIN_LOCAL} local cells, base behaviour kept: "
                     + ", ".join(adaptation.kept_base))
    return lines


def require_domain(classifier: Classifier) -> DomainStats:
    """The base model's statistics, with the training-feature sample adapting needs."""
    if classifier.spec.adapted:
        raise AdaptError(f"{classifier.spec.name} is itself an adapted model; adapt its base "
                         f"model ({classifier.spec.base.get('name', '?')}) with all the local "
                         "cells instead")
    stats = classifier.domain
    if stats is None:
        raise ModelFileError(f"{classifier.spec.name}: the base model has no usable domain "
                             f"statistics ({classifier.domain_error}); add them with "
                             "`marrow evaluate MODEL --split SPLIT --domain-stats`")
    if not len(stats.sample):
        raise ModelFileError(f"{classifier.spec.name}: its domain statistics keep no sample of "
                             "training features to adapt with")
    return stats


@dataclass
class AdaptPreview:
    """An adaptation computed but not written yet (the GUI shows its figures first)."""

    base: ModelSpec
    adaptation: Adaptation
    local: LocalCells
    lab: str
    name: str


def preview(classifier: Classifier, cells: Sequence[tuple[str, str]], lab: str, name: str,
            left_out: Sequence[str] = ()) -> AdaptPreview:
    """Adapt to (image path, class code) reviewed cells; nothing is written."""
    from marrow_desktop.training.loading import load_sample

    spec = classifier.spec
    stats = require_domain(classifier)
    samples = [Sample(path, spec.classes.index(code)) for path, code in cells
               if code in spec.classes]
    local = read_local(classifier, samples, list(spec.classes))
    local.left_out = list(left_out)
    images = [load_sample(s).rgb for s in samples[:8]]
    weight, bias = base_head(classifier, images)
    adaptation = adapt_heads(stats, weight, bias, spec.temperature, local, spec.classes, lab)
    return AdaptPreview(spec, adaptation, local, lab, name)


def write_preview(p: AdaptPreview, folder: Path) -> ModelSpec:
    """Write the previewed model into `folder` as NAME.json (an existing name gets a number)."""
    folder.mkdir(parents=True, exist_ok=True)
    out, n = folder / f"{p.name}.json", 1
    while out.exists() or out.with_name(f"{out.stem}.adapted.npz").exists():
        n += 1
        out = folder / f"{p.name}-{n}.json"
    return write_adapted(p.base, p.adaptation, out, out.stem, p.local, p.lab)
