"""The report of one case, as data: what its CSV (core.report_csv) and its one-page summary
(core.report_html) show.

A case report gathers what a pathologist signs: the case details, the differential count (AI,
reviewed, final, with 95% Wilson intervals and the target count), the blast percentage, the
lab-shift verdict, image quality, the cells still waiting for review and the verification
sample's agreement, the sign-off state and whether the audit trail is intact (with its head
hash, which anchors the printed page to the store). No Qt, no torch: the GUI builds it on a
worker thread and `marrow report` from the command line.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from marrow_desktop.core import selective
from marrow_desktop.core.audit import GENESIS, AuditCheck, utc_now
from marrow_desktop.core.case_details import CaseDetails
from marrow_desktop.core.differential import Differential, Share, differential
from marrow_desktop.core.domain import CaseVerdict, case_verdict
from marrow_desktop.core.quality import DEFAULT_BLUR_THRESHOLD
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import (
    VERIFICATION,
    Review,
    ReviewThresholds,
    cell_reasons,
    final_class,
)
from marrow_desktop.core.taxonomy import full_name

if TYPE_CHECKING:
    from marrow_desktop.core.model_spec import ModelSpec
    from marrow_desktop.core.store import CaseInfo



@dataclass(frozen=True)
class CellRow:
    """One image of the case: its result, the person's review if any, why it needs review."""

    result: ImageResult
    review: Review | None = None
    reasons: tuple[str, ...] = ()

    @property
    def predicted(self) -> str:
        return self.result.predicted_class

    @property
    def final(self) -> str:
        """The class the differential counts (EXCLUDED for a cell a person took out)."""
        return final_class(self.predicted, self.review.label if self.review else "")

    @property
    def needs_review(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class QualitySummary:
    """How many images failed each quality check (at the report's blur threshold)."""

    images: int = 0  # images with quality measurements
    blurry: int = 0
    too_dark: int = 0
    too_bright: int = 0
    no_stain: int = 0
    grayscale: int = 0
    unreadable: int = 0  # error rows: unreadable, unsupported or failed to classify

    def items(self) -> list[tuple[str, str, int]]:
        """(key, label, count) in display order."""
        return [("blurry", "blurry", self.blurry), ("too-dark", "too dark", self.too_dark),
                ("too-bright", "too bright", self.too_bright),
                ("no-stain", "no stain", self.no_stain),
                ("grayscale", "grayscale", self.grayscale),
                ("unreadable", "unreadable / failed", self.unreadable)]


@dataclass(frozen=True)
class CaseReport:
    """Everything the case's CSV and summary page show."""

    case_id: str  # the case folder
    created: str  # when the report was made, ISO 8601 UTC
    model_name: str
    model_version: str
    model_sha256: str
    classes: tuple[str, ...]  # the model's classes (the CSV's probability columns)
    class_names: dict[str, str]
    thresholds: ReviewThresholds
    blur_threshold: float
    cells: tuple[CellRow, ...]
    differential: Differential
    quality: QualitySummary
    case: CaseInfo | None = None
    audit: AuditCheck | None = None
    selective: str = ""  # validation accuracy of the cells above the thresholds, if known
    verdict: CaseVerdict | None = None  # the lab-shift check's verdict (None: no check)
    details: CaseDetails = field(default_factory=CaseDetails)

    @property
    def target(self) -> int:
        return self.differential.target

    @property
    def images(self) -> int:
        return len(self.cells)

    @property
    def classified(self) -> int:
        return sum(1 for c in self.cells if c.result.classified)

    @property
    def errors(self) -> int:
        return sum(1 for c in self.cells if not c.result.ok)

    @property
    def needs_review(self) -> tuple[CellRow, ...]:
        """Cells in the review queue (low confidence, small margin or a quality problem)."""
        return tuple(c for c in self.cells if c.needs_review)

    @property
    def unreviewed(self) -> tuple[CellRow, ...]:
        """Cells in the review queue that no person has labelled yet."""
        return tuple(c for c in self.needs_review if c.review is None)

    @property
    def blast(self) -> Share | None:
        return self.differential.blast

    @property
    def signed(self) -> bool:
        return self.case is not None and self.case.signed

    @property
    def audit_head(self) -> str:
        if self.audit is not None:
            return self.audit.head
        return self.case.audit_head if self.case is not None else GENESIS

    def name_of(self, code: str) -> str:
        return self.class_names.get(code) or full_name(code)

    @property
    def verification(self) -> tuple[int, int, int]:
        """The verification sample: (cells drawn, reviewed, reviewed and agreeing with the
        model)."""
        drawn = [c for c in self.cells if VERIFICATION in c.reasons]
        reviewed = [c for c in drawn if c.review is not None and c.review.label]
        agreed = sum(1 for c in reviewed if c.review.label == c.predicted)  # type: ignore
        return len(drawn), len(reviewed), agreed


def selective_sentence(table: Any, thresholds: ReviewThresholds) -> str:
    """The validation accuracy of cells above the review thresholds, or '' when unknown."""
    sel = selective.query(table, thresholds.min_confidence, thresholds.min_margin)
    return selective.describe(sel) if sel is not None else ""


def quality_summary(results: Iterable[ImageResult], blur_threshold: float) -> QualitySummary:
    counts = dict.fromkeys(("images", "blurry", "too_dark", "too_bright", "no_stain",
                            "grayscale", "unreadable"), 0)
    for r in results:
        if not r.ok:
            counts["unreadable"] += 1
        q = r.quality
        if q is None:
            continue
        counts["images"] += 1
        counts["blurry"] += q.laplacian_var < blur_threshold
        counts["too_dark"] += q.too_dark
        counts["too_bright"] += q.too_bright
        counts["no_stain"] += not q.stain_present
        counts["grayscale"] += q.color_type != "rgb"
    return QualitySummary(**counts)


def build_case_report(
    results: Iterable[ImageResult],
    reviews: Mapping[str, Review],
    *,
    classes: Sequence[str] = (),
    model: ModelSpec | None = None,
    model_name: str = "",
    model_version: str = "",
    model_sha256: str = "",
    thresholds: ReviewThresholds | None = None,
    blur_threshold: float = DEFAULT_BLUR_THRESHOLD,
    target: int = 200,
    case: CaseInfo | None = None,
    audit: AuditCheck | None = None,
    case_id: str = "",
    created: str = "",
    selective_table: Any = None,
    false_alarm: float = math.nan,
) -> CaseReport:
    """A case report from the case's results (in display order) and its reviews by cell id.

    The model is described by `model` (its classes, names, version, identity, validation
    selective table and lab-shift false-alarm rate) or by the plain arguments. `case_id`
    defaults to the case info's; `created` to now. Cells whose id has a review carry it; quality
    problems (and so the review reasons) are decided at `blur_threshold`.
    """
    thresholds = thresholds or ReviewThresholds()
    case_id = case_id or (case.case_id if case is not None else "")
    names: dict[str, str] = {}
    if model is not None:
        classes = classes or model.classes
        names = dict(zip(model.classes, model.class_names))
        model_name = model_name or model.name
        model_version = model_version or model.version
        model_sha256 = model_sha256 or model.model_sha256
        if selective_table is None:
            selective_table = model.info.get("validation_selective")
        if math.isnan(false_alarm):
            false_alarm = float((model.info.get("domain") or {}).get("false_alarm", math.nan))
    rows = []
    for result in results:
        q = result.quality
        if q is not None and q.at_blur_threshold(blur_threshold) is not q:
            # the CSV's blurry column agrees with the reasons and the quality summary
            result = dataclasses.replace(result, quality=q.at_blur_threshold(blur_threshold))
        review = reviews.get(result.cell) if result.cell else None
        reasons = cell_reasons(result, thresholds, blur_threshold, case_id)
        rows.append(CellRow(result, review, tuple(reasons)))
    diff = differential(((c.predicted, c.review.label if c.review else "") for c in rows),
                        classes, target)
    for row in diff.rows:
        names.setdefault(row.code, full_name(row.code))
    flags = [c.result.in_domain for c in rows if c.result.in_domain is not None]
    verdict = case_verdict(flags, false_alarm) if flags and not math.isnan(false_alarm) \
        else None
    return CaseReport(
        case_id=case_id,
        created=created or utc_now(),
        model_name=model_name, model_version=model_version, model_sha256=model_sha256,
        classes=tuple(classes), class_names=names, thresholds=thresholds,
        blur_threshold=blur_threshold, cells=tuple(rows), differential=diff,
        quality=quality_summary((c.result for c in rows), blur_threshold),
        case=case, audit=audit,
        selective=selective_sentence(selective_table, thresholds) if selective_table else "",
        verdict=verdict,
        details=CaseDetails.from_json(case.details) if case is not None else CaseDetails(),
    )
