"""One-file data sets: JPEG bytes + labels in an .npz, to move a training set to a GPU machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.preprocess import resize_to_input
from marrow_desktop.training.dataset import Dataset, DatasetError, Sample
from marrow_desktop.training.loading import load_sample

PACK_VERSION = 1


def write_pack(
    dataset: Dataset,
    out: str | Path,
    size: int,
    quality: int = 90,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, list[str]]:
    """Resize every image to size x size, JPEG-encode it and store all in one .npz.

    Returns the pack path and the list of images skipped as unreadable.
    """
    blobs: list[bytes] = []
    labels: list[int] = []
    sources: list[str] = []
    skipped: list[str] = []
    for i, sample in enumerate(dataset.samples):
        if progress:
            progress(i + 1, len(dataset.samples))
        try:
            rgb = load_sample(sample).rgb
        except ImageLoadError as exc:
            skipped.append(str(exc))
            continue
        small = resize_to_input(rgb, size)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            skipped.append(f"{sample.source}: JPEG encoding failed")
            continue
        blobs.append(buf.tobytes())
        labels.append(sample.label)
        sources.append(Path(sample.source).name)
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    out = Path(out)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")  # numpy would add it anyway
    np.savez(
        out,
        version=np.int64(PACK_VERSION),
        size=np.int64(size),
        classes=np.array(dataset.classes),
        labels=np.array(labels, dtype=np.int16),
        sources=np.array(sources),
        offsets=offsets,
        data=np.frombuffer(b"".join(blobs), dtype=np.uint8),
    )
    return out, skipped


def read_pack(path: str | Path) -> Dataset:
    """Load a pack written by write_pack as a Dataset of in-memory JPEG samples."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as pack:
            if int(pack["version"]) != PACK_VERSION:
                raise DatasetError(f"{path}: unsupported pack version {int(pack['version'])}")
            classes = [str(c) for c in pack["classes"]]
            labels = pack["labels"].astype(np.int64)
            sources = [str(s) for s in pack["sources"]]
            offsets = pack["offsets"]
            data = pack["data"].tobytes()
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path}: not a marrow data pack ({exc})") from exc
    samples = [
        Sample(f"{path.name}:{classes[label]}/{name}", int(label), data[offsets[i]:offsets[i + 1]])
        for i, (label, name) in enumerate(zip(labels, sources))
    ]
    return Dataset(classes, samples, str(path))
