"""Class-folder data sets, packed data sets, and the contiguous-block train/validation split."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from marrow_desktop.core.discovery import natural_key
from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.imageio import is_image_path


class DatasetError(MarrowError):
    """A data set folder or pack cannot be used for training."""


@dataclass(frozen=True)
class Sample:
    """One labelled image: a file path, or encoded bytes from a pack (source names it)."""

    source: str
    label: int
    data: bytes | None = None
    origin: str = ""  # the data set it came from (several in one run)


@dataclass
class Dataset:
    """Labelled samples with their class codes; `warnings` lists what was ignored."""

    classes: list[str]
    samples: list[Sample]
    root: str = ""
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = np.bincount([s.label for s in self.samples], minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def digest(self) -> str:
        """Short fingerprint of the sample list and labels (not the pixels)."""
        h = hashlib.sha256()
        for s in self.samples:
            origin = f"{s.origin}\t" if s.origin else ""
            h.update(f"{origin}{Path(s.source).name}\t{self.classes[s.label]}\n".encode())
        return h.hexdigest()[:16]

    def origins(self) -> list[str]:
        """Names of the data sets the samples came from, in order of appearance."""
        return list(dict.fromkeys(s.origin for s in self.samples))

    def counts_by_origin(self) -> dict[str, dict[str, int]]:
        """Data set -> class -> number of samples."""
        out: dict[str, dict[str, int]] = {}
        for s in self.samples:
            per = out.setdefault(s.origin, {})
            per[self.classes[s.label]] = per.get(self.classes[s.label], 0) + 1
        return out


def scan_class_folders(root: str | Path, classes: Iterable[str] | None = None) -> Dataset:
    """Read ROOT/<class>/<image> into a Dataset; empty class folders are skipped with a warning."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: data set folder not found")
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.name)
    warnings: list[str] = []
    found: dict[str, list[Path]] = {}
    for folder in folders:
        files = sorted((f for f in folder.iterdir() if f.is_file() and is_image_path(f)),
                       key=lambda f: natural_key(f.name))
        if files:
            found[folder.name] = files
        else:
            warnings.append(f"class folder '{folder.name}' has no images and was ignored")
    wanted = list(classes) if classes is not None else sorted(found)
    missing = [c for c in wanted if c not in found]
    if classes is not None and missing:
        raise DatasetError(f"{root}: no images for class(es) {', '.join(missing)}")
    if len(wanted) < 2:
        raise DatasetError(
            f"{root}: need at least two class folders with images, found {len(wanted)}"
            + (f" ({wanted[0]})" if wanted else "")
        )
    samples = [Sample(str(f), i) for i, c in enumerate(wanted) for f in found[c]]
    return Dataset(wanted, samples, str(root), warnings)


def load_dataset(path: str | Path, classes: Iterable[str] | None = None) -> Dataset:
    """A class-folder data set or a pack made by `marrow data pack`."""
    path = Path(path)
    if path.is_file() and path.suffix == ".npz":
        from marrow_desktop.training.pack import read_pack

        return read_pack(path)
    return scan_class_folders(path, classes)


def _blocks(dataset: Dataset, indices: Iterable[int]) -> list[list[int]]:
    """Indices grouped by (data set, class), each group in natural file-name order."""
    groups: dict[tuple[str, int], list[int]] = {}
    for index in indices:
        sample = dataset.samples[index]
        groups.setdefault((sample.origin, sample.label), []).append(index)
    order = {name: i for i, name in enumerate(dataset.origins())}
    out = []
    for (_origin, _label), members in sorted(groups.items(),
                                             key=lambda kv: (order[kv[0][0]], kv[0][1])):
        members.sort(key=lambda i: natural_key(Path(dataset.samples[i].source).name))
        out.append(members)
    return out


def split_by_blocks(dataset: Dataset, val_fraction: float) -> tuple[list[int], list[int]]:
    """Indices of train and validation samples: the last `val_fraction` of each class of each
    data set.

    Samples are in natural filename order within a class, so the validation block is a run of
    consecutive numbers (consecutive numbers tend to come from the same smear).
    """
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val fraction must be between 0 and 1, got {val_fraction}")
    train: list[int] = []
    val: list[int] = []
    for indices in _blocks(dataset, range(len(dataset.samples))):
        n_val = max(1, round(len(indices) * val_fraction)) if len(indices) > 1 else 0
        train.extend(indices[: len(indices) - n_val])
        val.extend(indices[len(indices) - n_val :])
    return train, val


def split_halves(dataset: Dataset, val: Sequence[int]) -> tuple[list[int], list[int]]:
    """The validation blocks cut in two: the first half of each block *tunes* (checkpoint,
    temperature, thresholds), the second half is what figures are *reported* on."""
    tune: list[int] = []
    report: list[int] = []
    for indices in _blocks(dataset, val):
        cut = (len(indices) + 1) // 2
        tune.extend(indices[:cut])
        report.extend(indices[cut:])
    return tune, report


def explicit_split(root: str | Path) -> tuple[Dataset, list[int], list[int]] | None:
    """ROOT/train/<class> and ROOT/val/<class> as one data set with fixed indices, if present."""
    root = Path(root)
    if not ((root / "train").is_dir() and (root / "val").is_dir()):
        return None
    train = scan_class_folders(root / "train")
    val = scan_class_folders(root / "val", classes=train.classes)
    samples = train.samples + val.samples
    n = len(train.samples)
    merged = Dataset(train.classes, samples, str(root), train.warnings + val.warnings)
    return merged, list(range(n)), list(range(n, len(samples)))


def write_split(path: Path, dataset: Dataset, train: list[int], val: list[int]) -> None:
    """Record which file went where, so a run can be audited and reproduced: split (train/val),
    half (tune/report for validation images, see split_halves), data set, class, source."""
    tune, _ = split_halves(dataset, val)
    tuned = set(tune)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "half", "dataset", "class", "source"])
        for name, indices in (("train", train), ("val", val)):
            for i in indices:
                s = dataset.samples[i]
                half = "" if name == "train" else ("tune" if i in tuned else "report")
                writer.writerow([name, half, s.origin, dataset.classes[s.label], s.source])
