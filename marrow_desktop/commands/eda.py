"""`marrow eda DATASET -o DIR`: exploratory report of a class-folder data set."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eda", help="exploratory report of a labelled data set (counts, quality, blur, previews)",
        description="Check every image of ROOT/<class>/<images> (or a .npz pack): class counts, "
        "brightness, stain, grayscale, sharpness, unreadable files; writes CSVs, figures and an "
        "index.html to open in a browser.",
    )
    p.add_argument("dataset", help="class-folder data set or .npz pack")
    p.add_argument("-o", "--out", required=True, help="report folder (created)")
    p.add_argument("--per-class", type=int, default=5, help="preview images per class")
    p.add_argument("--sharpen", type=int, default=8,
                   help="how many of the blurriest images to show with unsharp masking")
    p.add_argument("--amount", type=float, default=1.0, help="unsharp-mask amount")
    p.add_argument("--sigma", type=float, default=2.0, help="unsharp-mask Gaussian sigma")
    p.add_argument("--blur-threshold", type=float, default=None,
                   help="absolute Laplacian-variance threshold (default: the app's, 8)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.core.quality import QualityThresholds
    from marrow_desktop.training.eda import run_eda

    thresholds = QualityThresholds()
    if args.blur_threshold is not None:
        thresholds = QualityThresholds(blur_threshold=args.blur_threshold)
    report = run_eda(args.dataset, args.out, per_class=args.per_class,
                     sharpen_count=args.sharpen, amount=args.amount, sigma=args.sigma,
                     thresholds=thresholds, show_progress=not args.no_progress)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    total = report.summary[-1]
    print(f"{total['images']:,} images in {len(report.counts)} classes: "
          + ", ".join(f"{c} {n}" for c, n in report.counts.items()))
    print(f"unreadable {total['unreadable']}, too dark {total['too_dark']}, too bright "
          f"{total['too_bright']}, no stain {total['no_stain']}, grayscale {total['grayscale']}, "
          f"blurry {total['blurry']} (blurriest 30% below {report.blur_cut:.2f})")
    for line in report.unreadable[:10]:
        print(f"  unreadable: {line}")
    print(f"report: {report.out / report.files['html']}")
    return 0
