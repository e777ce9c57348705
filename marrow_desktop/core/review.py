"""Review vocabulary shared by the store, the reports and the viewer (no Qt, no I/O).

A *case* is the folder a pathologist opened (one smear). Within a case each cell (image content
hash) may carry a person's label: a class code, or EXCLUDED to leave it out of the count.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from marrow_desktop.core import defaults

if TYPE_CHECKING:
    from marrow_desktop.core.results import ImageResult

#: Review label that takes a cell out of the differential count ("not classified").
EXCLUDED = "excluded"
#: Classes listed but never part of the differential's denominator (artefacts, smudged and
#: unidentifiable cells are not nucleated cells a differential counts).
NOT_COUNTED: frozenset[str] = frozenset({"ART", "KSC", "NIF"})
BLAST = "BLA"
TARGET_COUNTS: tuple[int, ...] = (200, 300, 500)


@dataclass(frozen=True)
class Review:
    """A person's label for one cell of a case."""

    label: str  # a class code or EXCLUDED
    reviewer: str
    at: str  # ISO 8601, UTC
    path: str = ""


def final_class(predicted: str, review: str) -> str:
    """The label a report counts: the reviewed one where present, else the model's."""
    return review or predicted


def case_id_for(sources: Sequence[str]) -> str:
    """The case of what was opened: the folder itself, or the common folder of the files
    (a path that is not an existing file is taken as a folder)."""
    if not sources:
        return ""
    folders = [os.path.dirname(os.path.abspath(s)) if os.path.isfile(s) else os.path.abspath(s)
               for s in sources]
    try:
        common = os.path.commonpath(folders)
    except ValueError:  # different drives on Windows
        common = folders[0]
    return os.path.normcase(os.path.normpath(common))


def current_user() -> str:
    """The operating-system user name (what the audit trail records by default)."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # getpass raises several kinds when no name is set
        return "unknown"


@dataclass(frozen=True)
class ReviewThresholds:
    """What puts a classified cell in the review queue ("needs review"), see cell_reasons."""

    min_confidence: float = defaults.MIN_CONFIDENCE  # calibrated top-class probability below
    min_margin: float = defaults.MIN_MARGIN  # top-1 minus top-2 probability below this
    blast_probability: float = defaults.BLAST_PROBABILITY  # blast probability at or above
    verification_share: float = defaults.VERIFICATION_SHARE  # random share of the other cells


#: Reason texts that are not a number (the queue's filter and the report group by them).
BLAST_REASON = "blast"
UNFAMILIAR = "unfamiliar"
VERIFICATION = "verification sample"
#: A whole image much larger than one cell, classified as one (core.fields.looks_like_field).
FIELD_PHOTOGRAPH = "field photograph"


def top_two(probabilities: Sequence[float]) -> tuple[float, float]:
    """Top-1 probability and the margin to the second: the one place they are computed."""
    ordered = sorted((float(p) for p in probabilities), reverse=True)
    top1 = ordered[0] if ordered else float("nan")
    return top1, top1 - (ordered[1] if len(ordered) > 1 else 0.0)


def uncertain(confidence: float, margin: float, thresholds: ReviewThresholds) -> bool:
    """A prediction below either review threshold."""
    return confidence < thresholds.min_confidence or margin < thresholds.min_margin


def in_verification_sample(key: str, share: float) -> bool:
    """A stable random draw: the same cell of the same case is always in or out."""
    if share <= 0 or not key:
        return False
    draw = int(hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16)
    return draw < share * 0x100000000


def review_reasons(probabilities: Sequence[float] | None, problems: Sequence[str],
                   thresholds: ReviewThresholds, classes: Sequence[str] = (),
                   unfamiliar: bool = False, sample_key: str = "") -> list[str]:
    """Why a classified cell needs a person's look; empty: it does not. The one rule.

    Low confidence, a small top-2 margin, predicted blast or a blast probability at or above
    the threshold (blasts decide diagnoses), unlike the model's training images (the lab-shift
    check), quality problems (already decided at the user's blur threshold). A cell with none of
    these is drawn into the random verification sample with `sample_key` (case + cell).
    An unclassified cell has no reasons (it is not in the queue).
    """
    if probabilities is None or len(probabilities) == 0:
        return []
    top1, margin = top_two(probabilities)
    reasons = []
    if top1 < thresholds.min_confidence:
        reasons.append(f"confidence {top1:.0%}")
    if margin < thresholds.min_margin:
        reasons.append(f"margin {margin:.0%}")
    if BLAST in classes:
        index = list(classes).index(BLAST)
        blast = float(probabilities[index])
        if blast >= max(probabilities):
            reasons.append(BLAST_REASON)
        elif blast >= thresholds.blast_probability:
            reasons.append(f"{BLAST_REASON} {blast:.0%}")
    if unfamiliar:
        reasons.append(UNFAMILIAR)
    reasons.extend(problems)
    if not reasons and in_verification_sample(sample_key, thresholds.verification_share):
        reasons.append(VERIFICATION)
    return reasons


def cell_reasons(result: ImageResult, thresholds: ReviewThresholds | None = None,
                 blur_threshold: float | None = None, case_id: str = "") -> list[str]:
    """review_reasons of a result: its quality verdicts (the blur one re-decided at
    `blur_threshold` when given), a field photograph classified as one cell, its lab-shift
    verdict, and the verification draw keyed by the case and the cell."""
    if not result.classified:
        return []
    q = result.quality
    problems: list[str] = []
    if q is not None:
        problems = q.problems() if blur_threshold is None else q.problems_at(blur_threshold)
    if result.extra.get("field"):
        problems = [*problems, FIELD_PHOTOGRAPH]
    key = f"{case_id}\n{result.cell}" if case_id and result.cell else ""
    return review_reasons(result.probabilities, problems, thresholds or ReviewThresholds(),
                          result.classes, result.in_domain is False, key)
