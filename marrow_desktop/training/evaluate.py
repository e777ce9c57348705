"""`marrow evaluate`: a model on a labelled data set, with per-class metrics and calibration.

The data set's class folders are matched to the model's classes by class code. Outputs in the
report folder: metrics.json, per_class.csv, confusion_matrix(.csv/_normalized.csv/.png),
reliability.png, predictions.csv, report.md (and skipped.txt for unreadable images).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.metrics import (
    ClassReport,
    class_report,
    expected_calibration_error,
    reliability_bins,
    softmax,
)
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.selective import query, selective_table
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.inference.classifier import Classifier
from marrow_desktop.training.dataset import (
    Dataset,
    DatasetError,
    Sample,
    explicit_split,
    split_by_blocks,
    split_halves,
)
from marrow_desktop.training.loading import load_sample, progress
from marrow_desktop.training.sources import MapRule, combine, load_run_data, make_sources

SUBSETS = ("train", "val", "tune", "report", "all")
N_BINS = 15
REPORT_CONFIDENCE = (0.5, 0.6, 0.7, 0.8, 0.9)  # the selective-accuracy rows of report.md
REPORT_MARGIN = (0.0, 0.1, 0.2)


# ---------------------------------------------------------------------------- which images


def _name(source: str) -> str:
    """File name of a sample source ('pack.npz:BLA/BLA_00001.jpg' -> 'BLA_00001.jpg')."""
    return Path(source.replace("\\", "/")).name


@dataclass(frozen=True)
class SplitRow:
    """One line of a run's split.csv (runs before several data sets have no half/dataset)."""

    split: str
    code: str
    source: str
    half: str = ""
    dataset: str = ""

    def in_subset(self, subset: str) -> bool:
        return subset == "all" or subset in (self.split, self.half)


