"""Streaming batch runs: discover images, check quality, classify in batches, yield per image.

A run is a generator, so a caller (CLI loop or GUI worker) sees each result as soon as its batch
is done, can stop between results, and memory stays bounded whatever the folder size. Decoding
and quality checks of the next batch run in a helper thread while the backend infers the current
one. Results found in the store (same image content, same model) are yielded without recomputing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.hashing import sha256_bytes
from marrow_desktop.core.imageio import decode_image, is_image_path, read_bytes
from marrow_desktop.core.quality import QualityThresholds, assess
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.store import ResultStore


class Predictor(Protocol):
    """The part of a Classifier a batch run needs."""

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


@dataclass
class _Prepared:
    result: ImageResult
    image: np.ndarray | None = None
    size: int = -1
    mtime_ns: int = -1


def _prepare(path: Path, model_sha256: str, store: ResultStore | None,
             thresholds: QualityThresholds, need_pixels: bool) -> _Prepared:
    """Read, hash, look up, decode and quality-check one file; errors become error results."""
    name = str(path)
    if not is_image_path(path):
        return _Prepared(ImageResult.failed(name, f"{name}: not a supported image type "
                                                  f"({path.suffix or 'no extension'})"))
    try:
        stat = path.stat()
        if store is not None and not need_pixels:
            known = store.known_hash(name, stat.st_size, stat.st_mtime_ns)
            hit = store.get(name, known, model_sha256) if known else None
            if hit is not None:
                return _Prepared(hit)
        data = read_bytes(path)
        sha = sha256_bytes(data)
        if store is not None and not need_pixels:
            hit = store.get(name, sha, model_sha256)
            if hit is not None:
                return _Prepared(hit, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        rgb = decode_image(data, name).rgb
    except ImageLoadError as exc:
        return _Prepared(ImageResult.failed(name, str(exc)))
    except FileNotFoundError:
        return _Prepared(ImageResult.failed(name, f"{name}: file not found"))
    except OSError as exc:
        return _Prepared(ImageResult.failed(name, f"{name}: cannot read file ({exc})"))
    result = ImageResult(path=name, content_sha256=sha, quality=assess(rgb, thresholds))
    return _Prepared(result, rgb, stat.st_size, stat.st_mtime_ns)


def _chunks(items: Iterable[Path], size: int) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(
    paths: Iterable[Path],
    classifier: Predictor | None,
    *,
    classes: Sequence[str] = (),
    model_sha256: str = "",
    model_name: str = "",
    store: ResultStore | None = None,
    batch_size: int = 16,
    thresholds: QualityThresholds | None = None,
    on_image: Callable[[ImageResult, np.ndarray | None], None] | None = None,
) -> Iterator[ImageResult]:
    """Yield one ImageResult per path, in order. classifier=None runs only the quality checks.

    on_image, if given, sees each freshly computed ok result with its pixels (e.g. to write a CAM);
    it forces pixels to be decoded, so stored results are recomputed.
    """
    thresholds = thresholds or QualityThresholds()
    need_pixels = on_image is not None

    def prepare_chunk(chunk: list[Path]) -> list[_Prepared]:
        return [_prepare(p, model_sha256 if classifier else "", store, thresholds, need_pixels)
                for p in chunk]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="marrow-decode") as pool:
        pending: Future[list[_Prepared]] | None = None
        for chunk in _chunks(paths, batch_size):
            upcoming = pool.submit(prepare_chunk, chunk)
            if pending is not None:
                yield from _finish(pending.result(), classifier, classes, model_sha256,
                                   model_name, store, on_image)
            pending = upcoming
        if pending is not None:
            yield from _finish(pending.result(), classifier, classes, model_sha256, model_name,
                               store, on_image)


def _finish(prepared: list[_Prepared], classifier: Predictor | None, classes: Sequence[str],
            model_sha256: str, model_name: str, store: ResultStore | None,
            on_image: Callable[[ImageResult, np.ndarray | None], None] | None,
            ) -> Iterator[ImageResult]:
    todo = [p for p in prepared if p.image is not None]
    if classifier is not None and todo:
        probs = classifier.predict([p.image for p in todo])
        for item, row in zip(todo, probs):
            item.result.probabilities = row
            item.result.classes = tuple(classes)
            item.result.model_sha256 = model_sha256
    for item in prepared:
        result = item.result
        if store is not None and result.ok and not result.from_store:
            store.put(result, item.size, item.mtime_ns, model_name)
        elif store is not None and result.from_store and item.size >= 0:
            store.put(result, item.size, item.mtime_ns, model_name)  # new path, same content
        if on_image is not None and result.ok:
            on_image(result, item.image)
        item.image = None
        yield result
