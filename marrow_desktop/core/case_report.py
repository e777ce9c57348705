"""The report of one case: every cell's row (CSV) and a one-page printable summary (HTML).

A case report gathers what a pathologist signs: the differential count (AI, reviewed, final,
with 95% Wilson intervals and the target count), the blast percentage, image quality, the cells
still waiting for review, the sign-off state and whether the audit trail is intact (with its
head hash, which anchors the printed page to the store). No Qt, no torch: the GUI builds it on
a worker thread and `marrow report` from the command line.

The HTML page is self-contained (inline CSS with print rules, an inline SVG chart, no script)
and machine-checkable: every number of the differential table sits in a cell with `data-class`
and `data-col` attributes (and the exact value in `data-value`), and the headline figures have
ids, so tests and other tools can read them back.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marrow_desktop.core import selective
from marrow_desktop.core.audit import GENESIS, AuditCheck, utc_now
from marrow_desktop.core.differential import Differential, Share, differential
from marrow_desktop.core.quality import DEFAULT_BLUR_THRESHOLD
from marrow_desktop.core.report import atomic_write, report_columns, result_row
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import (
    BLAST,
    NOT_COUNTED,
    Review,
    ReviewThresholds,
    cell_reasons,
    final_class,
)
from marrow_desktop.core.taxonomy import full_name

if TYPE_CHECKING:
    from marrow_desktop.core.model_spec import ModelSpec
    from marrow_desktop.core.store import CaseInfo

CELLS_CSV = "cells.csv"
SUMMARY_HTML = "report.html"
#: File names of the cells still to review listed on the page (the CSV has them all).
MAX_LISTED = 40


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
) -> CaseReport:
    """A case report from the case's results (in display order) and its reviews by content hash.

    The model is described by `model` (its classes, names, version, hash and validation
    selective table) or by the plain arguments. `case_id` defaults to the case info's; `created`
    to now. Cells whose content hash has a review carry it; quality problems (and so the review
    reasons) are decided at `blur_threshold`.
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
    return CaseReport(
        case_id=case_id,
        created=created or utc_now(),
        model_name=model_name, model_version=model_version, model_sha256=model_sha256,
        classes=tuple(classes), class_names=names, thresholds=thresholds,
        blur_threshold=blur_threshold, cells=tuple(rows), differential=diff,
        quality=quality_summary((c.result for c in rows), blur_threshold),
        case=case, audit=audit,
        selective=selective_sentence(selective_table, thresholds) if selective_table else "",
    )


# writing ----------------------------------------------------------------------------------------
def write_cells_csv(report: CaseReport, path: str | Path) -> Path:
    """The per-cell CSV (core.report's columns, reviews and final classes filled in)."""
    columns = report_columns(report.classes)

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for cell in report.cells:
            writer.writerow(result_row(cell.result, report.classes, cell.review, cell.reasons))

    return atomic_write(Path(path), write, newline="", encoding="utf-8-sig")


def write_summary_html(report: CaseReport, path: str | Path) -> Path:
    """The one-page printable summary."""
    page = summary_html(report)
    return atomic_write(Path(path), lambda handle: handle.write(page))


def write_case_report(report: CaseReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `<out_dir>/cells.csv` and `<out_dir>/report.html`; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_cells_csv(report, out / CELLS_CSV), write_summary_html(report, out / SUMMARY_HTML)


# the HTML page ----------------------------------------------------------------------------------
_CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10pt/1.35 "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #111;
       max-width: 190mm; margin: 1em auto; padding: 0 1em; }
