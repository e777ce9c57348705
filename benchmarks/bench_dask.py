"""`marrow classify --engine dask` against the local run on the same images (side by side).

    python benchmarks/bench_dask.py [--images 3000] [--workers 2] [--partition 256]

The folder is symbolic links to real cell images (../shared/data/matek7 when present, else the
bundled samples repeated), classified with --no-store so both runs compute everything. Prints
images/s of each run (end to end, the local cluster's start-up included) and their ratio; the
target is a ratio >= 0.9 on this machine (a cluster only pays off with more machines).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marrow_desktop.cli import main as marrow  # noqa: E402


def images(count: int) -> list[Path]:
    shared = Path(os.environ.get("MARROW_SHARED_DATA", ROOT.parent / "shared" / "data"))
    pool = sorted((shared / "matek7").rglob("*.jpg")) or sorted(
        (ROOT / "resources" / "samples").glob("*.jpg"))
    return [pool[i % len(pool)] for i in range(count)]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = marrow(args)
    if code != 0:
        raise SystemExit(f"marrow {' '.join(args)} exited {code}")
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--partition", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cells"
        folder.mkdir()
        for i, path in enumerate(images(args.images)):
            (folder / f"{i:06d}{path.suffix}").symlink_to(path)
        common = [str(folder), "--no-store", "--no-progress", "--overwrite"]
        local = timed(["classify", *common, "-o", str(Path(tmp) / "local.csv")])
        dask = timed(["classify", *common, "-o", str(Path(tmp) / "dask.csv"), "--engine",
                      "dask", "--workers", str(args.workers), "--partition",
                      str(args.partition)])
    n = args.images
    print(f"{n} images, {os.cpu_count()} cores")
    print(f"local run            {n / local:7.1f} images/s ({local:.1f} s)")
    print(f"dask, {args.workers} workers     {n / dask:7.1f} images/s ({dask:.1f} s, local "
          "cluster start-up included)")
    print(f"ratio dask/local     {local / dask:7.2f}   target >= 0.9")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
