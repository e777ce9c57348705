"""A case report's one-page printable summary, from a Jinja2 template with autoescaping
(core/templates/report.html.j2): user text (folder names, reviewer names, case details) is
escaped by the template engine, never by hand.

The page is self-contained (inline CSS with print rules for one A4 page, an inline SVG chart, no
script) and machine-checkable: every number of the differential table sits in a cell with
`data-class` and `data-col` attributes (and the exact value in `data-value`), and the headline
figures have ids, so tests and other tools can read them back.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from marrow_desktop.core.case_report import CaseReport
from marrow_desktop.core.cells import box_of
from marrow_desktop.core.defaults import MIN_BLAST_COUNT
from marrow_desktop.core.differential import Share
from marrow_desktop.core.report import atomic_write
from marrow_desktop.core.report_csv import CELLS_CSV, write_cells_csv
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import BLAST, NOT_COUNTED
from marrow_desktop.core.text import printable

SUMMARY_HTML = "report.html"
#: File names of the cells still to review listed on the page (the CSV has them all).
MAX_LISTED = 20

_ENV = Environment(loader=PackageLoader("marrow_desktop.core", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=False,
                   keep_trailing_newline=True)



def _cell_name(result: ImageResult) -> str:
    """A cell as the report names it: its file, and where in a field photograph."""
    box = box_of(result.region)
    name = Path(result.path).name
    return f"{name} @{box[0] + box[2] // 2},{box[1] + box[3] // 2}" if box else name


def _fields_text(report: CaseReport) -> str:
    """' · 4 cells found in 3 field photographs' ('' when there are none)."""
    found = [c.result for c in report.cells if c.result.region]
    if not found:
        return ""
    fields = len({r.path for r in found})
    return (f" · {len(found)} cell{'s' if len(found) != 1 else ''} found in {fields} field "
            f"photograph{'s' if fields != 1 else ''}")

def _num(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"


def _pct(share: Share) -> str:
    return f"{100 * share.fraction:.1f}%" if share.total else "–"


def _date(iso: str) -> str:
    """'2024-05-01 14:03 UTC' from ISO text (the text itself if it does not parse)."""
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return iso


def _share(col: str, share: Share, ci: bool = False) -> dict[str, Any]:
    lo, hi = share.interval
    return {"col": col, "count": share.count, "value": _num(share.fraction), "ci": ci,
            "low": _num(lo), "high": _num(hi), "text": share.text() if ci else _pct(share)}


def _chart(report: CaseReport) -> dict[str, Any] | None:
    """Geometry of the horizontal bars (final differential, counted classes) with their 95%
    intervals; each value is written in its own column right of the plot, never at a
    whisker's end."""
    rows = [r for r in report.differential.rows if r.counted]
    if not rows or not report.differential.final_total:
        return None
    top = max(r.final.interval[1] for r in rows)
    scale_max = min(1.0, max(0.1, math.ceil(top * 10 - 1e-9) / 10))
    label_w, plot_w, bar_h, gap, top_pad, value_w = 140, 400, 11, 4, 16, 110

    def x(v: float) -> float:
        return round(label_w + plot_w * min(v, scale_max) / scale_max, 1)

    steps = round(scale_max * 10)
    ticks = [{"x": x(scale_max * i / steps), "label": f"{100 * scale_max * i / steps:.0f}%"}
             for i in range(steps + 1)]
    bars = []
    for i, row in enumerate(rows):
        y = top_pad + i * (bar_h + gap)
        lo, hi = row.final.interval
        bars.append({"code": row.code, "y": y, "mid": y + bar_h / 2,
                     "label": f"{row.code} {report.name_of(row.code)}"[:26],
                     "width": round(x(row.final.fraction) - label_w, 1), "lo": x(lo),
                     "hi": x(hi), "fill": "#c62828" if row.code == BLAST else "#1565c0",
                     "value": row.final.text()})
    return {"width": label_w + plot_w + value_w, "height": top_pad + len(rows) * (bar_h + gap)
            + 4, "label_w": label_w, "bar_h": bar_h, "top": top_pad, "ticks": ticks,
            "bars": bars, "value_x": label_w + plot_w + 8}


