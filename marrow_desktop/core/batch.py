"""Streaming batch runs: discover images, check quality, classify in batches, yield per image.

A run is a generator, so a caller (CLI loop or GUI worker) sees each result as soon as its batch
is done, can stop between results, and memory stays bounded whatever the folder size. Decoding
and quality checks of the next batches run in a helper thread while the backend infers the
current one. Results found in the store (same image content, same model) are yielded without
recomputing; their quality verdicts are re-judged with the run's thresholds.

When the classifier has domain statistics (core.domain), each result also gets its
`domain_score`, computed from the pooled features of the same forward pass and stored under the
statistics' own hash: a stored prediction without a score under the current statistics is
computed again (same probabilities) to get one.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Protocol

import numpy as np

from marrow_desktop.core.cells import box_of, region_of, split_cell_path
from marrow_desktop.core.domain import DomainStats, colour_features, in_range
from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.fields import (
    MATEK_CROP_PX,
    FieldError,
    FieldSearch,
    cell_image,
    flag_field,
    is_cut,
)
from marrow_desktop.core.hashing import sha256_bytes
from marrow_desktop.core.imageio import decode_image, is_image_path, read_bytes
from marrow_desktop.core.preprocess import resize_to_input, shrink_to
from marrow_desktop.core.quality import QualityMetrics, QualityThresholds, assess
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.store import ResultStore, StoreError
from marrow_desktop.core.text import printable

#: Chunks decoded ahead of the one being classified (bounds memory to (1 + PREFETCH) batches).
PREFETCH = 2
#: Largest file read (cell images are kilobytes; a 40-megapixel 16-bit TIFF is ~240 MB).
MAX_FILE_BYTES = 512 * 1024 * 1024
#: Longest side of the copy of an image kept for on_image (a heat-map overlay, say).
KEPT_SIDE = 2048


class Predictor(Protocol):
    """The part of a Classifier a batch run needs (predict_pooled and `domain` only when the
    classifier has domain statistics)."""

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


def _domain_of(classifier: Predictor | None) -> tuple[DomainStats | None, str]:
    """The classifier's domain statistics and their hash, if it has them."""
    stats = getattr(classifier, "domain", None)
    spec = getattr(classifier, "spec", None)
    if stats is None or spec is None or not spec.domain_sha256:
        return None, ""
    return stats, spec.domain_sha256


OnImage = Callable[[ImageResult, np.ndarray | None], None]


@dataclass
class _Prepared:
    result: ImageResult
    image: np.ndarray | None = None
    size: int = -1
    mtime_ns: int = -1
    model_input: np.ndarray | None = None  # the image already resized to the model's input
    cells: list[_Prepared] | None = None  # a field image: one entry per cell found in it


def _input_resizer(classifier: Predictor | None) -> Callable[[np.ndarray], np.ndarray] | None:
    """The shared resize to the model's input size, run in the decode thread so it overlaps
    inference; the backend's preprocess then finds the image at size and only normalises."""
    if classifier is None:
        return None
    spec = getattr(classifier, "spec", None)
    if spec is None:  # a predictor that resizes itself
        return lambda rgb: rgb
    return lambda rgb: resize_to_input(rgb, spec.input_size, spec.interpolation)


def _rejudge(q: QualityMetrics, t: QualityThresholds) -> QualityMetrics:
    """Verdicts of stored measurements under the current thresholds."""
    return dataclasses.replace(
        q, too_dark=q.brightness < t.too_dark, too_bright=q.brightness > t.too_bright,
        stain_present=q.stain_ratio >= t.min_stain_ratio, blurry=q.laplacian_var < t.blur_threshold,
    )


def _from_store(hit: ImageResult, thresholds: QualityThresholds) -> ImageResult:
    if hit.quality is not None:
        hit.quality = _rejudge(hit.quality, thresholds)
        flag_field(hit, hit.quality.width, hit.quality.height)
    return hit


def stored_result(path: Path, store: ResultStore, model_sha256: str, domain_sha256: str,
                  thresholds: QualityThresholds) -> ImageResult | None:
    """The stored result of a file unchanged since it was stored (same size and modification
    time), found without reading the file; None otherwise."""
    try:
        hit = _known_hit(store, str(path), path.stat(), model_sha256, domain_sha256)
    except OSError:
        return None
    if hit is None:
        return None
    if domain_sha256 and hit.domain_score is not None:
        hit.in_domain = in_range(hit.domain_score)
    return _from_store(hit, thresholds)


def _known_hit(store: ResultStore, name: str, stat: os.stat_result, model_sha256: str,
               domain_sha256: str) -> ImageResult | None:
    """The stored result of a file whose size and modification time are as stored (its hash
    known without reading it)."""
    known = store.known_hash(name, stat.st_size, stat.st_mtime_ns)
    return _lookup(store, name, known, model_sha256, domain_sha256) if known else None


