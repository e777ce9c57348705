"""`marrow qc PATH... -o qc.csv`: only the quality checks (brightness, stain, colour, sharpness)."""

from __future__ import annotations

import argparse

from marrow_desktop.commands._batch_args import add_common_arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "qc", help="quality checks only (brightness, stain, colour, blur) into a CSV report",
        description="Check every image without classifying it: brightness, May-Grünwald-Giemsa "
        "stain, grayscale, sharpness (Laplacian variance). One CSV row per image; reruns "
        "continue an existing report.",
    )
    add_common_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.commands._batch_common import run_streaming

    return run_streaming(args, None)
