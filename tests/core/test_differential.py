"""Differential count and Wilson intervals against hand-computed values."""

from __future__ import annotations

import math

import pytest

from marrow_desktop.core.differential import Share, differential, wilson_interval
from marrow_desktop.core.review import EXCLUDED, ReviewThresholds, review_reasons

CLASSES = ("BLA", "EOS", "LYT", "MON", "NGS", "NIF", "PMO")


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # p = 0.4, n = 20, z = 1.96: centre (0.4 + 0.09604) / 1.19208 = 0.41611,
    # half 1.95996 * sqrt(0.012 + 0.0024010) / 1.19208 = 0.19731
    (8, 20, 0.21879, 0.61342),
    (0, 10, 0.0, 0.27753),  # z^2/(n+z^2) = 3.8415 / 13.8415
    (10, 10, 0.72247, 1.0),
    (1, 200, 0.00088, 0.02778),
])
def test_wilson_interval_matches_hand_computed_values(k: int, n: int, low: float,
                                                      high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_no_cells_has_no_interval() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    assert Share(0, 0).text() == "–"
    assert Share(8, 20).text() == "40.0% (21.9–61.3)"


def test_ai_reviewed_and_final_columns() -> None:
    cells = ([("BLA", "")] * 6 + [("BLA", "BLA")] * 2 + [("MON", "BLA")] * 2
             + [("MON", "")] * 5 + [("LYT", EXCLUDED)] * 3 + [("NIF", "")] * 4
             + [("EOS", "NIF")] + [("", "")] * 7)  # the last ones are unclassified images
    d = differential(cells, CLASSES, target=200)
    assert d.cells == 23 and d.reviewed_cells == 8 and d.excluded == 3
    # AI: every prediction but NIF counts: 8 BLA + 7 MON + 3 LYT + 1 EOS = 19
    assert d.ai_total == 19
    assert d.row("BLA").ai == Share(8, 19) and d.row("LYT").ai == Share(3, 19)
    # reviewed: BLA x4 (NIF reviewed is not counted, excluded are out) = 4
    assert d.reviewed_total == 4 and d.row("BLA").reviewed == Share(4, 4)
    # final: 10 BLA + 5 MON = 15 (LYT excluded, NIF x5 not counted)
    assert d.final_total == 15
    assert d.row("BLA").final == Share(10, 15) and d.row("MON").final == Share(5, 15)
    assert d.row("LYT").final == Share(0, 15)
    assert d.not_counted == {"NIF": 5}
    assert not d.row("NIF").counted and d.row("NIF").final.total == 0
    assert d.blast == Share(10, 15)
    assert d.progress == pytest.approx(15 / 200)


def test_classes_outside_the_model_are_listed_after_its_own() -> None:
    d = differential([("BLA", "PLM"), ("BLA", "")], CLASSES)
    assert [r.code for r in d.rows][-1] == "PLM" and d.row("PLM").final == Share(1, 2)


def test_review_reasons() -> None:
    t = ReviewThresholds(min_confidence=0.7, min_margin=0.2)
    assert review_reasons([0.9, 0.05, 0.05], [], t) == []
    assert review_reasons([0.6, 0.3, 0.1], [], t) == ["confidence 60%"]
    assert review_reasons([0.75, 0.6, 0.0], ["blurry"], t) == ["margin 15%", "blurry"]
    assert review_reasons(None, ["blurry"], t) == []