def _lookup(store: ResultStore, name: str, sha: str, model_sha256: str,
            domain_sha256: str, region: str = "") -> ImageResult | None:
    """A stored result that has everything the run wants (a domain score too, if asked)."""
    hit = store.get(name, sha, model_sha256, region=region, domain_sha256=domain_sha256)
    if hit is not None and domain_sha256 and hit.domain_score is None:
        return None
    return hit


def _prepare(path: Path, model_sha256: str, store: ResultStore | None,
             thresholds: QualityThresholds, need_pixels: bool,
             resize: Callable[[np.ndarray], np.ndarray] | None = None,
             domain_sha256: str = "", fields: FieldSearch | None = None) -> _Prepared:
    """Read, hash, look up, decode and quality-check one file; errors become error results.

    store may be None (no lookups); need_pixels decodes even a stored image (for on_image).
    With `fields` the image is a field: its cells are found and prepared one by one (`cells`).
    A cell path ('field.jpg#cell=x,y,w,h', core.cells) is that region of the file.
    """
    source, region = split_cell_path(str(path))
    if region:
        return _prepare_region(Path(source), region, model_sha256, store, thresholds,
                               need_pixels, resize, domain_sha256, fields)
    name = str(path)
    shown = printable(name)
    if not is_image_path(path):
        if not path.exists():
            return _Prepared(ImageResult.failed(name, f"{shown}: no such file or folder"))
        return _Prepared(ImageResult.failed(name, f"{shown}: not a supported image type "
                                                  f"({printable(path.suffix) or 'no extension'})"))
    try:
        stat = path.stat()
        if not S_ISREG(stat.st_mode):  # a FIFO would block, a device never end
            return _Prepared(ImageResult.failed(name, f"{shown}: not a regular file"))
        if stat.st_size > MAX_FILE_BYTES:
            return _Prepared(ImageResult.failed(
                name, f"{shown}: file too large ({stat.st_size:,} bytes, limit "
                      f"{MAX_FILE_BYTES:,})"))
        hit = None
        # an image that may be one cell is looked up whole (a field's cells one by one)
        whole = fields is None or fields.only_fields
        if store is not None and whole:
            hit = _whole_hit(_known_hit(store, name, stat, model_sha256, domain_sha256), fields)
            if hit is not None and not need_pixels:
                return _Prepared(_from_store(hit, thresholds))
        data = read_bytes(path, limit=MAX_FILE_BYTES)
        sha = sha256_bytes(data)
        if store is not None and whole and (hit is None or hit.content_sha256 != sha):
            hit = _whole_hit(_lookup(store, name, sha, model_sha256, domain_sha256), fields)
            if hit is not None and not need_pixels:
                return _Prepared(_from_store(hit, thresholds), size=stat.st_size,
                                 mtime_ns=stat.st_mtime_ns)
        loaded = decode_image(data, shown)
        rgb = loaded.rgb
        if fields is not None and fields.wants(rgb.shape[1], rgb.shape[0]):
            where = _Lookup(store, model_sha256, domain_sha256)
            cells = _field_cells(name, sha, rgb, fields, where, thresholds, need_pixels, resize,
                                 (stat.st_size, stat.st_mtime_ns))
            return _Prepared(ImageResult(path=name, content_sha256=sha), cells=cells)
        if hit is not None:  # stored result, pixels wanted by on_image
            return _Prepared(_from_store(hit, thresholds), _bounded(rgb), stat.st_size,
                             stat.st_mtime_ns)
        result = ImageResult(path=name, content_sha256=sha, quality=assess(rgb, thresholds))
        if loaded.frames > 1:
            result.error = f"note: page 1 of {loaded.frames} used"
        else:
            flag_field(result, rgb.shape[1], rgb.shape[0])
    except ImageLoadError as exc:
        return _Prepared(ImageResult.failed(name, printable(str(exc))))
    except FileNotFoundError:
        return _Prepared(ImageResult.failed(name, f"{shown}: file not found"))
    except StoreError:
        raise  # a damaged or unwritable store stops the run with one message
    except OSError as exc:
        return _Prepared(ImageResult.failed(name, f"{shown}: cannot read file "
                                                  f"({exc.strerror or exc})"))
    except Exception as exc:  # one odd file must not end a run of thousands
        return _Prepared(ImageResult.failed(name, f"{shown}: cannot process image ({exc!r})"))
    small = resize(rgb) if resize is not None else None
    # only what is still needed is kept while the chunk waits (a run's memory stays bounded
    # whatever the images' size): the model-sized copy, and a bounded copy for on_image
    kept = _bounded(rgb) if need_pixels else None
    return _Prepared(result, kept, stat.st_size, stat.st_mtime_ns, small)


