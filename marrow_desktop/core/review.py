"""Review vocabulary shared by the store, the reports and the viewer (no Qt, no I/O).

A *case* is the folder a pathologist opened (one smear). Within a case each cell (image content
hash) may carry a person's label: a class code, or EXCLUDED to leave it out of the count.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass

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
    """Cells below either threshold are queued for review ("needs review")."""

    min_confidence: float = 0.7
    min_margin: float = 0.2


def uncertain(confidence: float, margin: float, thresholds: ReviewThresholds) -> bool:
    """A prediction below either review threshold."""
    return confidence < thresholds.min_confidence or margin < thresholds.min_margin


def review_reasons(probabilities: Sequence[float] | None, problems: Sequence[str],
                   thresholds: ReviewThresholds) -> list[str]:
    """Why a classified cell needs a person's look: low confidence, small margin, quality flags.

    `problems` are the image's quality problems (blurry, too dark, ...), already decided at the
    user's blur threshold. An unclassified cell has no reasons (it is not in the queue).
    """
    if probabilities is None or len(probabilities) == 0:
        return []
    ordered = sorted((float(p) for p in probabilities), reverse=True)
    top1 = ordered[0]
    margin = top1 - (ordered[1] if len(ordered) > 1 else 0.0)
    reasons = []
    if top1 < thresholds.min_confidence:
        reasons.append(f"confidence {top1:.0%}")
    if margin < thresholds.min_margin:
        reasons.append(f"margin {margin:.0%}")
    reasons.extend(problems)
    return reasons
