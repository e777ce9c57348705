"""Headless self-test of an installation: `marrow-desktop --selftest` or `marrow selftest`.

Loads the bundled model, classifies the bundled sample images (quality checks included),
computes one Grad-CAM, writes and reads back a CSV report in a temporary folder, and compares
the predictions with those recorded for this exact model when it was shipped (the model
sidecar's ``info["selftest"] = {"<file name>": "<class code>", ...}``, written by
:func:`record_expected`). Without recorded predictions it falls back to a floor on accuracy
against the true class in the sample file names (``BLA_00851.jpg`` is a blast).

Imports neither Qt nor torch at module level, so a frozen GUI build can dispatch ``--selftest``
here before Qt is loaded, on a PC without a screen.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop import __version__
from marrow_desktop.core.errors import MarrowError

if TYPE_CHECKING:
    from marrow_desktop.core.model_spec import ModelSpec

#: Key of the recorded predictions inside the model sidecar's "info".
INFO_KEY = "selftest"
#: Accuracy floor against file-name labels when no predictions are recorded (7 classes:
#: chance is 14%; the shipped model is ~85% accurate, so 21 samples clear 60% with room).
DEFAULT_MIN_ACCURACY = 0.6
#: A prediction that differs from the recorded one still agrees when the two classes'
#: probabilities are this close (float differences between CPU/GPU on an exact tie).
TIE_TOLERANCE = 1e-3
BACKEND_CHOICES = ("auto", "onnx", "torch", "all")


class SelftestError(MarrowError):
    """The self-test could not run or its results are wrong; the message says what failed."""


@dataclass
class BackendRun:
    """Outcome of classifying the samples with one backend."""

    backend: str
    device: str
    predictions: dict[str, str]  # file name -> predicted class code
    probabilities: dict[str, dict[str, float]]  # file name -> class code -> probability
    errors: list[str]
    load_s: float
    classify_s: float
    cam_ok: bool
    report_rows: int


@dataclass
class SelftestResult:
    """Everything the summary prints; `passed` decides the exit code."""

    model_name: str
    model_version: str
    model_sha256: str
    model_path: str
    flavour: str
    n_images: int
    runs: list[BackendRun] = field(default_factory=list)
    expected: dict[str, str] | None = None
    agreement: list[tuple[int, int]] = field(default_factory=list)  # per run: agree, compared
    ties: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    accuracy: list[tuple[int, int]] = field(default_factory=list)  # per run: correct, labelled
    min_accuracy: float = DEFAULT_MIN_ACCURACY
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


def true_class(file_name: str, classes: Sequence[str]) -> str | None:
    """Class code from a sample file name's prefix (`BLA_00851.jpg` -> BLA), if it is a class."""
    code = file_name.split("_", 1)[0].split(".", 1)[0].upper()
    return code if code in classes else None


def _sample_paths(samples: Path) -> list[Path]:
    from marrow_desktop.core.discovery import find_images

    if not samples.is_dir():
        raise SelftestError(f"sample images not found: {samples} is not a folder "
                            "(the installation is incomplete)")
    paths = list(find_images([samples]))
    if not paths:
        raise SelftestError(f"no sample images in {samples} (the installation is incomplete)")
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise SelftestError(f"{samples}: sample file names must be unique")
    return paths


def _model_path(model: str | Path | None) -> Path:
    from marrow_desktop.core.paths import MODEL_DIR_ENV, default_model_path

    path = Path(model) if model else default_model_path()
    if not path.exists():
        hint = "" if model else f"; set ${MODEL_DIR_ENV} to use another folder"
        raise SelftestError(f"model not found: {path} (the {'given' if model else 'bundled'} "
                            f"model file is missing{hint})")
    return path


def _resolve_backends(backend: str) -> list[str]:
    from marrow_desktop.inference.loader import torch_installed

    if backend not in BACKEND_CHOICES:
        raise SelftestError(f"unknown backend {backend!r}; choose one of "
                            f"{', '.join(BACKEND_CHOICES)}")
    if backend == "all":
        return ["onnx", "torch"] if torch_installed() else ["onnx"]
    return [backend]


