"""Cell finding in smear photographs (core.fields) on the BCCD fields, against the issue's targets.

    python benchmarks/bench_fields.py [--subset val|train] [--data ../shared/data] [--show DIR]
    python benchmarks/bench_fields.py --model-scale   # the red-cell diameter in matek7 crops

Prints white-cell recall (a found cell whose box centre lies in an annotated WBC box, or whose box
overlaps one with IoU >= 0.3), false finds per field (found cells matching no annotated WBC, or
one already matched: a cell found twice counts once as found and once as false), the
measured scale against the annotated red-cell boxes, and seconds per field on this machine
(targets: recall >= 0.95, <= 0.2 false finds per field, <= 0.5 s per 640x480 field on 2 cores).
Tune on `train`, report on `val`. --show DIR writes each field with its found (green) and
annotated (blue) boxes and a list of the false finds, to look at them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marrow_desktop.core.fields import (  # noqa: E402
    MATEK_CROP_PX,
    MATEK_RED_CELL_PX,
    FieldSearch,
    ModelScale,
    measure_model_scale,
)
from marrow_desktop.core.imageio import load_image  # noqa: E402

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def annotations(xml: Path) -> dict[str, list[Box]]:
    boxes: dict[str, list[Box]] = {"WBC": [], "RBC": [], "Platelets": []}
    for obj in ET.parse(xml).getroot().iter("object"):
        b = obj.find("bndbox")
        box = tuple(float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.setdefault(obj.findtext("name", ""), []).append(box)  # type: ignore[arg-type]
    return boxes


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matches(found: Box, centre: tuple[float, float], truth: Box) -> bool:
    cx, cy = centre
    return (truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]) or iou(found, truth) >= 0.3


def model_scale(data: Path, count: int) -> None:
    """Red-cell diameter in the matek7 crops: the scale ModelScale stores."""
    files = sorted((data / "matek7").rglob("*.jpg"))
    step = max(1, len(files) // count)
    scale = measure_model_scale(load_image(p).rgb for p in files[::step][:count])
    lo, hi = scale["red_cell_px_iqr"]
    print(f"matek7: {scale['crops_measured']} of {scale['crops']} crops with red cells; "
          f"red-cell diameter median {scale['red_cell_px']:.1f} px (IQR {lo:.1f}-{hi:.1f}); "
          f"crops {scale['crop_px']} px")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--subset", choices=("train", "val"), default="val")
    ap.add_argument("--show", type=Path, default=None, help="write annotated fields here")
    ap.add_argument("--model-scale", action="store_true",
                    help="measure the red-cell diameter in matek7 crops instead")
    ap.add_argument("--crops", type=int, default=2000, help="matek7 crops for --model-scale")
    args = ap.parse_args()
    if args.model_scale:
        model_scale(args.data, args.crops)
        return 0
    bccd = args.data / "bccd"
    names = (bccd / f"{args.subset}.txt").read_text().split()
    search = FieldSearch(ModelScale(MATEK_RED_CELL_PX, MATEK_CROP_PX))  # as `--fields` runs
    wbc_total = wbc_found = false = measured = 0
    ratios, seconds, false_list = [], [], []
    if args.show:
        args.show.mkdir(parents=True, exist_ok=True)
    for name in names:
        stem = Path(name).stem
        rgb = load_image(bccd / "images" / f"{stem}.jpg").rgb
        truth = annotations(bccd / "annotations" / f"{stem}.xml")
        start = time.perf_counter()
        found = search.search(rgb)
        seconds.append(time.perf_counter() - start)
        rbc = [max(b[2] - b[0], b[3] - b[1]) for b in truth["RBC"]
               if b[0] > 2 and b[1] > 2 and b[2] < 637 and b[3] < 477]  # whole red cells only
        measured += found.scale_source == "measured"
        if rbc and found.scale_source == "measured":
            ratios.append((7.5 / found.um_per_px) / statistics.median(rbc))
        boxes = [(c.box[0], c.box[1], c.box[0] + c.box[2], c.box[1] + c.box[3])
                 for c in found.cells]
        centres = [c.centre for c in found.cells]
        wbc = truth["WBC"]
        wbc_total += len(wbc)
        matched: set[int] = set()  # each annotated cell is found once; a second find is false
        for b, c in zip(boxes, centres):
            hit = next((i for i, t in enumerate(wbc) if i not in matched and matches(b, c, t)),
                       None)
            if hit is not None:
                matched.add(hit)
                continue
            false += 1
            twice = any(matches(b, c, t) for t in wbc)
            false_list.append(f"{stem} at ({c[0]:.0f}, {c[1]:.0f})"
                              + (" (a second find of an annotated cell)" if twice else ""))
        wbc_found += len(matched)
        if args.show:
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            for t in wbc:
                cv2.rectangle(bgr, (int(t[0]), int(t[1])), (int(t[2]), int(t[3])), (255, 0, 0), 2)
            for b in boxes:
                cv2.rectangle(bgr, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 200, 0), 2)
            cv2.imwrite(str(args.show / f"{stem}.jpg"), bgr)
    n = len(names)
    recall = wbc_found / max(wbc_total, 1)
    print(f"BCCD {args.subset}: {n} fields, {wbc_total} annotated white cells")
    print(f"white-cell recall {recall:.3f} ({wbc_found}/{wbc_total})   target >= 0.95")
    print(f"false finds per field {false / n:.3f} ({false} in {n} fields)   target <= 0.2")
    print(f"scale measured from the red cells in {measured} of {n} fields (the others: "
          "the median scale of the fields before them, as in a run)")
    if ratios:
        q = np.percentile(ratios, [10, 50, 90])
        print(f"measured red-cell diameter / annotated: p10 {q[0]:.2f} median {q[1]:.2f} "
              f"p90 {q[2]:.2f} ({len(ratios)} fields)")
    print(f"seconds per field: median {statistics.median(seconds):.3f}, max {max(seconds):.3f}"
          "   target <= 0.5")
    if args.show and false_list:
        (args.show / "false_finds.txt").write_text("\n".join(false_list) + "\n")
        print(f"false finds listed in {args.show / 'false_finds.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
