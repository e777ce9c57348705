"""The lab-shift check (core.domain) and the lab-routed heads of adapted models.

The regression fixture tests/data/v1_*.npz holds real features of the first shipped model
(rexnet150_matek7, v1): its domain statistics as shipped (fitted on 5,398 matek7 training
images, threshold on the 300-image tune half), pooled features + colours of 210 matek7 report-half
cells (30 per class) and of 200 cells of the peripheral-blood lab (40 per class, pbc8 + pbc_more
mapped to EOS/LYT/MON/NGS/PMO), and the model's linear head.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.domain import (
    DomainStats,
    auroc,
    binomial_tail,
    case_verdict,
    colour_features,
    fit_domain,
)
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.head import LabHeads
from marrow_desktop.training.adapt import LocalCells, adapt_heads

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def v1() -> dict[str, np.ndarray]:
    with np.load(DATA / "v1_features.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def v1_stats() -> DomainStats:
    return DomainStats.load(DATA / "v1_domain.npz")


def test_v1_separates_the_other_lab(v1: dict, v1_stats: DomainStats) -> None:
    own = v1_stats.score(v1["report_f"].astype(np.float32), v1["report_c"])
    other = v1_stats.score(v1["other_f"].astype(np.float32), v1["other_c"])
    assert auroc(own, other) >= 0.95
    assert np.mean(own <= 1) >= 0.97
    assert np.mean(other > 1) >= 0.9
    assert 0 < v1_stats.false_alarm <= 0.011  # the tune half, at the 99% quantile


def test_v1_case_verdicts(v1: dict, v1_stats: DomainStats) -> None:
    own = v1_stats.score(v1["report_f"].astype(np.float32), v1["report_c"]) <= 1
    other = v1_stats.score(v1["other_f"].astype(np.float32), v1["other_c"]) <= 1
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert case_verdict(rng.choice(other, 100, replace=False), v1_stats.false_alarm).flagged
        assert not case_verdict(rng.choice(own, 100, replace=False),
                                v1_stats.false_alarm).flagged


def test_v1_adapt_raises_the_other_lab_and_keeps_its_own(v1: dict, v1_stats: DomainStats) -> None:
    """25 labelled cells per class from one part of the other lab; scored on the rest."""
    f, c, y = v1["other_f"].astype(np.float32), v1["other_c"], v1["other_y"].astype(np.int64)
    rng = np.random.default_rng(0)
    local = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:25] for k in np.unique(y)])
    rest = np.setdiff1d(np.arange(len(y)), local)
    classes = [str(k) for k in v1["classes"]]
    w, b = v1["weight"].astype(np.float64), v1["bias"].astype(np.float64)
    before_other = np.mean((f[rest] @ w.T + b).argmax(1) == y[rest])
    a = adapt_heads(v1_stats, w, b, float(v1["temperature"]),
                    LocalCells(f[local], c[local], y[local], "fixture"), classes, "pbc")
    after_other = np.mean(a.heads.logits(f[rest], c[rest]).argmax(1) == y[rest])
    own_f, own_c, own_y = v1["report_f"].astype(np.float32), v1["report_c"], v1["report_y"]
    before_own = np.mean((own_f @ w.T + b).argmax(1) == own_y)
    after_own = np.mean(a.heads.logits(own_f, own_c).argmax(1) == own_y)
    assert before_other < 0.5 and after_other >= 0.8, (before_other, after_other)
    assert after_own >= before_own - 0.01, (before_own, after_own)
    assert a.accuracy_before < 0.5 and a.accuracy_after >= 0.75  # cross-validated, local
    assert a.kept_base == ["BLA", "NIF"]  # the other lab has none of these
    assert a.counts == {code: 25 for code in ("EOS", "LYT", "MON", "NGS", "PMO")}
    # the adapted statistics know both labs: the other lab is now in range
    assert np.mean(a.heads.domain.score(f[rest], c[rest]) <= 1) >= 0.8


def test_routed_heads_save_and_load(tmp_path: Path, v1: dict, v1_stats: DomainStats) -> None:
    f, c, y = v1["other_f"].astype(np.float32), v1["other_c"], v1["other_y"].astype(np.int64)
    classes = [str(k) for k in v1["classes"]]
    a = adapt_heads(v1_stats, v1["weight"].astype(np.float64), v1["bias"].astype(np.float64),
                    1.0, LocalCells(f, c, y, "x"), classes, "lab")
    path = a.heads.save(tmp_path / "m.adapted.npz")
    again = LabHeads.load(path, len(classes), f.shape[1])
    assert np.allclose(again.logits(f, c), a.heads.logits(f, c), atol=1e-4)
    assert [lab.name for lab in again.domain.labs] == ["training", "lab"]
    with pytest.raises(ModelFileError, match="do not fit"):
        LabHeads.load(path, len(classes) + 1, f.shape[1])


def test_fit_on_synthetic_labs_and_file_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    d, k = 40, 3
    centres = rng.normal(0, 4, (k, d))
    y = rng.integers(0, k, 600)
    feats = centres[y] + rng.normal(0, 1, (600, d))
    colours = rng.normal([180, 150, 200], 5, (600, 3))
    stats = fit_domain(feats[:400], y[:400], colours[:400], ["A", "B", "C"])
    stats = stats.with_threshold(stats.raw_score(feats[400:500], colours[400:500]))
    own = stats.score(feats[500:], colours[500:])
    shifted = stats.score(feats[500:] + 3.0, colours[500:] + np.array([40, 20, -30]))
    assert np.mean(own <= 1) >= 0.95 and np.mean(shifted > 1) >= 0.95
    assert auroc(own, shifted) > 0.99
    path = stats.save(tmp_path / "d.npz")
    again = DomainStats.load(path)
    assert np.allclose(again.score(feats[500:], colours[500:]), own, atol=1e-4)
    assert again.info["counts"] == stats.info["counts"] and len(again.sample) == 300
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match=r"bad\.npz: not a domain statistics file"):
        DomainStats.load(tmp_path / "bad.npz")


def test_binomial_tail_by_hand() -> None:
    # P(X >= 2), n = 10, p = 0.1: 1 - 0.9^10 - 10 * 0.1 * 0.9^9 = 0.263901
    assert binomial_tail(2, 10, 0.1) == pytest.approx(0.2639010, abs=1e-6)
    assert binomial_tail(0, 5, 0.3) == 1.0 and binomial_tail(6, 5, 0.3) == 0.0
    assert binomial_tail(100, 100, 0.01) == pytest.approx(1e-200, rel=1e-6)


def test_case_verdict_rules() -> None:
    # 100 cells, 1% false alarms: 5 out of range is P = 0.0034 (not flagged), 6 is P = 0.0006
    assert not case_verdict([False] * 5 + [True] * 95, 0.01).flagged
    assert case_verdict([False] * 6 + [True] * 94, 0.01).flagged
    small = case_verdict([False] * 10, 0.01)  # all out of range, but only 10 cells
    assert not small.flagged and small.out_of_range == 10
    verdict = case_verdict([False] * 40 + [True] * 60, 0.002)
    assert verdict.false_alarm == pytest.approx(0.01)  # never tested against less than 1%
    assert "40 of 100 cells" in verdict.text() and "does not apply" in verdict.text()
    assert math.isclose(verdict.share, 0.4)


def test_colour_features_are_mean_rgb() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0], image[..., 2] = 200, 100
    assert colour_features([image]).tolist() == [[200.0, 0.0, 100.0]]