def _classify(model: Path, backend: str, paths: list[Path], threads: int | None,
              report_dir: Path) -> tuple[BackendRun, ModelSpec]:
    """Classify the samples with one backend, write/read back a CSV; returns the run + spec."""
    import numpy as np

    from marrow_desktop.core.batch import run_batch
    from marrow_desktop.core.imageio import load_image
    from marrow_desktop.core.report import ReportWriter
    from marrow_desktop.inference.loader import load_classifier

    t0 = time.perf_counter()
    try:
        classifier = load_classifier(model, backend=backend, threads=threads)
    except MarrowError as exc:
        raise SelftestError(f"cannot load the model ({backend} backend): {exc}") from exc
    except Exception as exc:  # a broken bundle: missing DLL, bad graph, torch import error
        raise SelftestError(
            f"cannot load the model ({backend} backend): {type(exc).__name__}: {exc}"
        ) from exc
    spec = classifier.spec
    load_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    report = report_dir / f"selftest_{classifier.backend}.csv"
    predictions: dict[str, str] = {}
    probabilities: dict[str, dict[str, float]] = {}
    errors: list[str] = []
    with ReportWriter(report, spec.classes, resume=False) as writer:
        for result in run_batch(paths, classifier, classes=spec.classes,
                                model_sha256=spec.model_sha256, model_name=spec.name):
            writer.write(result)
            name = Path(result.path).name
            if not result.classified:
                errors.append(result.error or f"{name}: not classified")
                continue
            probs = np.asarray(result.probabilities, dtype=np.float64)
            if probs.shape != (spec.num_classes,) or not np.all(np.isfinite(probs)) \
                    or abs(float(probs.sum()) - 1.0) > 1e-3:
                errors.append(f"{name}: invalid probabilities {probs.tolist()}")
                continue
            predictions[name] = result.predicted_class
            probabilities[name] = {c: float(p) for c, p in zip(spec.classes, probs)}
    classify_s = time.perf_counter() - t1

    with open(report, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    bad_rows = sum(r.get("status") != "ok" for r in rows)
    if len(rows) != len(paths) or bad_rows != len(paths) - len(predictions):
        errors.append(f"{report.name}: the CSV report read back has {len(rows)} rows "
                      f"({bad_rows} not ok) for {len(paths)} images")

    cam_ok = False
    try:
        cam = classifier.explain(load_image(paths[0]).rgb).cam
        cam_ok = (cam.shape == (spec.input_size, spec.input_size) and bool(np.isfinite(cam).all())
                  and float(cam.min()) >= -1e-6 and float(cam.max()) <= 1 + 1e-6)
        if not cam_ok:
            errors.append(f"Grad-CAM of {paths[0].name}: invalid map (shape {cam.shape}, "
                          f"range {float(np.nanmin(cam)):.3g}..{float(np.nanmax(cam)):.3g})")
    except Exception as exc:
        errors.append(f"Grad-CAM of {paths[0].name} failed: {type(exc).__name__}: {exc}")

    run = BackendRun(classifier.backend, classifier.device_name, predictions, probabilities,
                     errors, load_s, classify_s, cam_ok, len(rows))
    return run, spec


def _recorded(spec: ModelSpec) -> dict[str, str] | None:
    value = spec.info.get(INFO_KEY)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise SelftestError(f"{spec.path}: info[{INFO_KEY!r}] must map sample file names "
                            "to class codes")
    return dict(value)


def run_selftest(model: str | Path | None = None, samples: str | Path | None = None,
                 backend: str = "auto", threads: int | None = None,
                 min_accuracy: float = DEFAULT_MIN_ACCURACY,
                 report_dir: str | Path | None = None) -> SelftestResult:
    """Run the self-test and return its result (check `.passed`, `.failures`).

    Raises SelftestError when the test cannot run at all (no model, no samples, model fails to
    load). report_dir keeps the CSV reports there; by default they go to a temporary folder that
    is deleted afterwards.
    """
    from marrow_desktop.core.paths import bundle_flavour, samples_dir

    start = time.perf_counter()
    model_path = _model_path(model)
    paths = _sample_paths(Path(samples) if samples else samples_dir())
    backends = _resolve_backends(backend)

    runs: list[BackendRun] = []
    spec = None
    with tempfile.TemporaryDirectory(prefix="marrow-selftest-") as tmp:
        out = Path(report_dir) if report_dir else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for name in backends:
            run, spec = _classify(model_path, name, paths, threads, out)
            runs.append(run)
    assert spec is not None

    result = SelftestResult(
        model_name=spec.name, model_version=spec.version, model_sha256=spec.model_sha256,
        model_path=str(spec.path or model_path), flavour=bundle_flavour(), n_images=len(paths),
        runs=runs, expected=_recorded(spec), min_accuracy=min_accuracy,
    )
    names = [p.name for p in paths]
    for run in runs:
        tag = f"[{run.backend}] " if len(runs) > 1 else ""
        result.failures += [f"{tag}{e}" for e in run.errors]
        labelled = {n: c for n in names if (c := true_class(n, spec.classes))}
        correct = sum(run.predictions.get(n) == c for n, c in labelled.items())
        result.accuracy.append((correct, len(labelled)))
        if result.expected is not None:
            _compare(result, run, tag)
        elif not labelled:
            result.failures.append(f"{tag}no recorded predictions in the model metadata and no "
                                   "sample file name starts with a class code: nothing to check")
        elif correct < math.ceil(min_accuracy * len(labelled) - 1e-9):
            result.failures.append(
                f"{tag}accuracy {correct}/{len(labelled)} on the labelled samples is below the "
                f"floor of {min_accuracy:.0%} (no predictions recorded for this model)")
    result.seconds = time.perf_counter() - start
    return result


def _compare(result: SelftestResult, run: BackendRun, tag: str) -> None:
    expected = result.expected or {}
    agree = compared = 0
    for name, want in sorted(expected.items()):
        if name not in run.probabilities:
            if name not in result.missing and not any(e.startswith(name) for e in run.errors):
                result.missing.append(name)
            continue
        compared += 1
        got = run.predictions[name]
        if got == want:
            agree += 1
            continue
        probs = run.probabilities[name]
        if want in probs and probs[got] - probs[want] <= TIE_TOLERANCE:
            agree += 1
            result.ties.append(f"{tag}{name}: {got} {probs[got]:.4f} vs recorded {want} "
                               f"{probs[want]:.4f} (a tie within {TIE_TOLERANCE:g})")
            continue
        result.mismatches.append(f"{tag}{name}: predicted {got} ({probs[got]:.3f}), recorded "
                                 f"{want} ({probs.get(want, float('nan')):.3f})")
    result.agreement.append((agree, compared))
    if result.missing:
        result.failures.append("recorded sample images are missing: " + ", ".join(result.missing))
    if agree < compared:
        result.failures.append(f"{tag}{compared - agree} of {compared} predictions differ from "
                               "those recorded for this model: " + "; ".join(
                                   m for m in result.mismatches if m.startswith(tag)))


def _flavour_text(flavour: str) -> str:
    return "running from source" if flavour == "source" else f"{flavour} bundle"


def format_summary(result: SelftestResult) -> str:
    """The few lines `--selftest` prints."""
    sha = result.model_sha256[:12] or "(no hash)"
    lines = [
        f"marrow-desktop {__version__} self-test ({_flavour_text(result.flavour)})",
        f"  model     {result.model_name} v{result.model_version}  sha256 {sha}",
        f"            {result.model_path}",
    ]
    for i, run in enumerate(result.runs):
        rate = result.n_images / run.classify_s if run.classify_s > 0 else float("inf")
        lines.append(f"  backend   {run.backend}: {run.device}")
        lines.append(f"  images    {len(run.predictions)}/{result.n_images} sample images "
                     f"classified, {len(run.errors)} problems, CSV {run.report_rows} rows, "
                     f"Grad-CAM {'ok' if run.cam_ok else 'FAILED'}")
        if result.expected is not None:
            agree, compared = result.agreement[i]
            pct = 100.0 * agree / compared if compared else 0.0
            lines.append(f"  expected  {agree}/{compared} ({pct:.0f}%) agree with the predictions "
                         "recorded for this model (required: 100%)")
        correct, labelled = result.accuracy[i]
        if labelled:
            pct = 100.0 * correct / labelled
            note = ("informative" if result.expected is not None else
                    f"required >= {result.min_accuracy:.0%}: no predictions recorded")
            lines.append(f"  accuracy  {correct}/{labelled} ({pct:.1f}%) vs the class in the "
                         f"file name ({note})")
        lines.append(f"  time      load {run.load_s:.2f} s, classify {run.classify_s:.2f} s "
                     f"({rate:.0f} img/s)")
    lines += [f"  note      {t}" for t in result.ties]
    lines.append(f"  total     {result.seconds:.2f} s")
    if result.passed:
        lines.append("SELFTEST PASSED")
    else:
        lines += [f"  FAIL      {f}" for f in result.failures]
        lines.append("SELFTEST FAILED")
    return "\n".join(lines)


def record_expected(model_json: str | Path | None = None, samples: str | Path | None = None,
                    backend: str = "onnx", threads: int | None = None) -> dict[str, str]:
    """Classify the samples and store the predictions in the model sidecar's info["selftest"].

    Run once by whoever ships a model (`marrow selftest --record`), after which every
    installation's self-test must reproduce them. Other sidecar fields are kept as they are.
    Returns the recorded {file name: class code}.
    """
    return _record(model_json, samples, backend, threads)[0]


def _record(model_json: str | Path | None, samples: str | Path | None, backend: str,
            threads: int | None, margin: float = 0.02) -> tuple[dict[str, str], list[str]]:
    """record_expected, plus the samples whose top two classes are within `margin`."""
    model_path = _model_path(model_json)
    paths = _sample_paths(Path(samples) if samples else _default_samples())
    with tempfile.TemporaryDirectory(prefix="marrow-selftest-") as tmp:
        run, spec = _classify(model_path, backend, paths, threads, Path(tmp))
    if run.errors:
        raise SelftestError("cannot record: " + "; ".join(run.errors))
    sidecar = Path(spec.path or model_path)
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    info = data.setdefault("info", {})
    recorded = dict(sorted(run.predictions.items()))
    info[INFO_KEY] = recorded
    tmp_file = sidecar.with_name(sidecar.name + ".tmp")
    tmp_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp_file.replace(sidecar)
    close = []
    for name, probs in sorted(run.probabilities.items()):
        first, second = sorted(probs.values(), reverse=True)[:2]
        if first - second < margin:
            close.append(f"{name}: top two classes within {first - second:.4f}")
    return recorded, close


def _default_samples() -> Path:
    from marrow_desktop.core.paths import samples_dir

    return samples_dir()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `marrow selftest` and `marrow-desktop --selftest`."""
    parser.add_argument("--model", metavar="FILE",
                        help="model metadata (.json) or weights; default: the bundled model")
    parser.add_argument("--samples", metavar="DIR",
                        help="folder of sample images; default: the bundled samples")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                        help="auto: PyTorch on a CUDA GPU if available, else ONNX Runtime; "
                        "all: every installed backend")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for ONNX Runtime (default: all cores)")
    parser.add_argument("--min-accuracy", type=float, default=DEFAULT_MIN_ACCURACY, metavar="F",
                        help="accuracy floor vs file-name labels, used only when the model has "
                        f"no recorded predictions (default {DEFAULT_MIN_ACCURACY})")
    parser.add_argument("--report-dir", metavar="DIR",
                        help="keep the CSV reports in DIR (default: a temporary folder, deleted)")
    parser.add_argument("--traceback", action="store_true",
                        help="on failure, also print the Python traceback (for support)")
    parser.add_argument("--record", action="store_true",
                        help="(for whoever ships a model) classify the samples and record the "
                        f"predictions in the model's metadata as info[{INFO_KEY!r}]")


def execute(args: argparse.Namespace) -> int:
    """Run (or record) from parsed options; prints the summary; returns the exit code."""
    try:
        if args.record:
            backend = "onnx" if args.backend in ("auto", "all") else args.backend
            recorded, close = _record(args.model, args.samples, backend, args.threads)
            print(f"recorded the {backend} predictions for {len(recorded)} sample images in "
                  f"{_model_path(args.model).with_suffix('.json')} (info[{INFO_KEY!r}])")
            for line in close:
                print(f"  warning: {line} (a fragile expectation on other hardware)")
        result = run_selftest(args.model, args.samples, args.backend, args.threads,
                              args.min_accuracy, args.report_dir)
    except MarrowError as exc:
        _print_traceback(args, exc.__cause__)
        print(f"SELFTEST FAILED: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the point of a self-test is to report, not to crash
        _print_traceback(args, exc)
        print(f"SELFTEST FAILED: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    print(format_summary(result), flush=True)
    return 0 if result.passed else 1


def _print_traceback(args: argparse.Namespace, exc: BaseException | None) -> None:
    if exc is not None and getattr(args, "traceback", False):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry for `marrow-desktop --selftest [options]` (argv may include "--selftest")."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = [a for a in argv if a != "--selftest"]
    parser = argparse.ArgumentParser(
        prog="marrow-desktop --selftest",
        description="Check this installation: classify the bundled samples with the bundled "
        "model and compare with the predictions recorded when the model was shipped.")
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