def _whole_hit(hit: ImageResult | None, fields: FieldSearch | None) -> ImageResult | None:
    """A stored whole-image result, unless the image is a field the run searches for cells."""
    if hit is None or fields is None or hit.quality is None:
        return hit
    return None if fields.wants(hit.quality.width, hit.quality.height) else hit


def _prepare_region(path: Path, region: str, model_sha256: str, store: ResultStore | None,
                    thresholds: QualityThresholds, need_pixels: bool,
                    resize: Callable[[np.ndarray], np.ndarray] | None, domain_sha256: str,
                    fields: FieldSearch | None) -> _Prepared:
    """One region of a file (a cell of a field added or kept by hand): cropped as a found cell
    is (core.fields.cell_image), looked up and stored under the file's hash and the region."""
    name = str(path)
    shown = printable(name)
    try:
        stat = path.stat()
        if not S_ISREG(stat.st_mode) or stat.st_size > MAX_FILE_BYTES:
            return _Prepared(ImageResult.failed(name, f"{shown}: not a readable field image"))
        data = read_bytes(path, limit=MAX_FILE_BYTES)
        sha = sha256_bytes(data)
        rgb = decode_image(data, shown).rgb
        box = box_of(region)
        assert box is not None
        crop_px = fields.model.crop_px if fields is not None else MATEK_CROP_PX
        pixels = cell_image(rgb, box, crop_px)
    except (ImageLoadError, FieldError, ValueError) as exc:
        return _Prepared(ImageResult.failed(name, printable(str(exc))))
    except FileNotFoundError:
        return _Prepared(ImageResult.failed(name, f"{shown}: file not found"))
    except OSError as exc:
        return _Prepared(ImageResult.failed(name, f"{shown}: cannot read file "
                                                  f"({exc.strerror or exc})"))
    extra = {"box": box, "cut": is_cut(box, rgb.shape[1], rgb.shape[0]), "um_per_px": None,
             "scale_source": "by hand"}
    return _region_item(name, sha, region, pixels, extra, "",
                        _Lookup(store, model_sha256, domain_sha256), thresholds, need_pixels,
                        resize, (stat.st_size, stat.st_mtime_ns))


def _region_item(name: str, sha: str, region: str, pixels: np.ndarray, extra: dict,
                 note: str, lookup: _Lookup, thresholds: QualityThresholds, need_pixels: bool,
                 resize: Callable[[np.ndarray], np.ndarray] | None,
                 file: tuple[int, int]) -> _Prepared:
    """A cell of a field, cut out: its stored prediction, or ready to classify. A region's
    quality is not stored: it is measured on the crop."""
    quality = assess(pixels, thresholds)
    kept = pixels if need_pixels else None
    hit = lookup.get(name, sha, region)
    if hit is not None:
        hit.quality, hit.region, hit.error = quality, region, note
        hit.extra.update(extra)
        return _Prepared(hit, kept, *file)
    result = ImageResult(path=name, content_sha256=sha, region=region, quality=quality,
                         error=note, extra=extra)
    return _Prepared(result, kept, *file, resize(pixels) if resize is not None else None)


@dataclass(frozen=True)
class _Lookup:
    """Where and for what a field's cells are looked up."""

    store: ResultStore | None
    model_sha256: str
    domain_sha256: str

    def get(self, name: str, sha: str, region: str) -> ImageResult | None:
        if self.store is None:
            return None
        return _lookup(self.store, name, sha, self.model_sha256, self.domain_sha256, region)


def _field_cells(name: str, sha: str, rgb: np.ndarray, fields: FieldSearch, lookup: _Lookup,
                 thresholds: QualityThresholds, need_pixels: bool,
                 resize: Callable[[np.ndarray], np.ndarray] | None,
                 file: tuple[int, int]) -> list[_Prepared]:
    """One prepared cell per nucleated cell of a field (a field without any: one error)."""
    shown = printable(name)
    try:
        found = fields.search(rgb)
    except FieldError as exc:
        return [_Prepared(ImageResult.failed(name, f"{shown}: {exc}", sha))]
    if not found.cells:
        return [_Prepared(ImageResult.failed(
            name, f"{shown}: no nucleated cell found in this field", sha))]
    out = []
    note = "; ".join(f"note: {n}" for n in found.notes)
    for cell in found.cells:
        pixels = fields.cell_image(rgb, cell.box, found.background)
        extra = {"box": cell.box, "cut": cell.cut, "um_per_px": found.um_per_px,
                 "scale_source": found.scale_source}
        out.append(_region_item(name, sha, region_of(cell.box), pixels, extra, note, lookup,
                                thresholds, need_pixels, resize, file))
    return out


