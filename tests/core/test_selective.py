"""Selective accuracy: counts on hand-made cases, threshold boundaries, malformed tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.paths import DEFAULT_MODEL
from marrow_desktop.core.selective import (
    CONFIDENCE_GRID,
    MARGIN_GRID,
    SelectiveAccuracy,
    describe,
    query,
    selective_table,
)

SHIPPED = Path(__file__).resolve().parents[2] / "models" / f"{DEFAULT_MODEL}.json"

# confidence, margin (top-1 minus top-2), correct
PROBS = np.array([
    [0.80, 0.20, 0.00],  # 0.80, 0.60, right: exactly on the 0.80 confidence threshold
    [0.50, 0.30, 0.20],  # 0.50, 0.20, wrong: exactly on 0.50 and on the 0.20 margin
    [0.90, 0.05, 0.05],  # 0.90, 0.85, right
    [0.40, 0.35, 0.25],  # 0.40, 0.05, wrong
    [0.35, 0.60, 0.05],  # 0.60, 0.25, right (top class is not the first column)
], dtype=np.float32)
CORRECT = np.array([True, False, True, False, True])


@pytest.fixture(scope="module")
def table() -> dict:
    return selective_table(PROBS, CORRECT)


@pytest.mark.parametrize(("confidence", "margin", "kept", "right"), [
    (0.0, 0.0, 5, 3),
    (0.4, 0.05, 5, 3),   # the 0.40 / 0.05 cell sits exactly on both thresholds
    (0.45, 0.0, 4, 3),
    (0.5, 0.0, 4, 3),
    (0.5, 0.2, 4, 3),    # margin exactly 0.20 is kept
    (0.5, 0.25, 3, 3),
    (0.0, 0.1, 4, 3),
    (0.6, 0.0, 3, 3),
    (0.8, 0.0, 2, 2),    # float32 0.8 counts as >= 0.8
    (0.85, 0.0, 1, 1),
    (0.8, 0.5, 2, 2),
    (0.9, 0.5, 1, 1),
])
def test_counts_by_hand(table: dict, confidence: float, margin: float, kept: int,
                        right: int) -> None:
    sel = query(table, confidence, margin)
    assert sel is not None
    assert (sel.kept, sel.images) == (kept, 5)
    assert sel.accuracy == pytest.approx(right / kept)
    assert sel.coverage == pytest.approx(kept / 5)


def test_table_shape_and_json(table: dict) -> None:
    assert table["images"] == 5
    assert table["confidence"] == list(CONFIDENCE_GRID) and len(CONFIDENCE_GRID) == 21
    assert table["margin"] == list(MARGIN_GRID) and len(MARGIN_GRID) == 11
    assert CONFIDENCE_GRID[16] == 0.8 and MARGIN_GRID[-1] == 0.5
    kept, right = np.array(table["kept"]), np.array(table["correct"])
    assert kept.shape == right.shape == (21, 11)
    assert (right <= kept).all()
    assert (np.diff(kept, axis=0) <= 0).all() and (np.diff(kept, axis=1) <= 0).all()
    assert json.loads(json.dumps(table)) == table  # plain ints and floats


def test_query_uses_the_grid_point_below(table: dict) -> None:
    sel = query(table, 0.83, 0.22)
    assert sel == query(table, 0.8, 0.2)
    assert sel is not None
    assert (sel.confidence_threshold, sel.margin_threshold) == (0.8, 0.2)
    above = query(table, 1.5, 0.9)  # past the grid: its last values
    assert above is not None and (above.confidence_threshold, above.margin_threshold) == (1, 0.5)
    below = query(table, -1, -1)  # any threshold below 0 keeps everything, as 0 does
    assert below is not None and below.kept == 5 and below.confidence_threshold == 0


def test_nothing_kept_has_nan_accuracy(table: dict) -> None:
    sel = query(table, 0.95, 0.0)
    assert sel is not None and sel.kept == 0 and sel.coverage == 0
    assert math.isnan(sel.accuracy)
    assert describe(sel) == ("On the 5 validation images, no cell had confidence ≥ 0.95 and "
                             "margin ≥ 0.00.")


def test_describe() -> None:
    sel = SelectiveAccuracy(confidence_threshold=0.7, margin_threshold=0.2, kept=468,
                            images=600, accuracy=0.964, coverage=0.78)
    assert describe(sel) == ("On the 600 validation images, cells with confidence ≥ 0.70 and "
                             "margin ≥ 0.20 (78% of cells) were 96.4% correct.")
    assert describe(sel, "test images").startswith("On the 600 test images,")


def test_single_class_and_nan_rows() -> None:
    one = selective_table(np.array([[1.0], [1.0]]), np.array([True, False]))
    sel = query(one, 1.0, 0.5)  # with one class the margin is the confidence
    assert sel is not None and sel.kept == 2 and sel.accuracy == 0.5
    nan = selective_table(np.array([[np.nan, np.nan], [0.9, 0.1]]), np.array([False, True]))
    sel = query(nan, 0.0, 0.0)
    assert sel is not None and (sel.kept, sel.images) == (1, 2)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        selective_table(np.zeros(3), np.zeros(3, bool))
    with pytest.raises(ValueError):
        selective_table(np.zeros((3, 2)), np.zeros(2, bool))


def _broken(table: dict, **changes) -> dict:
    return {**json.loads(json.dumps(table)), **changes}


@pytest.mark.parametrize("make", [
    lambda t: None,
    lambda t: {},
    lambda t: [],
    lambda t: "table",
    lambda t: {k: v for k, v in t.items() if k != "kept"},
    lambda t: _broken(t, images="600"),
    lambda t: _broken(t, images=True),
    lambda t: _broken(t, images=-1),
    lambda t: _broken(t, images=1),  # fewer images than kept
    lambda t: _broken(t, confidence=[]),
    lambda t: _broken(t, confidence=list(reversed(t["confidence"]))),
    lambda t: _broken(t, margin=[*t["margin"][:-1], "0.5"]),
    lambda t: _broken(t, kept=t["kept"][:-1]),
    lambda t: _broken(t, kept=[row[:-1] for row in t["kept"]]),
    lambda t: _broken(t, kept=[[float(v) for v in row] for row in t["kept"]]),
    lambda t: _broken(t, correct=[[v + 1 for v in row] for row in t["kept"]]),
    lambda t: _broken(t, correct=None),
])
def test_malformed_table_gives_none(table: dict, make) -> None:
    assert query(make(table), 0.0, 0.0) is None


def test_bad_thresholds_give_none(table: dict) -> None:
    assert query(table, math.nan, 0.0) is None
    assert query(table, 0.5, "high") is None  # type: ignore[arg-type]


def test_shipped_model_table() -> None:
    if not SHIPPED.is_file():
        pytest.skip("the shipped model is not present")
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    table = data["info"]["validation_selective"]
    assert table["temperature"] == pytest.approx(data["temperature"])
    assert table["confidence"] == list(CONFIDENCE_GRID)
    assert table["margin"] == list(MARGIN_GRID)
    points = [query(table, c, m) for c in CONFIDENCE_GRID for m in MARGIN_GRID]
    assert all(p is not None for p in points)
    kept = np.array(table["kept"])
    assert (np.diff(kept, axis=0) <= 0).all() and (np.diff(kept, axis=1) <= 0).all()
    everything = query(table, 0.0, 0.0)
    assert everything is not None
    assert everything.images == everything.kept == data["info"]["calibration"]["images"]
    assert everything.accuracy == pytest.approx(data["info"]["validation"]["accuracy"], abs=0.01)
