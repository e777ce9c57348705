"""Small helpers shared by the data-set tools: decode a sample, pick a spread of items, progress."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from marrow_desktop.core.imageio import LoadedImage, decode_image, load_image
from marrow_desktop.training.dataset import Sample

T = TypeVar("T")


def load_sample(sample: Sample) -> LoadedImage:
    """Decode a sample from its file, or from its in-memory bytes when it came from a pack."""
    if sample.data is not None:
        return decode_image(sample.data, sample.source)
    return load_image(sample.source)


def evenly_spaced(items: Sequence[T], count: int) -> list[T]:
    """Up to `count` items spread evenly over a sequence (first and last included)."""
    if count <= 0 or not items:
        return []
    if len(items) <= count:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def progress(items: Iterable[T], desc: str, total: int | None = None,
             enabled: bool = True) -> Iterator[T]:
    """A tqdm progress bar on stderr where tqdm is installed, else the plain iterable."""
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            yield from tqdm(items, desc=desc, total=total, unit="img", file=sys.stderr,
                            leave=False)
            return
    yield from items