def _context(report: CaseReport) -> dict[str, Any]:
    d = report.differential
    case = report.case
    signed = case is not None and case.signed
    blast = report.blast
    blast_view = None
    if blast is not None:
        lo, hi = blast.interval
        blast_view = {"total": blast.total, "count": blast.count, "percent": _pct(blast),
                      "value": _num(blast.fraction), "low": _num(lo), "high": _num(hi),
                      "interval": f"{100 * lo:.1f}–{100 * hi:.1f}%" if blast.total else "",
                      "few": blast.total < MIN_BLAST_COUNT}
    waiting = report.unreviewed
    drawn, reviewed, agreed = report.verification
    ratio = d.me_ratio()
    check = report.audit
    status = "unknown" if check is None else "intact" if check.ok else "broken"
    folder = report.case.folder if case is not None and case.folder else report.case_id
    t = report.thresholds
    return {
        "title": Path(folder).name or folder or "case", "folder": folder or "(no folder)",
        "created": report.created, "created_text": _date(report.created),
        "model_name": report.model_name or "unknown model",
        "model_version": report.model_version or "?", "model_sha256": report.model_sha256,
        "images": report.images, "classified": report.classified, "errors": report.errors,
        "details": report.details.lines(), "signed": signed, "case": case,
        "signed_at": _date(case.signed_at) if signed else "",
        "sign_note": case.sign_note if signed else "",
        "blast": blast_view, "min_blast": MIN_BLAST_COUNT, "d": d,
        "progress_width": f"{100 * d.progress:.1f}",
        "progress_text": f"{100 * d.progress:.0f}%" + (" reached" if d.final_total >= d.target
                                                        else ""),
        "verdict": report.verdict,
        "verdict_text": report.verdict.text() + "." if report.verdict is not None else "",
        "chart": _chart(report),
        "rows": [{"code": r.code, "name": report.name_of(r.code), "counted": r.counted,
                  "shares": [_share("ai", r.ai), _share("reviewed", r.reviewed),
                             _share("final", r.final, ci=True)]} for r in d.rows],
        "not_counted": [(c, report.name_of(c), n) for c, n in sorted(d.not_counted.items())],
        "not_counted_total": sum(d.not_counted.values()),
        "never_counted": ", ".join(sorted(NOT_COUNTED)),
        "ratio": {"value": f"{ratio:.4f}", "text": f"{ratio:.1f} : 1"} if ratio else None,
        "quality": report.quality, "quality_items": report.quality.items(),
        "needs": len(report.needs_review), "waiting": waiting,
        "rule": (f"predicted blast or blast probability ≥ {t.blast_probability:.0%}, "
                 f"confidence below {t.min_confidence:.0%}, margin between the two most "
                 f"likely classes below {t.min_margin:.0%}, unlike the training images, or a "
                 f"quality problem at blur threshold {report.blur_threshold:g}"),
        "waiting_names": [_cell_name(c.result) for c in waiting[:MAX_LISTED]],
        "fields_text": _fields_text(report),
        "waiting_more": (f" … and {len(waiting) - MAX_LISTED} more (see {CELLS_CSV})"
                         if len(waiting) > MAX_LISTED else ""),
        "verification": (drawn, reviewed, agreed),
        "share_text": f"{t.verification_share:.0%}",
        "agreement": f"{agreed / reviewed:.0%}" if reviewed else "",
        "selective": report.selective,
        "audit_status": status, "audit_class": "ok" if status == "intact" else "bad",
        "audit_text": "Audit trail not checked" if check is None else check.summary(),
        "audit_problems": check.problems[:10] if check is not None
        and len(check.problems) > 1 else [],
        "audit_head": report.audit_head,
        "signature": check.sign_off_signature if check is not None and report.case is not None
        and report.case.signed else None,
        "audit_notes": check.notes[1:5] if check is not None else [],
    }


def summary_html(report: CaseReport, for_pdf: bool = False) -> str:
    """The summary page as text (see write_summary_html). for_pdf: the same page in the HTML
    subset Qt's text layout draws (tables instead of flex and grid; the chart as an image
    named chart.svg, see chart_svg), for gui/report_pdf. File and folder names that are not
    valid UTF-8 are written as \\xNN escapes (core.text.printable), as in the CSV."""
    return printable(_ENV.get_template("report.html.j2").render(**_context(report), pdf=for_pdf))


def chart_svg(report: CaseReport) -> str:
    """The page's chart alone as an SVG document ('' when nothing is counted)."""
    chart = _chart(report)
    return _ENV.get_template("chart.svg.j2").render(chart=chart) if chart else ""


def write_summary_html(report: CaseReport, path: str | Path) -> Path:
    """The one-page printable summary (atomically written)."""
    page = summary_html(report)
    return atomic_write(Path(path), lambda handle: handle.write(page))


def write_case_report(report: CaseReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `<out_dir>/cells.csv` and `<out_dir>/report.html`; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_cells_csv(report, out / CELLS_CSV), write_summary_html(report, out / SUMMARY_HTML)
