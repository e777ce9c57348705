"""Rebuild the v1 lab-shift regression fixture (tests/data/v1_features.npz, v1_domain.npz).

Run from the repository root while models/ still holds the v1 model (rexnet150_matek7):

    python tests/data/make_v1_fixture.py

v1_domain.npz is a copy of the model's shipped statistics; v1_features.npz holds pooled
features (float16) and colours of 30 matek7 report-half cells per class, of 40 cells per class
of the peripheral-blood lab (pbc8 EOS/LYT/MON, pbc_more NGS/PMO, the first by file number), and
the model's linear head and temperature.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from marrow_desktop.inference.loader import load_classifier
from marrow_desktop.training.adapt import base_head
from marrow_desktop.training.dataset import Sample
from marrow_desktop.training.domain_stats import pooled_features
from marrow_desktop.training.evaluate import load_eval_dataset
from marrow_desktop.training.loading import load_sample

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
MODEL = ROOT / "models" / "rexnet150_matek7.json"
OTHER = {"EOS": DATA / "pbc8" / "eosinophil", "LYT": DATA / "pbc8" / "lymphocyte",
         "MON": DATA / "pbc8" / "monocyte", "NGS": DATA / "pbc_more" / "NGS",
         "PMO": DATA / "pbc_more" / "PMO"}


def _features(classifier, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    _, feats, colours, kept, _ = pooled_features(classifier, samples, show_progress=False)
    assert len(kept) == len(samples), "every fixture image must be readable"
    return feats.astype(np.float16), colours.astype(np.float32)


def main() -> None:
    classifier = load_classifier(MODEL, backend="onnx")
    spec = classifier.spec
    report, _ = load_eval_dataset(str(DATA / "matek7"), split=ROOT / "docs/model/split.csv",
                                  subset="report")
    own: list[Sample] = []
    for code in spec.classes:
        label = report.classes.index(code)
        own += [s for s in report.samples if s.label == label][:30]
    own_y = np.array([spec.classes.index(report.classes[s.label]) for s in own])
    other: list[Sample] = []
    other_y = []
    for code, folder in OTHER.items():
        files = sorted(folder.glob("*.jpg"))[:40]
        other += [Sample(str(f), 0) for f in files]
        other_y += [spec.classes.index(code)] * len(files)
    report_f, report_c = _features(classifier, own)
    other_f, other_c = _features(classifier, other)
    weight, bias = base_head(classifier, [load_sample(s).rgb for s in own[:8]])
    np.savez_compressed(
        ROOT / "tests" / "data" / "v1_features.npz", report_f=report_f, report_c=report_c,
        report_y=own_y, other_f=other_f, other_c=other_c, other_y=np.array(other_y),
        classes=np.array(spec.classes), weight=weight.astype(np.float32),
        bias=bias.astype(np.float32), temperature=np.float32(spec.temperature))
    shutil.copyfile(MODEL.with_name(spec.files["domain"]), ROOT / "tests/data/v1_domain.npz")
    print(f"{len(own)} own cells, {len(other)} other-lab cells written")


if __name__ == "__main__":
    main()
