"""`marrow classify PATH... -o report.csv`: classify every image into a CSV, with quality checks."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop.commands._batch_args import add_common_arguments, add_model_arguments

if TYPE_CHECKING:
    import numpy as np

    from marrow_desktop.core.results import ImageResult
    from marrow_desktop.inference.classifier import Classifier


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify", help="classify cell images into a CSV report (with quality checks)",
        description="Classify every image (files and folders, natural order) and write one CSV "
        "row per image as it goes. Reruns continue an existing report and reuse the results "
        "store, so finished images are not recomputed; Ctrl-C stops cleanly.",
    )
    add_common_arguments(p)
    add_model_arguments(p)
    p.add_argument("--cam-dir", type=Path, metavar="DIR",
                   help="also write a Grad-CAM overlay PNG per image into DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.commands._batch_common import load_model, run_streaming

    classifier = load_model(args)
    spec = classifier.spec
    on_image = CamWriter(classifier, args.cam_dir) if args.cam_dir else None
    return run_streaming(args, classifier, classes=spec.classes, model_sha256=spec.model_sha256,
                         model_name=spec.name, on_image=on_image)


#: Longest file-name stem of a heat map (bytes; names are limited to 255 bytes).
MAX_STEM_BYTES = 200


class CamWriter:
    """on_image callback: the classifier's CAM of the top class over the image, as a PNG."""

    def __init__(self, classifier: Classifier, folder: Path) -> None:
        from marrow_desktop.core.errors import MarrowError

        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".marrow-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise MarrowError(f"{folder}: cannot write heat maps here "
                              f"({exc.strerror or exc})") from exc
        self.classifier = classifier
        self.folder = folder
        self._used: set[str] = set()

    def __call__(self, result: ImageResult, rgb: np.ndarray | None) -> None:
        import cv2

        from marrow_desktop.core.cam import overlay

        if rgb is None or result.probabilities is None:
            return
        cam = self.classifier.explain(rgb, int(result.probabilities.argmax())).cam
        stem = Path(result.path).stem
        if len(os.fsencode(stem)) > MAX_STEM_BYTES:  # keep the name within 255 bytes
            stem = os.fsdecode(os.fsencode(stem)[:MAX_STEM_BYTES])
            stem = f"{stem}_{result.content_sha256[:8]}"
        name = f"{stem}_cam.png"
        if name in self._used:  # the same file name in another folder
            name = f"{stem}_{result.content_sha256[:8]}_cam.png"
        self._used.add(name)
        ok, png = cv2.imencode(".png", cv2.cvtColor(overlay(rgb, cam), cv2.COLOR_RGB2BGR))
        if ok:  # write_bytes, not cv2.imwrite: non-ASCII paths work on Windows too
            (self.folder / name).write_bytes(png.tobytes())
