"""Command-line options shared by `marrow classify` and `marrow qc` (argparse only: no numpy)."""

from __future__ import annotations

import argparse
from pathlib import Path

from marrow_desktop.core.defaults import BLUR_THRESHOLD as DEFAULT_BLUR_THRESHOLD
from marrow_desktop.core.paths import default_store_path


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Inputs, report, store and quality options of both batch commands."""
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    p.add_argument("-o", "--output", required=True, metavar="CSV",
                   help="CSV report; an existing one with the same columns is continued")
    p.add_argument("-r", "--recursive", action="store_true", help="also look in sub-folders")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N",
                   help="images decoded and classified together (default 16)")
    store = p.add_mutually_exclusive_group()
    store.add_argument("--store", type=Path, metavar="PATH",
                       help=f"results store (default {default_store_path()})")
    store.add_argument("--no-store", action="store_true",
                       help="neither read nor write the results store: recompute everything")
    p.add_argument("--blur-threshold", type=float, metavar="X",
                   help="Laplacian variance below which an image is blurry (default "
                   f"{DEFAULT_BLUR_THRESHOLD:g})")
    p.add_argument("--overwrite", action="store_true",
                   help="start the report afresh instead of continuing it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """--model, --backend and --threads: which model runs where."""
    p.add_argument("--model", metavar="MODEL",
                   help="a model's name (see `marrow models`) or its metadata (.json) or weights "
                   "(.onnx/.safetensors); default: the bundled model")
    p.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto",
                   help="auto: PyTorch on a CUDA GPU when available, else ONNX Runtime on the CPU")
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="CPU threads for ONNX Runtime (default: all cores)")


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_field_arguments(p: argparse.ArgumentParser, crops: bool = True) -> None:
    """--fields, --um-per-px and (with `crops`) --crops-dir: images that are photographs of
    smear fields."""
    p.add_argument("--fields", action="store_true",
                   help="the images are photographs of smear fields: find the nucleated cells in "
                   "each and classify every one (one row per cell, with its box)")
    p.add_argument("--um-per-px", type=_positive_float, metavar="X",
                   help="with --fields: micrometres per pixel of the photographs (default: "
                   "measured from the red cells of each field)")
    if crops:
        p.add_argument("--crops-dir", type=Path, metavar="DIR",
                       help="with --fields: also write each found cell's crop as a PNG into DIR")


def _positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def check_field_arguments(args: argparse.Namespace) -> None:
    """--um-per-px and --crops-dir mean nothing without --fields."""
    from marrow_desktop.core.errors import MarrowError

    for name in ("um_per_px", "crops_dir"):
        if getattr(args, name, None) is not None and not args.fields:
            raise MarrowError(f"--{name.replace('_', '-')} needs --fields")


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """--engine and the Dask options (commands/_dask_engine.py)."""
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local: this process; dask: partitions on a Dask cluster (the [cluster] "
                   "extra), with --scheduler or a local cluster of --workers processes")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 (default: "
                   "a local cluster on this machine)")
    p.add_argument("--partition", type=_positive_int, metavar="N",
                   help="with --engine dask: images per task (default 256)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="with --engine dask and no --scheduler: worker processes (default: one "
                   "per core)")


def check_engine_arguments(args: argparse.Namespace) -> None:
    """The Dask options need --engine dask; per-image files are written by a local run only."""
    from marrow_desktop.core.errors import MarrowError

    if args.engine != "dask":
        for name in ("scheduler", "partition", "workers"):
            if getattr(args, name, None) is not None:
                raise MarrowError(f"--{name} needs --engine dask")
        return
    for name in ("cam_dir", "crops_dir"):
        if getattr(args, name, None) is not None:
            raise MarrowError(f"--{name.replace('_', '-')} is written by a local run only "
                              "(--engine local)")
    if args.scheduler and args.workers is not None:
        raise MarrowError("--workers starts a local cluster: not with --scheduler")
    if args.partition is None:
        from marrow_desktop.commands._dask_engine import DEFAULT_PARTITION

        args.partition = DEFAULT_PARTITION