def _bounded(rgb: np.ndarray, limit: int = KEPT_SIDE) -> np.ndarray:
    return shrink_to(rgb, limit)[0]


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
    on_image: OnImage | None = None,
    fields: FieldSearch | None = None,
) -> Iterator[ImageResult]:
    """Yield one ImageResult per path, in order. classifier=None runs only the quality checks.

    With `fields` each image is a field photograph: one result per cell found in it (its
    `region` the box, `extra` the box, whether it was cut and the scale), or one error result.

    With a classifier, the store is used only when model_sha256 identifies the model. on_image,
    if given, sees each ok result with its decoded pixels (e.g. to write a CAM); stored images
    are then decoded too, but not re-classified.
    """
    thresholds = thresholds or QualityThresholds()
    batch_size = max(1, int(batch_size))
    need_pixels = on_image is not None
    lookup = store if (classifier is None or model_sha256) else None
    wanted_model = model_sha256 if classifier is not None else ""
    resize = _input_resizer(classifier)
    domain, domain_sha = _domain_of(classifier)

    def prepare_chunk(chunk: list[Path]) -> list[_Prepared]:
        out: list[_Prepared] = []
        for path in chunk:
            item = _prepare(path, wanted_model, lookup, thresholds, need_pixels, resize,
                            domain_sha, fields)
            out.extend(item.cells if item.cells is not None else [item])
        return out

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="marrow-decode") as pool:
        pending: deque[Future[list[_Prepared]]] = deque()
        try:
            for chunk in _chunks(paths, batch_size):
                pending.append(pool.submit(prepare_chunk, chunk))
                if len(pending) > PREFETCH:
                    yield from _finish(pending.popleft().result(), classifier, classes,
                                       model_sha256, model_name, store, on_image, domain,
                                       domain_sha)
            while pending:
                yield from _finish(pending.popleft().result(), classifier, classes,
                                   model_sha256, model_name, store, on_image, domain,
                                   domain_sha)
        finally:  # stopped early (consumer closed the generator, Ctrl-C): drop queued work
            for future in pending:
                future.cancel()


Outcome = tuple[np.ndarray, float | None] | str


def _run(classifier: Predictor, images: list[np.ndarray], domain: DomainStats | None,
         ) -> list[tuple[np.ndarray, float | None]]:
    if domain is None:
        return [(p, None) for p in classifier.predict(images)]
    probs, pooled = classifier.predict_pooled(images)  # type: ignore[attr-defined]
    scores = domain.score(pooled, colour_features(images))
    return [(p, float(s)) for p, s in zip(probs, scores)]


def _classify(todo: list[_Prepared], classifier: Predictor, domain: DomainStats | None,
              ) -> list[Outcome]:
    """(probabilities, domain score) per image; if the batch fails, each image alone
    (failures: the message)."""
    images = [p.model_input for p in todo]
    try:
        return list(_run(classifier, images, domain))
    except Exception:
        pass
    out: list[Outcome] = []
    for image in images:
        try:
            out.append(_run(classifier, [image], domain)[0])
        except Exception as exc:
            out.append(f"classification failed ({exc!r})")
    return out


def _finish(prepared: list[_Prepared], classifier: Predictor | None, classes: Sequence[str],
            model_sha256: str, model_name: str, store: ResultStore | None,
            on_image: OnImage | None, domain: DomainStats | None = None,
            domain_sha256: str = "") -> Iterator[ImageResult]:
    todo = [p for p in prepared if p.model_input is not None and not p.result.from_store]
    if classifier is not None and todo:
        for item, out in zip(todo, _classify(todo, classifier, domain)):
            if isinstance(out, str):
                item.result = ImageResult.failed(item.result.path, f"{item.result.path}: {out}",
                                                 item.result.content_sha256)
                item.image = None
                continue
            probs, score = out
            item.result.probabilities = np.asarray(probs, dtype=np.float32)
            item.result.classes = tuple(classes)
            item.result.model_sha256 = model_sha256
            if score is not None:
                item.result.domain_score, item.result.domain_sha256 = score, domain_sha256
    for item in prepared:
        result = item.result
        if domain is not None and result.domain_score is not None:
            result.in_domain = in_range(result.domain_score)
        # new results, and stored ones reached by content under a new path or changed file
        if store is not None and result.ok and (not result.from_store or item.size >= 0):
            store.put(result, item.size, item.mtime_ns, model_name)
        if on_image is not None and result.ok and item.image is not None:
            try:
                on_image(result, item.image)
            except Exception as exc:  # a per-image output that failed is that image's error
                result = dataclasses.replace(
                    result, status="error",
                    error=f"{printable(result.path)}: classified, but its output could not be "
                          f"written ({exc.strerror if isinstance(exc, OSError) else exc!r})")
        item.image = item.model_input = None
        yield result
