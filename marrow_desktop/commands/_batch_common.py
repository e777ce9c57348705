"""What `marrow classify` and `marrow qc` share: options, the streaming loop, the summary.

Imported only inside the commands' run(), so `marrow --help` stays light.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from marrow_desktop.core.batch import OnImage, Predictor, run_batch
from marrow_desktop.core.discovery import find_images, skipped_lines
from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.paths import default_store_path
from marrow_desktop.core.quality import QualityThresholds, blurriest_fraction
from marrow_desktop.core.report import ReportWriter, unsafe_cell
from marrow_desktop.core.report_parquet import ParquetReportWriter, is_parquet, parquet_rows
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review, cell_reasons
from marrow_desktop.core.store import ResultStore, StoreError
from marrow_desktop.core.text import printable

if TYPE_CHECKING:
    from marrow_desktop.core.fields import FieldSearch
    from marrow_desktop.core.model_spec import ModelSpec
    from marrow_desktop.inference.classifier import Classifier


def thresholds_from(args: argparse.Namespace) -> QualityThresholds:
    if args.blur_threshold is None:
        return QualityThresholds()
    return QualityThresholds(blur_threshold=args.blur_threshold)


def open_store(args: argparse.Namespace) -> ResultStore | None:
    """The results store of --store (default: the shared one); None with --no-store."""
    if getattr(args, "no_store", False):
        return None
    path = args.store or default_store_path()
    try:
        return ResultStore(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the results store ({exc})") from exc


def load_model(args: argparse.Namespace) -> Classifier:
    """The model of --model (a name or a path; default the bundled one) on --backend with
    --threads."""
    from marrow_desktop.core.errors import ModelFileError
    from marrow_desktop.core.model_registry import find_model
    from marrow_desktop.core.paths import default_model_path
    from marrow_desktop.inference.loader import load_classifier

    if args.model is None and not default_model_path().is_file():
        raise ModelFileError(f"{default_model_path()}: no bundled model here; pass --model FILE "
                             "or set MARROW_MODELS_DIR")
    model = find_model(args.model) if args.model else None
    return load_classifier(model, backend=args.backend, threads=args.threads)


class CaseReviews:
    """The reviews of the cases the inputs belong to (each folder argument is a case; files
    belong to their folder's), so classify's CSV carries them as the case report does."""

    def __init__(self, inputs: list[str], store: ResultStore | None) -> None:
        from marrow_desktop.core.case_files import open_case

        self._cases = []
        for arg in inputs:
            handle = open_case([arg], store)
            reader = handle.reader()
            reviews = reader.reviews(handle.case_id) if reader is not None else {}
            root = os.path.abspath(arg if os.path.isdir(arg) else os.path.dirname(arg))
            self._cases.append((root.rstrip(os.sep) + os.sep, handle.case_id, reviews))
            handle.close()
        self._cases.sort(key=lambda c: len(c[0]), reverse=True)  # innermost folder first

    def of(self, result: ImageResult) -> tuple[str, Review | None]:
        """The case id and the person's review of a result's cell."""
        for root, case_id, reviews in self._cases:
            if result.path.startswith(root):
                return case_id, reviews.get(result.cell) if result.cell else None
        return "", None


def unchanged_file(store: ResultStore | None) -> Callable[[dict[str, str]], bool]:
    """Whether a row of an earlier run still describes its file (same content): the store's
    hash of an unchanged file, else the file's own. A file that cannot be read now keeps its
    row."""
    from marrow_desktop.core.hashing import sha256_file

    def keep(row: dict[str, str]) -> bool:
        path, sha = unsafe_cell(row.get("path", "")), row.get("sha256", "")
        if not sha:
            return False
        try:
            st = os.stat(path)
            known = store.known_hash(path, st.st_size, st.st_mtime_ns) if store else None
            return (known or sha256_file(path)) == sha
        except OSError:
            return True
    return keep


def field_search(args: argparse.Namespace, spec: ModelSpec) -> FieldSearch | None:
    """The field search of a run with --fields (None without), at the model's crop scale."""
    from marrow_desktop.core.fields import FieldSearch, ModelScale

    if not getattr(args, "fields", False):
        return None
    return FieldSearch(ModelScale.from_info(spec.info), um_per_px=args.um_per_px)


def open_report(args: argparse.Namespace, classes: tuple[str, ...], model_sha256: str,
                store: ResultStore | None, fields: bool = False
                ) -> ReportWriter | ParquetReportWriter:
    """The report of -o: CSV, or Parquet for a .parquet name."""
    writer = ParquetReportWriter if is_parquet(args.output) else ReportWriter
    try:
        return writer(args.output, classes, resume=not args.overwrite,
                      model_sha256=model_sha256, keep=unchanged_file(store), fields=fields)
    except OSError as exc:
        raise MarrowError(f"{args.output}: cannot write the report "
                          f"({exc.strerror or exc})") from exc


def discover(args: argparse.Namespace, done: set[str]
             ) -> tuple[Callable[[], Iterator[Path]], int, list[tuple[str, str]]]:
    """A fresh iterator over the images still to do (absolute paths), how many there are, and
    the files of the folders that are not images (path, why).

    Paths are streamed twice (count, then run) rather than held, so memory stays flat.
    """
    skipped: list[tuple[str, str]] = []

    def todo(on_skip=None) -> Iterator[Path]:
        for path in find_images(args.paths, recursive=args.recursive, on_skip=on_skip):
            path = path.absolute()
            if printable(str(path)) not in done:  # the report holds printable paths
                yield path

    count = sum(1 for _ in todo(lambda p, why: skipped.append((printable(str(p)), why))))
    return todo, count, skipped


@dataclass
class Summary:
    """Counts over a whole report (rows kept from an earlier run included)."""

    images: int = 0
    errors: int = 0
    blurry: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    sharpness: list[float] = field(default_factory=list)
    first_errors: list[str] = field(default_factory=list)
    in_domain: list[bool] = field(default_factory=list)


def _by_image(results: Iterator[ImageResult]) -> Iterator[list[ImageResult]]:
    """Consecutive results of the same image (a field's cells) as one group."""
    group: list[ImageResult] = []
    for result in results:
        if group and result.path != group[0].path:
            yield group
            group = []
        group.append(result)
    if group:
        yield group


def summarize(report: Path) -> Summary:
    """Read a finished report back (streaming) and count classes, errors and blurry images."""
    out = Summary()
    with contextlib.ExitStack() as stack:
        if is_parquet(report):
            rows: Iterator[dict[str, str]] = parquet_rows(report)
        else:
            rows = csv.DictReader(stack.enter_context(
                open(report, newline="", encoding="utf-8-sig")))
        for row in rows:
            out.images += 1
            if row.get("status") != "ok":
                out.errors += 1
                if len(out.first_errors) < 5:
                    out.first_errors.append(unsafe_cell(row.get("error") or ""))
                continue
            if row.get("predicted_class"):
                out.classes[row["predicted_class"]] += 1
            if row.get("blurry") == "1":
                out.blurry += 1
            if row.get("laplacian_var"):
                out.sharpness.append(float(row["laplacian_var"]))
            if row.get("in_domain") in ("0", "1"):
                out.in_domain.append(row["in_domain"] == "1")
    return out


def domain_lines(summary: Summary, classifier: Predictor | None) -> list[str]:
    """The lab-shift verdict of the report's cells (or why there is none)."""
    from marrow_desktop.core.domain import case_verdict

    if classifier is None:
        return []
    stats = getattr(classifier, "domain", None)
    if stats is not None and not summary.in_domain:
        return []
    if stats is None:
        return [f"note: {getattr(classifier, 'domain_error', 'no lab-shift check')}"]
    verdict = case_verdict(summary.in_domain, stats.false_alarm)
    text = verdict.text()
    return [f"WARNING: {text}" if verdict.flagged else f"lab-shift check: {text}"]


def print_summary(summary: Summary, thresholds: QualityThresholds, report: Path,
                  classifier: Predictor | None = None) -> None:
    lines = [f"{summary.images:,} images in {report}: {summary.images - summary.errors:,} ok, "
             f"{summary.errors:,} errors"]
    if summary.classes:
        lines.append("predicted: " + ", ".join(
            f"{code} {n}" for code, n in sorted(summary.classes.items())))
    values = np.asarray(summary.sharpness)
    if len(values):
        lines.append(f"blurry (Laplacian variance < {thresholds.blur_threshold:g}): "
                     f"{summary.blurry:,} of {len(values):,}")
        flags = blurriest_fraction(values, thresholds.blur_rank_fraction)
        if flags.any():
            lines.append(f"blurriest {thresholds.blur_rank_fraction:.0%} of these images "
                         f"(the original project's ranking): {int(flags.sum()):,}, Laplacian "
                         f"variance <= {values[flags].max():.2f}")
    lines += domain_lines(summary, classifier)
    lines += [f"  error: {e}" for e in summary.first_errors]
    print("\n".join(lines))


def run_streaming(
    args: argparse.Namespace,
    classifier: Predictor | None,
    *,
    classes: tuple[str, ...] = (),
    model_sha256: str = "",
    model_name: str = "",
    on_image: OnImage | None = None,
    fields: FieldSearch | None = None,
) -> int:
    """Stream the images through run_batch into the report, with progress; Ctrl-C stops cleanly.

    In a field run a field's rows are written one after another once the whole field is done
    (searched and every cell classified), so an interrupted run leaves whole fields."""
    thresholds = thresholds_from(args)
    store = open_store(args)  # before the report: --overwrite empties it only when all is well
    try:
        writer = open_report(args, classes, model_sha256, store, fields is not None)
    except BaseException:
        if store is not None:
            store.close()
        raise
    if writer.dropped:
        print(f"{writer.dropped:,} row(s) of {writer.path} describe files that changed since: "
              "they are done again", file=sys.stderr)
    done = cells = 0
    try:
        cases = CaseReviews(list(args.paths), store) if classifier is not None else None
        todo, count, skipped = discover(args, writer.done)
        if not count and not writer.done:
            missing = [p for p in args.paths if not os.path.exists(p)]
            if missing:
                raise MarrowError(f"{printable(str(missing[0]))}: no such file or folder")
            why = f" ({'; '.join(skipped_lines(skipped, 3))})" if skipped else ""
            raise MarrowError("no images found in "
                              + ", ".join(printable(str(p)) for p in args.paths) + why)
        if writer.done:
            print(f"continuing {writer.path}: {len(writer.done):,} images already done, "
                  f"{count:,} to go", file=sys.stderr)
        if getattr(args, "engine", "local") == "dask" and classifier is not None:
            from marrow_desktop.commands._dask_engine import dask_results

            results = dask_results(args, todo(), classifier, store, thresholds, fields)
        else:
            results = run_batch(todo(), classifier, classes=classes, model_sha256=model_sha256,
                                model_name=model_name, store=store, batch_size=args.batch_size,
                                thresholds=thresholds, on_image=on_image, fields=fields)
        start = time.perf_counter()

        def write(result: ImageResult) -> None:
            if cases is not None:
                case_id, review = cases.of(result)
                writer.write(result, review, cell_reasons(result, case_id=case_id))
            else:
                writer.write(result)

        with tqdm(total=count, unit="field" if fields else "img", file=sys.stderr,
                  disable=args.no_progress, dynamic_ncols=True, mininterval=0.5,
                  smoothing=0.1) as bar:
            try:
                for group in _by_image(results) if fields else ([r] for r in results):
                    for result in group:
                        write(result)
                    cells += len(group)
                    done += 1
                    bar.update()
            finally:
                results.close()
    except KeyboardInterrupt:
        print(f"\ninterrupted after {done:,} images; the report {writer.path} keeps every "
              "finished row: run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        writer.close()
        if store is not None:
            store.close()
    elapsed = time.perf_counter() - start
    if done and fields is not None:
        print(f"{done:,} fields searched in {elapsed:.1f} s ({done / elapsed:.2f} fields/s): "
              f"{cells:,} rows", file=sys.stderr)
    elif done:
        print(f"{done:,} images processed in {elapsed:.1f} s ({done / elapsed:.1f} images/s)",
              file=sys.stderr)
    summary = summarize(writer.path)
    print_summary(summary, thresholds, writer.path, classifier)
    for line in skipped_lines(skipped):
        print(line)
    if summary.images and summary.errors == summary.images:
        print("error: no image could be processed", file=sys.stderr)
        return 1
    return 0
