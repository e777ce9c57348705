"""`marrow data pack DATASET -o pack.npz`: data-set utilities (nested sub-commands)."""

from __future__ import annotations

import argparse
import sys

DEFAULT_PACK_SIZE = 224


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="data-set utilities (pack a class-folder set into one file)")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    pack = actions.add_parser(
        "pack", help="resize and JPEG-encode a class-folder data set into one .npz file",
        description="Pack ROOT/<class>/<images> into one .npz (JPEG bytes + labels) to move a "
        "training set to another machine; `marrow train` and `marrow evaluate` read it directly.",
    )
    pack.add_argument("dataset", help="class-folder data set")
    pack.add_argument("-o", "--out", required=True, help="output .npz file")
    pack.add_argument("--size", type=int, default=DEFAULT_PACK_SIZE,
                      help=f"side of the stored square images in pixels "
                      f"(default {DEFAULT_PACK_SIZE}, the training input size)")
    pack.add_argument("--quality", type=int, default=85,
                      help="JPEG quality 1-100 (default 85: matek7 at 224 px is ~49 MB)")
    pack.add_argument("--no-progress", action="store_true", help="no progress bar")
    pack.set_defaults(run=run_pack)


def run_pack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from marrow_desktop.training.dataset import DatasetError, explicit_split, scan_class_folders
    from marrow_desktop.training.pack import write_pack

    if not 16 <= args.size <= 1024:
        raise DatasetError(f"--size {args.size} out of range (16-1024)")
    if not 1 <= args.quality <= 100:
        raise DatasetError(f"--quality {args.quality} out of range (1-100)")
    if Path(args.dataset).is_dir() and explicit_split(args.dataset) is not None:
        raise DatasetError(f"{args.dataset} has train/ and val/ folders: pack each one separately")
    dataset = scan_class_folders(args.dataset)
    for warning in dataset.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    bar = None
    if not args.no_progress:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            bar = tqdm(total=len(dataset.samples), desc="packing", unit="img", file=sys.stderr,
                       leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    out, skipped = write_pack(dataset, args.out, args.size, args.quality, progress)
    if bar is not None:
        bar.close()
    packed = len(dataset.samples) - len(skipped)
    print(f"packed {packed:,} images of {len(dataset.classes)} classes at {args.size} px "
          f"(JPEG quality {args.quality}) into {out}: {out.stat().st_size / 1e6:.1f} MB")
    print("  " + ", ".join(f"{c} {n}" for c, n in dataset.counts().items()))
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for line in skipped:
            print(f"  {line}", file=sys.stderr)
    return 0
