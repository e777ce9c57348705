"""The work the viewer's workers do: plain functions over the core, no Qt (testable headless).

Each function here runs on a worker thread (see gui/workers.py); none is ever called from a slot
on the GUI thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from marrow_desktop.core.batch import run_batch
from marrow_desktop.core.cells import box_of, split_cell_path
from marrow_desktop.core.discovery import find_images
from marrow_desktop.core.fields import (
    MATEK_CROP_PX,
    MATEK_RED_CELL_PX,
    FieldSearch,
    ModelScale,
    cell_image,
    flag_field,
)
from marrow_desktop.core.hashing import sha256_bytes
from marrow_desktop.core.imageio import decode_image, read_bytes
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.paths import default_model_path, models_dir, samples_dir
from marrow_desktop.core.quality import QualityMetrics, QualityThresholds, assess, unsharp_mask
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.store import ResultStore

if TYPE_CHECKING:
    from marrow_desktop.gui.workers import Ticket
    from marrow_desktop.inference.classifier import Classifier, Explanation

#: Longest side of the copy of an image the panels display (the model sees the full image).
DISPLAY_MAX = 1024


# model -----------------------------------------------------------------------------------------
class SerializedClassifier:
    """A classifier whose calls take turns (batch predict vs. the selected image's CAM).

    Grad-CAM hooks of the PyTorch backend are not safe against a concurrent forward pass, and on
    a 2-core PC running two ONNX sessions at once only slows both down. Not a QObject.
    """

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.spec: ModelSpec = inner.spec
        self.backend: str = inner.backend
        self.domain = inner.domain
        self.domain_error = inner.domain_error
        self._lock = threading.Lock()

    @property
    def device_name(self) -> str:
        return self.inner.device_name

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        with self._lock:
            return self.inner.predict(images)

    def predict_pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self.inner.predict_pooled(images)

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        with self._lock:
            return self.inner.explain(image, class_index)


def model_path_for(custom: str) -> Path:
    """The chosen model (a name or a path, core.model_registry), or the bundled one."""
    from marrow_desktop.core.model_registry import find_model

    return find_model(custom) if custom else default_model_path()


def model_card_text(spec: ModelSpec | None) -> str:
    """models/MODEL_CARD.md (beside the model, else the bundled one), or the spec's info."""
    candidates = []
    if spec is not None and spec.path is not None:
        candidates.append(spec.path.parent / "MODEL_CARD.md")
    candidates.append(models_dir() / "MODEL_CARD.md")
    for card in candidates:
        if card.is_file():
            try:
                return card.read_text(encoding="utf-8")
            except OSError:
                continue
    if spec is None:
        return "_No model is loaded._"
    classes = ", ".join(f"{c} ({n})" for c, n in zip(spec.classes, spec.class_names))
    lines = [f"# {spec.name}", "", f"- Architecture: {spec.architecture}",
             f"- Version: {spec.version}", f"- Input size: {spec.input_size} px",
             f"- Classes: {classes}",
             f"- Softmax temperature: {spec.temperature:g}"]
    for key, value in spec.info.items():
        title = str(key).replace("_", " ").capitalize()
        if isinstance(value, dict):
            lines += ["", f"## {title}", ""]
            lines += [f"- {str(k).replace('_', ' ')}: {_short(v)}" for k, v in value.items()]
        else:
            lines.append(f"- {title}: {_short(value)}")
    return "\n".join(lines)


def credits_text() -> str:
    """The data credit of the bundled samples (resources/samples/CREDITS.md), '' if missing."""
    try:
        return (samples_dir() / "CREDITS.md").read_text(encoding="utf-8")
    except OSError:
        return ""


def _short(value: object, limit: int = 300) -> str:
    """A metadata value as readable text (floats rounded, mappings as 'key value' pairs)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        text = ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_short(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit] + " …"


def load_model(custom_path: str, backend_choice: str, threads: int | None = None,
               ) -> SerializedClassifier:
    """Load the model with the one backend resolver of the CLI (raises ModelFileError)."""
    from marrow_desktop.inference.loader import load_classifier

    return SerializedClassifier(load_classifier(model_path_for(custom_path), backend_choice,
                                                threads=threads))


# folders ---------------------------------------------------------------------------------------
def list_images(sources: Sequence[str], recursive: bool = True) -> list[str]:
    """Image paths of folders and/or files, in natural order."""
    return list(iter_images(sources, recursive))


def iter_images(sources: Sequence[str], recursive: bool = True,
                skipped: list[tuple[str, str]] | None = None) -> Iterator[str]:
    """The same, one path at a time (the browser fills while a big folder is still listed);
    files that are not images go into `skipped` as (path, why)."""
    on_skip = (lambda p, why: skipped.append((str(p), why))) if skipped is not None else None
    for path in find_images(sources, recursive=recursive, on_skip=on_skip):
        yield str(path)


def model_scale(classifier: SerializedClassifier | None) -> ModelScale:
    """The scale of the model's training crops (the matek7 crops' without a model)."""
    return ModelScale.from_info(classifier.spec.info) if classifier is not None \
        else ModelScale(MATEK_RED_CELL_PX, MATEK_CROP_PX)


def field_search(classifier: SerializedClassifier | None,
                 um_per_px: float = 0.0) -> FieldSearch:
    """How the viewer searches field photographs: only images that look like fields, at the
    model's crop scale, with the user's micrometres per pixel (0: measured from red cells)."""
    return FieldSearch(model_scale(classifier), um_per_px=um_per_px or None, only_fields=True)


def batch_results(paths: Sequence[str], classifier: SerializedClassifier | None,
                  store: ResultStore | None, batch_size: int,
                  thresholds: QualityThresholds,
                  fields: FieldSearch | None = None) -> Iterator[ImageResult]:
    """The folder run: core.batch.run_batch with the loaded model (None: quality only); with
    `fields`, the cells of field photographs are found and classified one by one."""
    spec = classifier.spec if classifier is not None else None
    yield from run_batch(
        (Path(p) for p in paths), classifier,
        classes=spec.classes if spec else (), model_sha256=spec.model_sha256 if spec else "",
        model_name=spec.name if spec else "", store=store, batch_size=batch_size,
        thresholds=thresholds, fields=fields,
    )


# the selected image ----------------------------------------------------------------------------
@dataclass
class Analysis:
    """Everything the panels show for one image."""

    path: str
    sha256: str
    display: np.ndarray  # RGB copy for the panels (<= DISPLAY_MAX px)
    full: np.ndarray  # decoded image, for CAMs of other classes
    quality: QualityMetrics
    result: ImageResult  # quality + probabilities, as the batch would have made it
    probabilities: np.ndarray | None = None
    class_index: int = -1
    cam: np.ndarray | None = None  # display-sized, [0, 1]


def display_copy(rgb: np.ndarray, limit: int = DISPLAY_MAX) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = limit / max(h, w)
    if scale >= 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def resolve_target(probabilities: np.ndarray, target: str, classes: Sequence[str]) -> int:
    """'top', 'second' or a class code -> class index."""
    order = np.argsort(-probabilities, kind="stable")
    if target == "second" and len(order) > 1:
        return int(order[1])
    if target in classes:
        return list(classes).index(target)
    return int(order[0])


def _display_cam(explanation: Explanation, display: np.ndarray) -> np.ndarray:
    h, w = display.shape[:2]
    return cv2.resize(explanation.cam.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def analyze_image(path: str, classifier: SerializedClassifier | None, thresholds: QualityThresholds,
                  store: ResultStore | None = None, target: str = "top",
                  ticket: Ticket | None = None, field: bool = False) -> Analysis | None:
    """Decode, measure quality, classify and explain one image (None when superseded).

    A cell of a field ('field.jpg#cell=x,y,w,h') is cut as the batch cuts it; a field whose
    cells are the case's (`field`) is shown and measured, not classified as one cell."""
    source, region = split_cell_path(path)
    data = read_bytes(source)
    sha = sha256_bytes(data)
    rgb = decode_image(data, source).rgb
    if region:
        rgb = cell_image(rgb, box_of(region), model_scale(classifier).crop_px)  # type: ignore[arg-type]
    quality = assess(rgb, thresholds)
    result = ImageResult(path=source, content_sha256=sha, region=region, quality=quality)
    if field:
        classifier = None
    else:
        flag_field(result, rgb.shape[1], rgb.shape[0])
    analysis = Analysis(path, sha, display_copy(rgb), rgb, quality, result)
    if ticket is not None and ticket.stale:
        return None
    if classifier is not None:
        spec = classifier.spec
        explanation = classifier.explain(rgb)
        probs = np.asarray(explanation.probabilities, dtype=np.float32)
        index = resolve_target(probs, target, spec.classes)
        if index != explanation.class_index and not (ticket is not None and ticket.stale):
            explanation = classifier.explain(rgb, index)
        analysis.probabilities = probs
        analysis.class_index = index
        analysis.cam = _display_cam(explanation, analysis.display)
        result.probabilities = probs
        result.classes = tuple(spec.classes)
        result.model_sha256 = spec.model_sha256
    if store is not None and not field:
        _remember(store, result, source, classifier)
    return analysis


