"""Giving a model its domain statistics (core.domain) from its training images.

Runs with either backend (ONNX Runtime needs no torch): pooled features and colours of the
training images fit the statistics, and the tune half of the validation blocks (images no
reported figure uses) sets the threshold. The statistics are written beside the model as
NAME.domain.npz and named and hashed in its JSON; the model's identity (core.model_spec) does not
change, so its stored predictions stay valid.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from marrow_desktop.core.domain import DomainStats, colour_features, fit_domain
from marrow_desktop.core.errors import ImageLoadError, ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import DOMAIN_ROLE, ModelSpec, load_model_spec
from marrow_desktop.core.preprocess import resize_to_input
from marrow_desktop.inference.classifier import Classifier
from marrow_desktop.training.dataset import Sample
from marrow_desktop.training.loading import load_sample, progress


def pooled_features(classifier: Classifier, samples: Sequence[Sample], batch_size: int = 32,
                    show_progress: bool = True, desc: str = "features",
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[str]]:
    """Probabilities, pooled features and colours (of the model-input-sized image, as a
    batch run sees it) of every readable sample; also which were kept and why others not."""
    spec = classifier.spec
    probs, feats, colours, kept, skipped = [], [], [], [], []
    starts = range(0, len(samples), batch_size)
    for start in progress(starts, desc, total=len(starts), enabled=show_progress):
        images = []
        for i in range(start, min(start + batch_size, len(samples))):
            try:
                rgb = load_sample(samples[i]).rgb
            except ImageLoadError as exc:
                skipped.append(str(exc))
                continue
            images.append(resize_to_input(rgb, spec.input_size, spec.interpolation))
            kept.append(i)
        if images:
            p, f = classifier.predict_pooled(images)
            probs.append(p)
            feats.append(f)
            colours.append(colour_features(images))
    if not feats:
        raise ModelFileError("no readable images to compute features from")
    return (np.concatenate(probs), np.concatenate(feats), np.concatenate(colours), kept,
            skipped)


def compute_domain(classifier: Classifier, train: Sequence[Sample], train_classes: Sequence[str],
                   tune: Sequence[Sample], tune_classes: Sequence[str], described: str,
                   show_progress: bool = True) -> DomainStats:
    """Fit on the training samples, set the threshold on the tune samples."""
    spec = classifier.spec
    index = {c: i for i, c in enumerate(spec.classes)}
    missing = sorted({train_classes[s.label] for s in train} - set(index))
    if missing:
        raise ModelFileError(f"training images of class(es) {', '.join(missing)} are not "
                             f"classes of {spec.name}")
    _, feats, colours, kept, _ = pooled_features(classifier, train, show_progress=show_progress,
                                                 desc="training features")
    labels = np.array([index[train_classes[train[i].label]] for i in kept])
    stats = fit_domain(feats, labels, colours, spec.classes,
                       info={"fitted_on": described, "model": spec.name})
    _, tune_feats, tune_colours, _, _ = pooled_features(
        classifier, tune, show_progress=show_progress, desc="threshold images")
    raw = stats.raw_score(tune_feats, tune_colours)
    return stats.with_threshold(raw, described=f"tune half of the validation blocks, "
                                f"{len(raw)} images")


def attach_domain(spec: ModelSpec, stats: DomainStats,
                  scale: dict[str, Any] | None = None) -> ModelSpec:
    """Write NAME.domain.npz beside the model and name + hash it in the JSON (with the training
    crops' red-cell scale, when measured: core.fields.ModelScale reads it)."""
    if spec.path is None:
        raise ModelFileError(f"{spec.name}: model metadata has no file to add statistics to")
    target = spec.path.with_name(f"{spec.path.stem}.domain.npz")
    stats.save(target)
    summary: dict[str, Any] = {
        "file": target.name, "labs": [lab.name for lab in stats.labs],
        "threshold_images": stats.info.get("threshold_images"),
        "false_alarm": stats.false_alarm, "fitted_images": stats.info.get("fitted_images"),
        "method": "feature (PCA-whitened Mahalanobis to the nearest class + distance from the "
                  "subspace) + colour (mean-RGB Mahalanobis), each over its 99th percentile; "
                  "threshold at the 99th percentile of tune images",
    }
    info = {**spec.info, "domain": {**(spec.info.get("domain") or {}), **summary}}
    if scale is not None:
        info["scale"] = scale
    updated = spec.with_updates(files={**spec.files, DOMAIN_ROLE: target.name},
                                sha256={**spec.sha256, DOMAIN_ROLE: sha256_file(target)},
                                info=info)
    updated.save(spec.path)
    print(f"domain statistics written to {target} ({target.stat().st_size / 1e6:.1f} MB); "
          f"{spec.path.name} updated (its identity, and so its stored results, unchanged)",
          file=sys.stderr)
    return load_model_spec(spec.path)


def domain_report(stats: DomainStats, feats: np.ndarray, colours: np.ndarray) -> dict[str, Any]:
    """How many of these images are within the threshold (for an evaluation's metrics)."""
    scores = stats.score(feats, colours)
    return {"images": len(scores), "in_range": float((scores <= 1.0).mean()),
            "median_score": float(np.median(scores))}