h1 { font-size: 15pt; margin: 0 0 .2em; }
h2 { font-size: 11pt; margin: 1em 0 .3em; border-bottom: 1px solid #999; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1em 1em; margin: .4em 0; }
dl.meta dt { color: #555; } dl.meta dd { margin: 0; word-break: break-all; }
.status { padding: .35em .6em; border: 2px solid; font-weight: bold; margin: .5em 0; }
.status.signed { border-color: #1b5e20; color: #1b5e20; }
.status.preliminary { border-color: #b71c1c; color: #b71c1c; }
.headline { display: flex; gap: 2em; align-items: baseline; margin: .5em 0; }
.headline .big { font-size: 22pt; font-weight: bold; }
.headline .ci { color: #333; }
.progress { height: .7em; background: #e0e0e0; width: 60mm; display: inline-block;
            vertical-align: middle; }
.progress span { display: block; height: 100%; background: #1565c0; }
table { border-collapse: collapse; width: 100%; margin: .3em 0; }
th, td { border: 1px solid #bbb; padding: .15em .4em; text-align: right; }
th { background: #eee; } td.code, td.name, th.name { text-align: left; }
tr.not-counted td { color: #666; font-style: italic; }
tfoot td { font-weight: bold; background: #f6f6f6; }
.bad { color: #b71c1c; font-weight: bold; } .ok { color: #1b5e20; }
.hash { font-family: Consolas, "DejaVu Sans Mono", monospace; font-size: 8.5pt; }
.small { font-size: 8.5pt; color: #444; }
svg { max-width: 100%; height: auto; }
@media print {
  body { margin: 0; padding: 0; max-width: none; }
  h2, table, svg, .keep { break-inside: avoid; page-break-inside: avoid; }
  .status, .progress span, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _pct(share: Share) -> str:
    return f"{100 * share.fraction:.1f}%" if share.total else "–"


def _date(iso: str) -> str:
    """'2024-05-01 14:03 UTC' from ISO text (the text itself if it does not parse)."""
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return iso


def _num(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"


def _share_cells(code: str, col: str, share: Share, counted: bool, ci: bool = False) -> str:
    count = (f'<td data-class="{_e(code)}" data-col="{col}-count" data-value="{share.count}">'
             f"{share.count}</td>")
    if not counted:
        return count + f'<td data-class="{_e(code)}" data-col="{col}-percent">not counted</td>'
    lo, hi = share.interval
    attrs = (f'data-class="{_e(code)}" data-col="{col}-percent" '
             f'data-value="{_num(share.fraction)}"')
    text = _pct(share)
    if ci:
        attrs += f' data-ci-low="{_num(lo)}" data-ci-high="{_num(hi)}"'
        text = share.text()
    return count + f"<td {attrs}>{_e(text)}</td>"


def _chart(report: CaseReport) -> str:
    """Horizontal bars of the final differential's counted classes, with 95% CI whiskers."""
    rows = [r for r in report.differential.rows if r.counted]
    if not rows or not report.differential.final_total:
        return '<p class="small">No counted cells yet: nothing to chart.</p>'
    top = max(r.final.interval[1] for r in rows)
    scale_max = min(1.0, max(0.1, math.ceil(top * 10 - 1e-9) / 10))
    label_w, plot_w, bar_h, gap, top_pad = 150, 420, 14, 6, 18
    height = top_pad + len(rows) * (bar_h + gap) + 6
    width = label_w + plot_w + 60

    def x(v: float) -> float:
        return label_w + plot_w * min(v, scale_max) / scale_max

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="10">',
             "<title>Final differential, % of counted cells with 95% confidence intervals</title>"]
    steps = round(scale_max * 10)
    for i in range(steps + 1):
        v = scale_max * i / steps
        parts.append(f'<line x1="{x(v):.1f}" y1="{top_pad - 4}" x2="{x(v):.1f}" '
                     f'y2="{height - 4}" stroke="#ddd"/>'
                     f'<text x="{x(v):.1f}" y="{top_pad - 7}" text-anchor="middle" '
                     f'fill="#555">{100 * v:.0f}%</text>')
    for i, row in enumerate(rows):
        y = top_pad + i * (bar_h + gap)
        share = row.final
        lo, hi = share.interval
        fill = "#c62828" if row.code == BLAST else "#1565c0"
        label = f"{row.code} {report.name_of(row.code)}"
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 3}" text-anchor="end">'
                     f"{_e(label[:26])}</text>")
        parts.append(f'<rect data-class="{_e(row.code)}" x="{label_w}" y="{y}" '
                     f'width="{x(share.fraction) - label_w:.1f}" height="{bar_h}" '
                     f'fill="{fill}" fill-opacity="0.75"/>')
        mid = y + bar_h / 2
        parts.append(f'<g stroke="#111" stroke-width="1.2"><line x1="{x(lo):.1f}" y1="{mid}" '
                     f'x2="{x(hi):.1f}" y2="{mid}"/><line x1="{x(lo):.1f}" y1="{y + 3}" '
                     f'x2="{x(lo):.1f}" y2="{y + bar_h - 3}"/><line x1="{x(hi):.1f}" '
                     f'y1="{y + 3}" x2="{x(hi):.1f}" y2="{y + bar_h - 3}"/></g>')
        parts.append(f'<text x="{x(hi) + 4:.1f}" y="{y + bar_h - 3}" fill="#333">'
                     f"{_e(_pct(share))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _table(report: CaseReport) -> str:
    d = report.differential
    head = ('<table id="differential"><thead><tr><th rowspan="2">Code</th>'
            '<th rowspan="2" class="name">Cell type</th><th colspan="2">AI</th>'
            '<th colspan="2">Reviewed</th><th colspan="2">Final (95% CI)</th></tr>'
            "<tr><th>n</th><th>%</th><th>n</th><th>%</th><th>n</th><th>% (95% CI)</th></tr>"
            "</thead><tbody>")
    body = []
    for row in d.rows:
        cls = "" if row.counted else ' class="not-counted"'
        body.append(
            f'<tr data-class="{_e(row.code)}"{cls}>'
            f'<td class="code" data-class="{_e(row.code)}" data-col="code">{_e(row.code)}</td>'
            f'<td class="name" data-class="{_e(row.code)}" data-col="name">'
            f"{_e(report.name_of(row.code))}</td>"
            + _share_cells(row.code, "ai", row.ai, row.counted)
            + _share_cells(row.code, "reviewed", row.reviewed, row.counted)
            + _share_cells(row.code, "final", row.final, row.counted, ci=True) + "</tr>")
    foot = ('<tfoot><tr><td colspan="2" class="name">Counted cells</td>'
            f'<td data-col="ai-total" data-value="{d.ai_total}">{d.ai_total}</td><td></td>'
            f'<td data-col="reviewed-total" data-value="{d.reviewed_total}">{d.reviewed_total}'
            "</td><td></td>"
            f'<td data-col="final-total" data-value="{d.final_total}">{d.final_total}</td>'
            "<td></td></tr></tfoot></table>")
    return head + "".join(body) + "</tbody>" + foot


def _not_counted_line(report: CaseReport) -> str:
    d = report.differential
    parts = [f'excluded by a reviewer: <span id="excluded-count" data-value="{d.excluded}">'
             f"{d.excluded}</span>"]
    listed = [f'<span data-not-counted="{_e(code)}" data-value="{n}">{_e(code)} '
              f"({_e(report.name_of(code))}) {n}</span>"
              for code, n in sorted(d.not_counted.items())]
    not_counted = sorted(NOT_COUNTED)
    total = sum(d.not_counted.values())
    listed_text = ", ".join(listed) if listed else "none"
    return (f'<p id="not-counted" data-value="{total}">Not in the count: '
            f"{'; '.join(parts)}; classes listed but never counted "
            f"({_e(', '.join(not_counted))}): {listed_text}.</p>")


def _review_section(report: CaseReport) -> str:
    t = report.thresholds
    flagged, waiting = report.needs_review, report.unreviewed
    lines = [f'<p><span id="needs-review" data-value="{len(flagged)}">{len(flagged)}</span> of '
             f"{report.classified} classified cells need review (confidence below "
             f"{t.min_confidence:.0%}, margin between the two most likely classes below "
             f"{t.min_margin:.0%}, or a quality problem at blur threshold "
             f"{report.blur_threshold:g}); "
             f'<span id="unreviewed" data-value="{len(waiting)}" '
             f'class="{"bad" if waiting else "ok"}">{len(waiting)}</span> not reviewed yet. '
             f'Reviewed cells: <span id="reviewed-cells" '
             f'data-value="{report.differential.reviewed_cells}">'
             f"{report.differential.reviewed_cells}</span>.</p>"]
    if report.selective:
        lines.append(f'<p id="selective" class="small">{_e(report.selective)}</p>')
    if waiting:
        names = [Path(c.result.path).name for c in waiting[:MAX_LISTED]]
        more = (f" … and {len(waiting) - MAX_LISTED} more (see {CELLS_CSV})"
                if len(waiting) > MAX_LISTED else "")
        lines.append('<p class="small" id="unreviewed-list">Still to review: '
                     + ", ".join(f"<span>{_e(n)}</span>" for n in names) + _e(more) + "</p>")
    return "".join(lines)


def _sign_off(report: CaseReport, ident: str) -> str:
    case = report.case
    if case is not None and case.signed:
        note = f" — {_e(case.sign_note)}" if case.sign_note else ""
        return (f'<div class="status signed" id="{ident}" data-signed="1">Signed off by '
                f"{_e(case.signed_by)} on {_e(_date(case.signed_at))}{note}</div>")
    return (f'<div class="status preliminary" id="{ident}" data-signed="0">NOT SIGNED OFF — '
            "preliminary</div>")


def _audit(report: CaseReport) -> str:
    check = report.audit
    head = report.audit_head
    if check is None:
        status, text, cls = "unknown", "Audit trail not checked", "bad"
    elif check.ok:
        status, text, cls = "intact", check.summary(), "ok"
    else:
        status, text, cls = "broken", check.summary(), "bad"
    problems = ""
    if check is not None and len(check.problems) > 1:
        problems = "<ul class=\"small\">" + "".join(
            f"<li>{_e(p)}</li>" for p in check.problems[:10]) + "</ul>"
    return (f'<p id="audit" data-status="{status}" class="{cls}">{_e(text)}</p>{problems}'
            f'<p class="small">Audit head hash: <span class="hash" id="audit-head">'
            f"{_e(head)}</span></p>")


def summary_html(report: CaseReport) -> str:
    """The summary page as text (see write_summary_html)."""
    d = report.differential
    folder = report.case_id or "(no folder)"
    blast = report.blast
    if blast is not None and blast.total:
        lo, hi = blast.interval
        blast_html = (f'<div><div>Blasts (final)</div><div class="big" id="blast-percent" '
                      f'data-value="{_num(blast.fraction)}" data-ci-low="{_num(lo)}" '
                      f'data-ci-high="{_num(hi)}">{_pct(blast)}</div><div class="ci">95% CI '
                      f"{100 * lo:.1f}–{100 * hi:.1f}% · {blast.count} of {blast.total} "
                      "counted cells</div></div>")
    elif blast is not None:
        blast_html = ('<div><div>Blasts (final)</div><div class="big" id="blast-percent" '
                      'data-value="">–</div><div class="ci">no counted cells yet</div></div>')
    else:
        blast_html = ('<div><div>Blasts</div><div class="big" id="blast-percent" data-value="">'
                      "n/a</div><div class=\"ci\">the model has no blast class</div></div>")
    progress = d.progress
    done = d.final_total >= d.target
    target_html = (f'<div><div>Target count</div><div class="big"><span id="final-total" '
                   f'data-value="{d.final_total}">{d.final_total}</span> / <span id="target" '
                   f'data-value="{d.target}">{d.target}</span></div><div class="ci">'
                   f'<span class="progress"><span style="width:{100 * progress:.1f}%"></span>'
                   f"</span> {100 * progress:.0f}%"
                   f"{' reached' if done else ''}</div></div>")
    q = report.quality
    quality = ", ".join(f'{label} <span data-quality="{key}" data-value="{n}">{n}</span>'
                        for key, label, n in q.items())
    sha = report.model_sha256
    model = (f"{_e(report.model_name or 'unknown model')} version "
             f"{_e(report.model_version or '?')} · SHA-256 "
             f'<span class="hash" id="model-sha256" title="{_e(sha)}">'
             f"{_e(sha[:12] or 'none')}</span>")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>Differential count — {_e(Path(folder).name or folder)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Bone-marrow differential count</h1>",
        _sign_off(report, "status-banner"),
        '<dl class="meta">',
        f'<dt>Case folder</dt><dd id="case-folder">{_e(folder)}</dd>',
        f'<dt>Report date</dt><dd id="report-date" data-value="{_e(report.created)}">'
        f"{_e(_date(report.created))}</dd>",
        f"<dt>Model</dt><dd>{model}</dd>",
        f'<dt>Images</dt><dd><span id="images" data-value="{report.images}">{report.images}'
        f'</span> ({report.classified} classified, <span id="errors" '
        f'data-value="{report.errors}">{report.errors}</span> errors)</dd>',
        "</dl>",
        f'<div class="headline keep">{blast_html}{target_html}</div>',
        "<h2>Differential (final = reviewed where present, else AI)</h2>",
        _chart(report),
        _table(report),
        _not_counted_line(report),
        "<h2>Image quality</h2>",
        f'<p id="quality">Of {q.images} images measured: {quality}.</p>',
        "<h2>Review</h2>",
        _review_section(report),
        "<h2>Sign-off and audit</h2>",
        _sign_off(report, "sign-off"),
        _audit(report),
        '<p class="small">AI classes are a decision aid; the final count is the responsibility '
        "of the person who signs off the case.</p>",
        "</body></html>\n",
    ])

