"""What the case commands share (report, trainset, verify): the case's options, its folder and
images, and its results from the store or computed now."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop.commands._batch_args import _positive_int, add_model_arguments
from marrow_desktop.core.paths import default_store_path

if TYPE_CHECKING:
    from marrow_desktop.core.results import ImageResult
    from marrow_desktop.core.store import ResultStore
    from marrow_desktop.inference.classifier import Classifier


def add_case_arguments(p: argparse.ArgumentParser) -> None:
    """Model, store and folder options of `marrow report` and `marrow trainset`."""
    add_model_arguments(p)
    p.add_argument("--store", type=Path, metavar="PATH",
                   help=f"results store with the case's reviews (default {default_store_path()})")
    p.add_argument("-r", "--recursive", action=argparse.BooleanOptionalAction, default=True,
                   help="include sub-folders, as the viewer does by default (default: yes)")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N",
                   help="images decoded and classified together (default 16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def case_folder(folder: str) -> Path:
    from marrow_desktop.core.errors import MarrowError

    path = Path(folder)
    if not path.is_dir():
        raise MarrowError(f"{folder}: not a folder (a case is a folder of cell images)")
    return path.absolute()


def case_images(folder: Path, recursive: bool, leave_out: Path | None = None) -> list[Path]:
    """The case's image files (absolute, natural order), without any under `leave_out` (an
    output folder inside the case)."""
    from marrow_desktop.core.discovery import find_images
    from marrow_desktop.core.errors import MarrowError

    skip = os.path.normcase(os.path.abspath(leave_out)) if leave_out is not None else ""

    def keep(path: Path) -> bool:
        here = os.path.normcase(str(path))
        return not skip or not (here == skip or here.startswith(skip.rstrip(os.sep) + os.sep))

    images = [p.absolute() for p in find_images([folder], recursive=recursive)]
    images = [p for p in images if keep(p)]
    if not images:
        raise MarrowError(f"no images found in {folder}")
    return images


def classify_case(args: argparse.Namespace, images: list[Path], classifier: Classifier,
                  store: ResultStore, blur_threshold: float) -> list[ImageResult]:
    """Results of every image (with --fields: of every cell found in each field), in order:
    from the store where it has them, else computed now (and stored); unreadable images are
    error rows."""
    import sys

    from tqdm import tqdm

    from marrow_desktop.commands._batch_common import field_search
    from marrow_desktop.core.batch import run_batch
    from marrow_desktop.core.quality import QualityThresholds

    spec = classifier.spec
    fields = field_search(args, spec)
    results = run_batch(images, classifier, classes=spec.classes,
                        model_sha256=spec.model_sha256, model_name=spec.name, store=store,
                        batch_size=args.batch_size,
                        thresholds=QualityThresholds(blur_threshold=blur_threshold),
                        fields=fields)
    out: list[ImageResult] = []
    with tqdm(total=len(images), unit="field" if fields else "img", file=sys.stderr,
              disable=args.no_progress, dynamic_ncols=True, mininterval=0.5) as bar:
        try:
            for result in results:
                another_image = not out or out[-1].path != result.path  # not a field's next cell
                out.append(result)
                if another_image:
                    bar.update()
        finally:
            results.close()
    return out
