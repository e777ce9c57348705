"""Selective accuracy: how accurate the cells above the review thresholds are, and how many.

A cell is queued for review when its (calibrated) top-1 probability is below a confidence
threshold or the gap between its two highest probabilities is below a margin threshold. The
table made here counts, over a grid of both thresholds, the cells kept (confidence >= c and
margin >= m) and how many of those were correct; accuracy and coverage are derived on query.
Tables are plain JSON (they travel in metrics.json and in the model's metadata), so `query`
never raises on a malformed one: it returns None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

STEP = 0.05
CONFIDENCE_GRID: tuple[float, ...] = tuple(round(i * STEP, 2) for i in range(21))  # 0.00..1.00
MARGIN_GRID: tuple[float, ...] = tuple(round(i * STEP, 2) for i in range(11))  # 0.00..0.50
EPS = 1e-6  # a float32 probability of 0.8 (0.79999995...) counts as >= 0.8


def _grid_index(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of the largest grid value <= each value (within EPS); -1 below the grid."""
    return np.searchsorted(grid, values + EPS, side="right") - 1


def _at_least(counts: np.ndarray) -> np.ndarray:
    """counts[i, j] -> number with row index >= i and column index >= j."""
    return counts[::-1, ::-1].cumsum(axis=0).cumsum(axis=1)[::-1, ::-1]


def selective_table(probabilities: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Cells kept and correct at each (confidence, margin) grid threshold.

    `probabilities` is N x K (calibrated), `correct` N booleans (top-1 right). Returns
    {"images", "confidence", "margin", "kept", "correct"}; kept/correct are integer rows, one
    per confidence threshold, one column per margin threshold.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    right = np.asarray(correct)
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise ValueError(f"probabilities must be N x K, got shape {probs.shape}")
    if right.shape != (probs.shape[0],):
        raise ValueError(f"correct must have shape ({probs.shape[0]},), got {right.shape}")
    right = right.astype(bool)
    top = np.sort(probs, axis=1)[:, ::-1]
    confidence = top[:, 0]
    margin = confidence - (top[:, 1] if probs.shape[1] > 1 else 0.0)
    conf_grid, margin_grid = np.array(CONFIDENCE_GRID), np.array(MARGIN_GRID)
    ci = _grid_index(confidence, conf_grid)
    mi = _grid_index(margin, margin_grid)
    # nan or negative (never, for probabilities): never kept
    valid = (ci >= 0) & (mi >= 0) & np.isfinite(confidence) & np.isfinite(margin)
    shape = (len(conf_grid), len(margin_grid))
    kept = np.zeros(shape, dtype=np.int64)
    hits = np.zeros(shape, dtype=np.int64)
    np.add.at(kept, (ci[valid], mi[valid]), 1)
    np.add.at(hits, (ci[valid & right], mi[valid & right]), 1)
    return {
        "images": len(probs),
        "confidence": list(CONFIDENCE_GRID),
        "margin": list(MARGIN_GRID),
        "kept": _at_least(kept).tolist(),
        "correct": _at_least(hits).tolist(),
    }


@dataclass(frozen=True)
class SelectiveAccuracy:
    """The cells kept at one grid point of a selective table.

    `confidence_threshold` and `margin_threshold` are the grid values actually used (the
    largest ones not above the thresholds asked for); `accuracy` is nan when nothing is kept.
    """

    confidence_threshold: float
    margin_threshold: float
    kept: int
    images: int
    accuracy: float
    coverage: float


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _valid_grid(values: Any) -> bool:
    return (isinstance(values, list) and len(values) > 0 and all(map(_is_number, values))
            and all(a < b for a, b in pairwise(values)))


def _valid_counts(rows: Any, n_rows: int, n_cols: int) -> bool:
    return (isinstance(rows, list) and len(rows) == n_rows
            and all(isinstance(r, list) and len(r) == n_cols and all(map(_is_int, r))
                    for r in rows))


def _grid_point(grid: list[float], asked: float) -> int:
    """Index of the largest grid value <= asked (the first one when asked is below the grid)."""
    below = [i for i, v in enumerate(grid) if v <= asked + EPS]
    return below[-1] if below else 0


def query(table: Any, confidence: float, margin: float) -> SelectiveAccuracy | None:
    """Accuracy and coverage of the cells kept at (confidence, margin); None if `table` is
    missing or malformed (or a threshold is not a number).

    Uses the largest grid thresholds <= the asked ones; thresholds below the grid use its first
    value (0, which keeps every cell, as any lower threshold would).
    """
    try:
        confidence, margin = float(confidence), float(margin)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(confidence) and math.isfinite(margin)) or not isinstance(table, dict):
        return None
    images = table.get("images")
    conf_grid, margin_grid = table.get("confidence"), table.get("margin")
    kept_rows, correct_rows = table.get("kept"), table.get("correct")
    if not (_is_int(images) and images >= 0 and _valid_grid(conf_grid)
            and _valid_grid(margin_grid)):
        return None
    if not (_valid_counts(kept_rows, len(conf_grid), len(margin_grid))
            and _valid_counts(correct_rows, len(conf_grid), len(margin_grid))):
        return None
    i, j = _grid_point(conf_grid, confidence), _grid_point(margin_grid, margin)
    kept, right = kept_rows[i][j], correct_rows[i][j]
    if not 0 <= right <= kept <= images:
        return None
    return SelectiveAccuracy(
        confidence_threshold=float(conf_grid[i]), margin_threshold=float(margin_grid[j]),
        kept=kept, images=images,
        accuracy=right / kept if kept else math.nan,
        coverage=kept / images if images else math.nan,
    )


def describe(sel: SelectiveAccuracy, images_label: str = "validation images") -> str:
    """One line for people, e.g. 'On the 600 validation images, cells with confidence ≥ 0.70
    and margin ≥ 0.20 (78% of cells) were 96.4% correct.'"""
    where = f"On the {sel.images} {images_label}"
    which = (f"confidence ≥ {sel.confidence_threshold:.2f} and "
             f"margin ≥ {sel.margin_threshold:.2f}")
    if sel.kept == 0:
        return f"{where}, no cell had {which}."
    share = "<1%" if sel.coverage < 0.01 else f"{sel.coverage:.0%}"
    return f"{where}, cells with {which} ({share} of cells) were {sel.accuracy:.1%} correct."
