"""The differential count of a case: per class, counts and percentages with Wilson intervals.

Three columns, each over its own cells: AI (the model's class of every classified cell),
reviewed (the cells a person labelled) and final (reviewed where present, else AI). Cells a
person excluded and classes in review.NOT_COUNTED are listed but not in any denominator.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from marrow_desktop.core.defaults import AML_BLASTS, ELEVATED_BLASTS, MIN_BLAST_COUNT
from marrow_desktop.core.review import BLAST, EXCLUDED, NOT_COUNTED

Z95 = 1.959963984540054
#: The granulocytic series (and monocytes are left out, as is usual) over the erythroid
#: precursors: the myeloid-to-erythroid (M:E) ratio of a marrow.
MYELOID: frozenset[str] = frozenset({"PMO", "MYB", "MMZ", "NGB", "NGS", "EOS", "ABE", "BAS",
                                     "FGC"})
ERYTHROID: frozenset[str] = frozenset({"EBO", "PEB"})


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (0..1); (nan, nan) when n == 0."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Share:
    """k of n cells, as a fraction with its 95% interval."""

    count: int
    total: int

    @property
    def fraction(self) -> float:
        return self.count / self.total if self.total else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.total)

    def interval_text(self) -> str:
        """'8.6–17.8' (percent) or '' with no cells."""
        if not self.total:
            return ""
        lo, hi = self.interval
        return f"{100 * lo:.1f}–{100 * hi:.1f}"

    def text(self) -> str:
        """'12.5% (8.6–17.8)' or '–' with no cells."""
        if not self.total:
            return "–"
        return f"{100 * self.fraction:.1f}% ({self.interval_text()})"


@dataclass(frozen=True)
class DifferentialRow:
    code: str
    counted: bool  # part of the denominators
    ai: Share
    reviewed: Share
    final: Share


@dataclass(frozen=True)
class Differential:
    rows: tuple[DifferentialRow, ...]
    ai_total: int
    reviewed_total: int
    final_total: int
    cells: int  # cells with a class (model's or person's)
    reviewed_cells: int  # cells a person labelled, excluded ones included
    excluded: int  # cells a person took out of the count
    not_counted: dict[str, int]  # final class -> cells, for NOT_COUNTED classes
    target: int

    @property
    def progress(self) -> float:
        """Counted (final) cells over the target count, 0..1."""
        return min(1.0, self.final_total / self.target) if self.target else 1.0

    def row(self, code: str) -> DifferentialRow | None:
        return next((r for r in self.rows if r.code == code), None)

    @property
    def blast(self) -> Share | None:
        row = self.row(BLAST)
        return row.final if row is not None else None

    def me_ratio(self) -> float | None:
        """Myeloid (granulocytic series) over erythroid precursors, final labels; None unless
        both are present."""
        myeloid = sum(r.final.count for r in self.rows if r.code in MYELOID)
        erythroid = sum(r.final.count for r in self.rows if r.code in ERYTHROID)
        return myeloid / erythroid if myeloid and erythroid else None


def differential(cells: Iterable[tuple[str, str]], classes: Sequence[str],
                 target: int = 200) -> Differential:
    """Count (predicted, reviewed) pairs; '' = none. Classes outside `classes` are appended."""
    ai: Counter[str] = Counter()
    rev: Counter[str] = Counter()
    fin: Counter[str] = Counter()
    n_cells = n_reviewed = n_excluded = 0
    for predicted, reviewed in cells:
        if not predicted and not reviewed:
            continue
        n_cells += 1
        if predicted:
            ai[predicted] += 1
        if reviewed:
            n_reviewed += 1
            if reviewed == EXCLUDED:
                n_excluded += 1
                continue
            rev[reviewed] += 1
        fin[reviewed or predicted] += 1
    codes = list(classes) + sorted((set(ai) | set(rev) | set(fin)) - set(classes))

    def total(counter: Counter[str]) -> int:
        return sum(v for k, v in counter.items() if k not in NOT_COUNTED)

    totals = total(ai), total(rev), total(fin)
    rows = []
    for code in codes:
        counted = code not in NOT_COUNTED
        shares = [Share(c[code], t if counted else 0) for c, t in zip((ai, rev, fin), totals)]
        rows.append(DifferentialRow(code, counted, *shares))
    not_counted = {c: fin[c] for c in codes if c in NOT_COUNTED and fin[c]}
    return Differential(tuple(rows), *totals, cells=n_cells, reviewed_cells=n_reviewed,
                        excluded=n_excluded, not_counted=not_counted, target=target)


def blast_level(share: Share | None) -> str:
    """'aml' (>= 20%), 'elevated' (>= 5%) or 'normal' for a blast share of at least
    MIN_BLAST_COUNT counted cells; '' when there is no count or too few cells to judge."""
    if share is None or share.total < MIN_BLAST_COUNT:
        return ""
    return "aml" if share.fraction >= AML_BLASTS else "elevated" \
        if share.fraction >= ELEVATED_BLASTS else "normal"