@dataclass
class FieldPicture:
    """A field photograph as the field view shows it."""

    path: str
    display: np.ndarray  # RGB, longest side <= FIELD_DISPLAY_MAX
    scale: float  # display pixels per source pixel
    width: int  # the source's size
    height: int


FIELD_DISPLAY_MAX = 2048


def field_picture(path: str) -> FieldPicture:
    """Decode a field photograph for the field view (boxes are drawn in source pixels)."""
    rgb = decode_image(read_bytes(path), path).rgb
    display = display_copy(rgb, FIELD_DISPLAY_MAX)
    return FieldPicture(path, display, display.shape[1] / rgb.shape[1], rgb.shape[1],
                        rgb.shape[0])


def _remember(store: ResultStore, result: ImageResult, path: str,
              classifier: SerializedClassifier | None) -> None:
    """Keep what the selection computed, so a later batch or reopen need not redo it."""
    try:
        st = os.stat(path)
        name = classifier.spec.name if classifier is not None else ""
        store.put(result, st.st_size, st.st_mtime_ns, name)
    except OSError:
        pass


def explain_class(full: np.ndarray, display_shape: tuple[int, ...],
                  classifier: SerializedClassifier, class_index: int) -> tuple[int, np.ndarray]:
    """CAM of one class, resized to the displayed image."""
    explanation = classifier.explain(full, class_index)
    h, w = display_shape[:2]
    cam = cv2.resize(explanation.cam.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return class_index, cam


def sharpen(display: np.ndarray, amount: float) -> tuple[float, np.ndarray]:
    """Unsharp-masked copy of the displayed image."""
    return amount, unsharp_mask(display, amount)
