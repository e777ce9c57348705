"""`marrow classify PATH... -o report.csv`: classify every image into a CSV, with quality checks."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop.commands._batch_args import (
    add_common_arguments,
    add_engine_arguments,
    add_field_arguments,
    add_model_arguments,
    check_engine_arguments,
    check_field_arguments,
)

if TYPE_CHECKING:
    import numpy as np

    from marrow_desktop.core.results import ImageResult
    from marrow_desktop.inference.classifier import Classifier


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify", help="classify cell images into a CSV report (with quality checks)",
        description="Classify every image (files and folders, natural order) and write one CSV "
        "row per image as it goes. Reruns continue an existing report and reuse the results "
        "store, so finished images are not recomputed; Ctrl-C stops cleanly. With --fields the "
        "images are photographs of smear fields: one row per nucleated cell found in them.",
    )
    add_common_arguments(p)
    add_model_arguments(p)
    add_field_arguments(p)
    p.add_argument("--cam-dir", type=Path, metavar="DIR",
                   help="also write a Grad-CAM overlay PNG per image into DIR")
    add_engine_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.commands._batch_common import field_search, load_model, run_streaming

    check_field_arguments(args)
    check_engine_arguments(args)
    classifier = load_model(args)
    spec = classifier.spec
    writers = [w for w in (CamWriter(classifier, args.cam_dir) if args.cam_dir else None,
                           CropWriter(args.crops_dir) if args.crops_dir else None) if w]
    return run_streaming(args, classifier, classes=spec.classes, model_sha256=spec.model_sha256,
                         model_name=spec.name, on_image=_both(writers) if writers else None,
                         fields=field_search(args, spec))


def _both(writers: list) -> object:
    """One on_image callback calling each writer in turn."""
    if len(writers) == 1:
        return writers[0]

    def call(result: ImageResult, rgb: np.ndarray | None) -> None:
        for writer in writers:
            writer(result, rgb)
    return call


#: Longest file-name stem of a written file (bytes; names are limited to 255 bytes).
MAX_STEM_BYTES = 200


class CellFiles:
    """A folder of per-cell PNGs with unique names: the image's stem, the box of a field's cell,
    and the content hash where names would clash or grow too long."""

    def __init__(self, folder: Path, what: str) -> None:
        from marrow_desktop.core.errors import MarrowError

        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".marrow-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise MarrowError(f"{folder}: cannot write {what} here "
                              f"({exc.strerror or exc})") from exc
        self.folder = folder
        self._used: set[str] = set()

    def write(self, result: ImageResult, suffix: str, rgb: np.ndarray) -> Path | None:
        import cv2

        from marrow_desktop.core.cells import box_of

        stem = Path(result.path).stem
        if len(os.fsencode(stem)) > MAX_STEM_BYTES:  # keep the name within 255 bytes
            stem = os.fsdecode(os.fsencode(stem)[:MAX_STEM_BYTES])
            stem = f"{stem}_{result.content_sha256[:8]}"
        box = box_of(result.region)
        if box is not None:
            stem = f"{stem}_x{box[0]}_y{box[1]}"
        name = f"{stem}{suffix}.png"
        if name in self._used:  # the same file name in another folder
            name = f"{stem}_{result.content_sha256[:8]}{suffix}.png"
        self._used.add(name)
        ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            return None
        path = self.folder / name  # write_bytes, not cv2.imwrite: non-ASCII paths on Windows
        path.write_bytes(png.tobytes())
        return path


class CamWriter:
    """on_image callback: the classifier's CAM of the top class over the image, as a PNG."""

    def __init__(self, classifier: Classifier, folder: Path) -> None:
        self.classifier = classifier
        self.files = CellFiles(folder, "heat maps")

    def __call__(self, result: ImageResult, rgb: np.ndarray | None) -> None:
        from marrow_desktop.core.cam import overlay

        if rgb is None or result.probabilities is None:
            return
        cam = self.classifier.explain(rgb, int(result.probabilities.argmax())).cam
        self.files.write(result, "_cam", overlay(rgb, cam))


class CropWriter:
    """on_image callback: each found cell's crop as a PNG (its path goes into the report)."""

    def __init__(self, folder: Path) -> None:
        self.files = CellFiles(folder, "cell crops")

    def __call__(self, result: ImageResult, rgb: np.ndarray | None) -> None:
        if rgb is not None and result.region:
            path = self.files.write(result, "", rgb)
            if path is not None:
                result.extra["crop_path"] = str(path)
