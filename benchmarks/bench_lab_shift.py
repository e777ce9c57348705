"""Lab-shift benchmark: the check's separation, case verdicts, `marrow adapt`, and its cost.

    python benchmarks/bench_lab_shift.py [--model M.json] [--data ../shared/data]

Prints, against the issue's targets:
- per-image AUROC of domain_score, the model's own lab's validation *report* half (never used
  to set the threshold) vs another lab's cells, and the share of own-lab cells in range;
- how often a 100-cell case is flagged, drawn from each (1,000 draws);
- the same check on a third lab's camera fields (BCCD white cells, cropped as `--fields` does);
- `marrow adapt` with 25 cells per class from the first half (by file number) of the other lab:
  accuracy on the other lab's second half and on the own lab's report half, before and after,
  and the seconds it took;
- classify throughput with and without the check (same images, ONNX, interleaved runs).

The other lab is the peripheral-blood lab (pbc8 + pbc_more, five classes) unless the model was
trained on it (then its cells are not "other": the BCCD smear photographs' white cells, cropped
from their annotated boxes, stand in, without labels: no accuracy for them). Do not run it while
a training run shares the cores.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marrow_desktop.core.domain import auroc, case_verdict  # noqa: E402
from marrow_desktop.core.fields import FieldSearch, ModelScale  # noqa: E402
from marrow_desktop.core.imageio import load_image  # noqa: E402
from marrow_desktop.core.model_spec import load_model_spec  # noqa: E402
from marrow_desktop.core.paths import default_model_path  # noqa: E402
from marrow_desktop.inference.loader import load_classifier  # noqa: E402
from marrow_desktop.training.domain_stats import pooled_features  # noqa: E402
from marrow_desktop.training.evaluate import load_eval_dataset  # noqa: E402
from marrow_desktop.training.sources import parse_map_args  # noqa: E402

PBC_MAP = ["pbc8:eosinophil=EOS", "pbc8:lymphocyte=LYT", "pbc8:monocyte=MON",
           "pbc8:neutrophil/SNE_*=NGS", "pbc8:ig/PMY_*=PMO"]


def unlabelled(folder: Path) -> Any:
    """The crops of a folder as an unlabelled set (all in one class, WBC)."""
    from types import SimpleNamespace

    from marrow_desktop.training.dataset import Sample

    return SimpleNamespace(samples=[Sample(str(p), 0) for p in sorted(folder.rglob("*.png"))])


def bccd_crops(data: Path, out: Path, model: ModelScale, limit: int = 400) -> Path:
    """White cells of the BCCD val fields as `--fields` crops them: centred on each annotated
    box, at the model's scale measured from the field's red cells (core.fields)."""
    import xml.etree.ElementTree as ET

    import cv2

    from marrow_desktop.core.fields import FieldError

    folder = out / "WBC"
    folder.mkdir(parents=True, exist_ok=True)
    search = FieldSearch(model)
    names = (data / "bccd" / "val.txt").read_text().split()
    n = 0
    for name in names:
        tree = ET.parse(data / "bccd" / "annotations" / f"{name}.xml")
        rgb = load_image(data / "bccd" / "images" / f"{name}.jpg").rgb
        try:
            side = round(model.crop_um / search.search(rgb).um_per_px)
        except FieldError:
            continue
        for obj in tree.findall("object"):
            if obj.findtext("name") != "WBC":
                continue
            box = obj.find("bndbox")
            x1, y1, x2, y2 = (int(float(box.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax"))
            cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
            crop = search.cell_image(rgb, (cx - side // 2, cy - side // 2, side, side))
            cv2.imwrite(str(folder / f"{name}_{n}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            n += 1
            if n >= limit:
                return out
    return out


def scores(classifier, samples) -> np.ndarray:
    _, feats, colours, _, _ = pooled_features(classifier, samples, show_progress=False)
    return classifier.domain.score(feats, colours)


def throughput(model: Path, images: list[Path], rounds: int = 3) -> tuple[float, float]:
    """images/s of run_batch with the model as shipped and with its check switched off."""
    from marrow_desktop.core.batch import run_batch

    def rate(with_check: bool) -> float:
        clf = load_classifier(model, "onnx")
        if not with_check:
            clf.domain = None
        t = time.perf_counter()
        for _ in run_batch(images, clf, classes=clf.spec.classes,
                           model_sha256=clf.spec.model_sha256):
            pass
        return len(images) / (time.perf_counter() - t)

    on, off = [], []
    for _ in range(rounds):
        off.append(rate(False))
        on.append(rate(True))
    return statistics.median(on), statistics.median(off)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    spec = load_model_spec(args.model)
    clf = load_classifier(args.model, "onnx")
    if clf.domain is None:
        print(f"{spec.name}: {clf.domain_error}")
        return 1
    print(f"model {spec.name} ({spec.identity[:12]}), threshold set on "
          f"{clf.domain.info.get('threshold_set_on', '?')}")
    own, _ = load_eval_dataset([str(args.data / "matek7")], subset="report")
    trained = spec.info.get("training", {}).get("dataset", "")
    other_is_pbc = "pbc8" not in str(trained)
    s_own = scores(clf, own.samples)
    tmp = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    try:
        if other_is_pbc:
            other, _ = load_eval_dataset([str(args.data / "pbc8"), str(args.data / "pbc_more")],
                                         maps=parse_map_args(PBC_MAP))
            other_name = "peripheral-blood lab (pbc8 + pbc_more)"
        else:
            other = unlabelled(bccd_crops(args.data, tmp / "bccd",
                                          ModelScale.from_info(spec.info)))
            other_name = "BCCD smear photographs (white cells of the val fields)"
        s_other = scores(clf, other.samples)
        print(f"\n[check] own lab: matek7 report half, {len(s_own)} cells; other lab: "
              f"{other_name}, {len(s_other)} cells")
        print(f"  per-image AUROC {auroc(s_own, s_other):.4f} (target >= 0.95)")
        print(f"  own-lab cells in range {np.mean(s_own <= 1):.1%} (target >= 97%); other-lab "
              f"cells out of range {np.mean(s_other > 1):.1%}")
        rng = np.random.default_rng(0)
        rate = clf.domain.false_alarm
        for name, values in (("own lab", s_own), ("other lab", s_other)):
            size = min(100, len(values))  # BCCD's val fields hold 87 white cells
            flagged = np.mean([case_verdict(rng.choice(values, size, replace=False) <= 1,
                                            rate).flagged for _ in range(args.draws)])
            print(f"  {size}-cell cases flagged, {name}: {flagged:.1%} of {args.draws}")
        if other_is_pbc and (args.data / "bccd").is_dir():  # a third lab: camera fields
            model = ModelScale.from_info(spec.info)
            s_bccd = scores(clf, unlabelled(bccd_crops(args.data, tmp / "bccd", model)).samples)
            verdict = case_verdict(s_bccd <= 1, rate)
            print(f"\n[fields] BCCD smear photographs, white cells of the val fields cropped as "
                  f"--fields does: {len(s_bccd)} cells; AUROC vs own lab "
                  f"{auroc(s_own, s_bccd):.4f}; out of range {np.mean(s_bccd > 1):.1%}; all of "
                  "them as one case: "
                  f"{'flagged' if verdict.flagged else 'NOT flagged'}")
        if other_is_pbc:
            adapt_figures(args, other, tmp)
        images = sorted((args.data / "matek7" / "LYT").glob("*.jpg"))[:400]
        on, off = throughput(args.model, images)
        print(f"\n[throughput] run_batch, 400 images: {on:.1f} img/s with the check, {off:.1f} "
              f"without: {on / off:.1%} (target >= 95%)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def adapt_figures(args: argparse.Namespace, other, tmp: Path) -> None:
    """marrow adapt with 25 cells per class of the other lab's first half."""
    import subprocess

    from marrow_desktop.training.dataset import split_halves
    from marrow_desktop.training.evaluate import evaluate

    first, second = split_halves(other, range(len(other.samples)))
    rng = np.random.default_rng(0)
    folder = tmp / "local"
    for code in other.classes:
        members = [i for i in first if other.classes[other.samples[i].label] == code]
        for i in rng.permutation(members)[:25]:
            (folder / code).mkdir(parents=True, exist_ok=True)
            shutil.copy2(other.samples[i].source, folder / code)
    out = tmp / "adapted.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "marrow_desktop.cli", "adapt", str(folder), "-o",
                    str(out), "--model", str(args.model), "--lab", "other"], check=True,
                   capture_output=True, text=True)
    seconds = time.perf_counter() - start
    held = [other.samples[i] for i in second]
    test = tmp / "test"
    for s in held:
        (test / other.classes[s.label]).mkdir(parents=True, exist_ok=True)
        shutil.copy2(s.source, test / other.classes[s.label])
    print(f"\n[adapt] 25 cells per class of the other lab's first half; {seconds:.1f} s for "
          "`marrow adapt` (target < 30 s, includes starting Python)")
    for label, model in (("before", args.model), ("after", out)):
        o = evaluate(model, [str(test)], tmp / f"ev_o_{label}", show_progress=False)
        m = evaluate(model, [str(args.data / "matek7")], tmp / f"ev_m_{label}",
                     subset="report", show_progress=False)
        print(f"  {label:6s}: other lab's second half {o.report.accuracy:.1%} "
              f"({len(o.y_true)} cells), own lab's report half {m.report.accuracy:.1%}")


if __name__ == "__main__":
    sys.exit(main())