def read_split(path: str | Path) -> list[SplitRow]:
    """The rows of a training run's split.csv."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [SplitRow(r["split"], r["class"], r["source"], r.get("half") or "",
                             r.get("dataset") or "") for r in csv.DictReader(handle)]
    except (OSError, KeyError, csv.Error) as exc:
        raise DatasetError(f"{path}: not a split.csv written by `marrow train` ({exc})") from exc
    return rows


def _load_with_split(dataset: str | Path) -> tuple[Dataset, list[int], list[int]] | None:
    return explicit_split(dataset) if Path(dataset).is_dir() else None


def _paths(datasets: str | Path | Sequence[str | Path] | None) -> list[str]:
    if datasets is None:
        return []
    if isinstance(datasets, (str, Path)):
        return [str(datasets)]
    return [str(d) for d in datasets]


def _combined(paths: list[str], maps: dict[str, list[MapRule]] | None) -> Dataset:
    """One or several data sets (with class maps) as one; one unmapped set keeps no origin."""
    dataset = combine(make_sources(paths, maps), dedupe=False).dataset
    if len(paths) == 1:
        dataset.samples = [replace(s, origin="") for s in dataset.samples]
    return dataset


def load_eval_dataset(datasets: str | Path | Sequence[str | Path] | None,
                      split: str | Path | None = None, subset: str | None = None,
                      val_fraction: float = 0.1, maps: dict[str, list[MapRule]] | None = None,
                      ) -> tuple[Dataset, str]:
    """The labelled images to evaluate and a description of them.

    With `split` (a run's split.csv) the images listed under `subset` (default val) are taken
    from `datasets` (default: the run's own data sets, from config.json beside split.csv),
    matched by data set, class and file name. Without it: a ROOT/train + ROOT/val set gives its
    `subset` (default val); class-folder sets or packs (with class maps) give all images, or
    with subset train/val/tune/report the contiguous-block split that `marrow train` makes.
    """
    if subset is not None and subset not in SUBSETS:
        raise DatasetError(f"unknown subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    paths = _paths(datasets)
    if split is not None:
        return _from_split(paths, Path(split), subset or "val", maps)
    if not paths:
        raise DatasetError("give a DATASET to evaluate on, or --split RUN_DIR/split.csv")
    name = ", ".join(paths)
    explicit = _load_with_split(paths[0]) if len(paths) == 1 and not maps else None
    if explicit is not None:
        full, train_idx, val_idx = explicit
        subset = subset or "val"
        description = f"{name} ({subset} folder{'s' if subset == 'all' else ''})"
    else:
        full = _combined(paths, maps)
        if subset in (None, "all"):
            return full, name
        train_idx, val_idx = split_by_blocks(full, val_fraction)
        description = f"{name} ({subset}: last {val_fraction:.0%} of each class by number"
        description += ", its first half)" if subset == "tune" else (
            ", its second half)" if subset == "report" else ")")
    tune, report = split_halves(full, val_idx)
    chosen = {"train": train_idx, "val": val_idx, "tune": tune, "report": report,
              "all": train_idx + val_idx}[subset]
    samples = [full.samples[i] for i in chosen]
    return Dataset(full.classes, samples, full.root, list(full.warnings)), description


def _from_split(paths: list[str], split: Path, subset: str,
                maps: dict[str, list[MapRule]] | None) -> tuple[Dataset, str]:
    all_rows = read_split(split)
    halves_missing = subset in ("tune", "report") and not any(r.half for r in all_rows)
    wanted = "val" if halves_missing else subset  # an older split.csv: halve its val blocks
    rows = [r for r in all_rows if r.in_subset(wanted)]
    if not rows:
        raise DatasetError(f"{split}: no '{subset}' images listed")
    if not paths:
        from marrow_desktop.training.config import TrainConfig

        config_path = split.parent / "config.json"
        try:
            config = TrainConfig.from_json(config_path)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{config_path}: cannot tell the run's data set; give "
                               "DATASET") from exc
        missing = [d for d in config.datasets if not Path(d).exists()]
        if missing:
            raise DatasetError(f"{split}: the run's data set {missing[0]} is not here; give "
                               "DATASET")
        full = load_run_data(config)[0]
    elif len(paths) == 1 and not maps and _load_with_split(paths[0]) is not None:
        full = _load_with_split(paths[0])[0]  # type: ignore[index]
    else:
        full = _combined(paths, maps)
    exact = {(s.origin, full.classes[s.label], _name(s.source)): s for s in full.samples}
    by_name = {(full.classes[s.label], _name(s.source)): s for s in full.samples}
    samples, missing = [], []
    for row in rows:
        sample = exact.get((row.dataset, row.code, _name(row.source))) or by_name.get(
            (row.code, _name(row.source)))
        if sample is None:
            missing.append(f"{row.code}/{_name(row.source)}")
        else:
            samples.append(replace(sample, origin=sample.origin or row.dataset))
    where = ", ".join(paths) or "the run's data"
    warnings = list(full.warnings)
    if halves_missing:
        part = Dataset(full.classes, samples, full.root)
        tune, report = split_halves(part, range(len(samples)))
        samples = [samples[i] for i in (tune if subset == "tune" else report)]
    if missing:
        if not samples:
            raise DatasetError(f"{where}: none of the {len(rows)} '{subset}' images of {split} "
                               f"are in it (e.g. {missing[0]})")
        warnings.append(f"{len(missing)} '{subset}' images of {split} are not in {where} "
                        f"(e.g. {', '.join(missing[:3])})")
    return Dataset(full.classes, samples, full.root, warnings), f"{subset} images of {split}"


def class_mapping(dataset: Dataset, spec: ModelSpec) -> np.ndarray:
    """Model class index of each data-set class, matched by code (case-insensitive fallback)."""
    exact = {c: i for i, c in enumerate(spec.classes)}
    folded = {c.upper(): i for i, c in enumerate(spec.classes)}
    used = sorted({s.label for s in dataset.samples})
    missing = [dataset.classes[i] for i in used
               if dataset.classes[i] not in exact and dataset.classes[i].upper() not in folded]
    if missing:
        raise DatasetError(
            f"{dataset.root or 'data set'}: class(es) {', '.join(missing)} are not classes of "
            f"model {spec.name} ({', '.join(spec.classes)})"
        )
    return np.array([exact.get(c, folded.get(c.upper(), -1)) for c in dataset.classes])


# ---------------------------------------------------------------------------- inference


def classifier_logits(classifier: Classifier, images: Sequence[np.ndarray]) -> np.ndarray:
    """Logits before the temperature, from either backend."""
    return np.asarray(classifier.logits(images), dtype=np.float32)


def dihedral(rgb: np.ndarray) -> list[np.ndarray]:
    """The 8 flips/rotations of an image (identity first)."""
    flipped = rgb[:, ::-1]
    return [np.ascontiguousarray(np.rot90(img, k)) for img in (rgb, flipped) for k in range(4)]


def collect_logits(classifier: Classifier, samples: Sequence[Sample], tta: bool = False,
                   batch_size: int = 32, show_progress: bool = True
                   ) -> tuple[np.ndarray, list[int], list[str]]:
    """Logits of every readable sample: V x N x K (V = 8 views with TTA, else 1)."""
    views = 8 if tta else 1
    chunks: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[str] = []
    starts = range(0, len(samples), batch_size)
    for start in progress(starts, "evaluating", total=len(starts), enabled=show_progress):
        images = []
        for i in range(start, min(start + batch_size, len(samples))):
            try:
                images.append(load_sample(samples[i]).rgb)
            except ImageLoadError as exc:
                skipped.append(str(exc))
                continue
            kept.append(i)
        if not images:
            continue
        if tta:
            batch = [view for img in images for view in dihedral(img)]
            logits = classifier_logits(classifier, batch).reshape(len(images), views, -1)
            chunks.append(logits.transpose(1, 0, 2))
        else:
            chunks.append(classifier_logits(classifier, images)[None])
    if not chunks:
        raise DatasetError("no readable images to evaluate")
    return np.concatenate(chunks, axis=1), kept, skipped


def probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Views x N x K logits -> N x K probabilities, averaged over views."""
    return np.mean([softmax(v, temperature) for v in logits], axis=0).astype(np.float32)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())


# ---------------------------------------------------------------------------- outputs


@dataclass
class Evaluation:
    """Everything computed by `evaluate`."""

    spec: ModelSpec
    description: str
    sources: list[str]
    y_true: np.ndarray
    probs: np.ndarray
    report: ClassReport
    ece: float
    nll: float
    temperature: float
    tta: bool
    backend: str
    device: str
    skipped: list[str]
    calibration: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    selective: dict[str, Any] = field(default_factory=dict)
    origins: list[str] = field(default_factory=list)  # data set of each image ('' = one set)

    def per_dataset(self) -> dict[str, dict[str, Any]]:
        """Accuracy, macro-F1 (over the classes that data set has) and recall per class."""
        names = [o for o in dict.fromkeys(self.origins) if o]
        out: dict[str, dict[str, Any]] = {}
        origins = np.asarray(self.origins)
        for name in names:
            mask = origins == name
            y, pred = self.y_true[mask], self.probs[mask].argmax(axis=1)
            r = class_report(y, pred, self.spec.num_classes)
            out[name] = {
                "images": int(mask.sum()), "accuracy": r.accuracy, "macro_f1": r.macro_f1,
                "balanced_accuracy": r.balanced_accuracy,
                "ece": expected_calibration_error(self.probs[mask], y, N_BINS),
                "per_class": {c: {"precision": float(r.precision[i]),
                                  "recall": float(r.recall[i]), "f1": float(r.f1[i]),
                                  "support": int(r.support[i])}
                              for i, c in enumerate(self.spec.classes) if r.support[i]},
                "confusion": r.confusion.tolist(),
            }
        return out

    def metrics(self) -> dict[str, Any]:
        r = self.report
        return {
            "model": self.spec.name, "model_sha256": self.spec.model_sha256,
            "dataset": self.description, "images": len(self.y_true),
            "skipped": len(self.skipped), "backend": self.backend, "device": self.device,
            "tta": self.tta, "temperature": self.temperature,
            "accuracy": r.accuracy, "balanced_accuracy": r.balanced_accuracy,
            "macro_f1": r.macro_f1, "ece": self.ece, "nll": self.nll,
            "per_class": {c: {"precision": float(r.precision[i]), "recall": float(r.recall[i]),
                              "f1": float(r.f1[i]), "support": int(r.support[i])}
                          for i, c in enumerate(self.spec.classes)},
            "calibration": self.calibration,
            "selective": self.selective,
            "per_dataset": self.per_dataset(),
        }


def can_plot() -> bool:
    """Whether matplotlib (in the [torch] extra) is there to draw the report's figures."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """Counts and row-normalised confusion matrices side by side."""
    plt = _pyplot()
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    k = len(classes)
    side = max(4.5, 0.55 * k + 2)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1, side))
    for ax, values, title, fmt in ((axes[0], cm, "counts", "d"),
                                   (axes[1], norm, "row-normalised (recall)", ".2f")):
        ax.imshow(values, cmap="Blues", vmin=0)
        ax.set_xticks(range(k), classes, rotation=90 if k > 10 else 0)
        ax.set_yticks(range(k), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        peak = values.max() or 1
        for i in range(k):
            for j in range(k):
                if values[i, j]:
                    ax.text(j, i, format(values[i, j], fmt), ha="center", va="center",
                            fontsize=7 if k > 10 else 9,
                            color="white" if values[i, j] > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reliability(probs: np.ndarray, y: np.ndarray, ece: float, path: Path) -> None:
    """Reliability diagram (accuracy vs confidence per bin) over a confidence histogram."""
    plt = _pyplot()
    mean_conf, accuracy, counts = reliability_bins(probs, y, N_BINS)
    edges = np.linspace(0, 1, N_BINS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    used = counts > 0
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.bar(centres[used], accuracy[used], width=1 / N_BINS, edgecolor="black",
           color="#4a7bb7", label="accuracy")
    ax.bar(centres[used], (mean_conf - accuracy)[used], bottom=accuracy[used],
           width=1 / N_BINS, color="red", alpha=0.3, label="gap to confidence")
    ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (ECE {ece:.3f}, {N_BINS} bins)")
    ax.legend(loc="upper left")
    hist.bar(centres, counts, width=1 / N_BINS, edgecolor="black", color="grey")
    hist.set_xlabel("confidence (top-class probability)")
    hist.set_ylabel("images")
    hist.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_outputs(ev: Evaluation, out: Path) -> None:
    """All report files of one evaluation."""
    out.mkdir(parents=True, exist_ok=True)
    classes = list(ev.spec.classes)
    r = ev.report
    cm = r.confusion
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    _csv(out / "confusion_matrix.csv", ["true\\predicted", *classes],
         [[c, *map(int, row)] for c, row in zip(classes, cm)])
    _csv(out / "confusion_matrix_normalized.csv", ["true\\predicted", *classes],
         [[c, *(f"{v:.4f}" for v in row)] for c, row in zip(classes, norm)])
    predicted = cm.sum(axis=0)
    _csv(out / "per_class.csv",
         ["class", "class_name", "precision", "recall", "f1", "support", "predicted"],
         [[c, full_name(c), f"{r.precision[i]:.4f}", f"{r.recall[i]:.4f}", f"{r.f1[i]:.4f}",
           int(r.support[i]), int(predicted[i])] for i, c in enumerate(classes)])
    pred = ev.probs.argmax(axis=1)
    origins = ev.origins or [""] * len(ev.sources)
    _csv(out / "predictions.csv",
         ["source", "dataset", "true", "predicted", "confidence", "correct",
          *(f"p_{c}" for c in classes)],
         [[src, o, classes[t], classes[p], f"{pr[p]:.4f}", int(t == p),
           *(f"{v:.4f}" for v in pr)]
          for src, o, t, p, pr in zip(ev.sources, origins, ev.y_true, pred, ev.probs)])
    if can_plot():
        plot_confusion(cm, classes, out / "confusion_matrix.png")
        plot_reliability(ev.probs, ev.y_true, ev.ece, out / "reliability.png")
    else:
        ev.warnings.append("matplotlib is not installed, so confusion_matrix.png and "
                           "reliability.png were not drawn (pip install matplotlib)")
    (out / "metrics.json").write_text(json.dumps(ev.metrics(), indent=2) + "\n",
                                      encoding="utf-8")
    (out / "skipped.txt").write_text("".join(f"{s}\n" for s in ev.skipped), encoding="utf-8")
    (out / "report.md").write_text(report_markdown(ev, out), encoding="utf-8")


def report_markdown(ev: Evaluation, out: Path) -> str:
    r = ev.report
    lines = [
        f"# Evaluation of {ev.spec.name}", "",
        f"- data: {ev.description}, {len(ev.y_true)} images"
        + (f" ({len(ev.skipped)} unreadable skipped, see skipped.txt)" if ev.skipped else ""),
        f"- model: {ev.spec.architecture}, {ev.spec.input_size} px, "
        f"SHA-256 {ev.spec.model_sha256[:12]}...",
        f"- backend: {ev.backend}, {ev.device}; test-time augmentation: "
        f"{'8 flips/rotations' if ev.tta else 'off'}; temperature {ev.temperature:.3f}", "",
        "| metric | value |", "|---|---|",
        f"| accuracy | {r.accuracy:.4f} |", f"| balanced accuracy | {r.balanced_accuracy:.4f} |",
        f"| macro-F1 | {r.macro_f1:.4f} |", f"| ECE ({N_BINS} bins) | {ev.ece:.4f} |",
        f"| NLL | {ev.nll:.4f} |", "",
        "| class | name | precision | recall | F1 | images |", "|---|---|---|---|---|---|",
    ]
    lines += [f"| {c} | {full_name(c)} | {r.precision[i]:.3f} | {r.recall[i]:.3f} | "
              f"{r.f1[i]:.3f} | {int(r.support[i])} |"
              for i, c in enumerate(ev.spec.classes) if r.support[i]]
    per_dataset = ev.per_dataset()
    if per_dataset:
        lines += ["", "| data set | images | accuracy | macro-F1 | balanced accuracy | ECE |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {d['images']} | {d['accuracy']:.4f} | {d['macro_f1']:.4f} | "
                  f"{d['balanced_accuracy']:.4f} | {d['ece']:.4f} |"
                  for name, d in per_dataset.items()]
        lines += ["", "Recall per class and data set:", "",
                  "| data set | " + " | ".join(ev.spec.classes) + " |",
                  "|---|" + "---|" * ev.spec.num_classes]
        lines += [f"| {name} | " + " | ".join(
            f"{d['per_class'][c]['recall']:.3f}" if c in d["per_class"] else "-"
            for c in ev.spec.classes) + " |" for name, d in per_dataset.items()]
    if ev.calibration:
        c = ev.calibration
        lines += ["", f"Temperature fitted on these images: {c['temperature_before']:.3f} -> "
                  f"{c['temperature']:.3f}; ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f} "
                  "(measured on the same images, so optimistic); cross-fitted ECE "
                  f"{c['ece_cross_fitted']:.4f} (temperature fitted on one half of these "
                  "images, measured on the other, both ways)."]
    lines += selective_markdown(ev.selective)
    if (out / "confusion_matrix.png").exists():
        lines += ["", "![confusion matrix](confusion_matrix.png)", "",
                  "![reliability](reliability.png)"]
    lines += ["", "Files: metrics.json, per_class.csv, confusion_matrix.csv, "
              "confusion_matrix_normalized.csv, predictions.csv.", ""]
    if ev.warnings:
        lines += ["Warnings:", *(f"- {w}" for w in ev.warnings), ""]
    return "\n".join(lines)


def selective_markdown(table: dict[str, Any]) -> list[str]:
    """A few rows of the selective-accuracy table: coverage and accuracy of the cells kept."""
    points = {(c, m): query(table, c, m) for c in REPORT_CONFIDENCE for m in REPORT_MARGIN}
    if not table or any(p is None for p in points.values()):
        return []
    lines = ["", "Cells kept above the review thresholds (confidence ≥ row and top-2 margin ≥ "
             "column): share of images kept, accuracy of those kept.", "",
             "| confidence ≥ | " + " | ".join(f"margin ≥ {m:.2f}" for m in REPORT_MARGIN) + " |",
             "|---|" + "---|" * len(REPORT_MARGIN)]
    for c in REPORT_CONFIDENCE:
        cells = []
        for m in REPORT_MARGIN:
            p = points[c, m]
            assert p is not None
            accuracy = f"{p.accuracy:.1%}" if p.kept else "-"
            cells.append(f"{p.coverage:.0%} kept, {accuracy}")
        lines.append(f"| {c:.2f} | " + " | ".join(cells) + " |")
    return lines


# ---------------------------------------------------------------------------- the job


def cross_fitted_ece(logits: np.ndarray, y: np.ndarray) -> float:
    """ECE with the temperature fitted on one half of the images (alternate ones) and measured
    on the other, both ways, pooled: an honest calibration figure from one labelled set."""
    from marrow_desktop.core.metrics import fit_temperature

    halves = np.arange(len(y)) % 2
    probs = np.zeros((len(y), logits.shape[-1]), np.float32)
    for half in (0, 1):
        fit_on, apply_to = halves != half, halves == half
        if fit_on.sum() == 0 or apply_to.sum() == 0:
            continue
        t = fit_temperature(logits[0][fit_on], y[fit_on])
        probs[apply_to] = probabilities(logits[:, apply_to], t)
    return expected_calibration_error(probs, y, N_BINS)


def training_scale(samples: Sequence[Sample], count: int = 2000) -> dict[str, Any] | None:
    """The red-cell scale of a model's training crops (for finding cells in field photographs);
    None, with a note, when the crops show no red cells."""
    from marrow_desktop.core.fields import FieldError, measure_model_scale
    from marrow_desktop.training.loading import evenly_spaced

    try:
        return measure_model_scale(load_sample(s).rgb for s in evenly_spaced(samples, count))
    except (FieldError, ImageLoadError) as exc:
        print(f"note: {exc}", file=sys.stderr)
        return None


def evaluate(model: str | Path, dataset: str | Path | Sequence[str] | None, out: str | Path,
             split: str | Path | None = None, subset: str | None = None,
             backend: str = "auto", tta: bool = False, fit: bool = False,
             threads: int | None = None, batch_size: int = 32, val_fraction: float = 0.1,
             show_progress: bool = True, maps: dict[str, list[MapRule]] | None = None,
             domain_stats: bool = False) -> Evaluation:
    """Evaluate `model` and write the report to `out`; with `fit`, also fit and store T; with
    `domain_stats`, first give the model its lab-shift statistics (training images of the
    split or data set; threshold on the tune half of the validation blocks)."""
    from marrow_desktop.core.model_spec import load_model_spec
    from marrow_desktop.inference.loader import load_classifier
    from marrow_desktop.training.calibration import check_can_store, store_temperature

    spec = load_model_spec(model)
    if fit:
        check_can_store(spec)
    data, description = load_eval_dataset(dataset, split, subset, val_fraction, maps)
    mapping = class_mapping(data, spec)
    if backend == "auto" and not spec.has_weights("onnx"):
        backend = "torch"  # a training checkpoint: PyTorch weights only
    classifier = load_classifier(model, backend=backend, threads=threads)
    if domain_stats:
        from marrow_desktop.training.domain_stats import attach_domain, compute_domain

        train, train_desc = load_eval_dataset(dataset, split, "train", val_fraction, maps)
        tune, _ = load_eval_dataset(dataset, split, "tune", val_fraction, maps)
        stats = compute_domain(classifier, train.samples, train.classes, tune.samples,
                               tune.classes, train_desc, show_progress)
        spec = attach_domain(spec, stats, training_scale(train.samples))
        classifier = load_classifier(spec.path, backend=backend, threads=threads)
    logits, kept, skipped = collect_logits(classifier, data.samples, tta, batch_size,
                                           show_progress)
    y = mapping[[data.samples[i].label for i in kept]]
    temperature = spec.temperature
    calibration: dict[str, Any] = {}
    if fit:
        from marrow_desktop.core.metrics import fit_temperature

        before = probabilities(logits, spec.temperature)
        fitted = fit_temperature(logits[0], y)
        after = probabilities(logits, fitted)
        calibration = {
            "temperature_before": spec.temperature, "temperature": fitted,
            "ece_before": expected_calibration_error(before, y, N_BINS),
            "ece_after": expected_calibration_error(after, y, N_BINS),
            "nll_before": nll(before, y), "nll_after": nll(after, y),
            "ece_cross_fitted": cross_fitted_ece(logits, y),
            "fitted_on": description, "images": len(y),
        }
        temperature = fitted
    probs = probabilities(logits, temperature)
    selective = selective_table(probs, probs.argmax(axis=1) == y)
    selective.update(temperature=temperature, tta=tta, dataset=description)
    if fit:
        spec = store_temperature(spec, temperature, calibration, selective)
    ev = Evaluation(
        spec=spec, description=description, sources=[data.samples[i].source for i in kept],
        y_true=y, probs=probs, report=class_report(y, probs.argmax(axis=1), spec.num_classes),
        ece=expected_calibration_error(probs, y, N_BINS), nll=nll(probs, y),
        temperature=temperature, tta=tta, backend=classifier.backend,
        device=classifier.device_name, skipped=skipped, calibration=calibration,
        warnings=list(data.warnings), selective=selective,
        origins=[data.samples[i].origin for i in kept],
    )
    write_outputs(ev, Path(out))
    for warning in ev.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return ev
