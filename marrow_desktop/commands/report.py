"""`marrow report FOLDER -o DIR`: the case report of a folder (summary page + per-cell CSV).

The folder is the case. Images already in the results store are not recomputed, missing ones
are classified now (unreadable ones become error rows), the case's reviews and sign-off come
from the store and its audit trail is verified. Writes DIR/report.html (one printable page:
differential with 95% intervals, blast %, quality, review queue, sign-off, audit) and
DIR/cells.csv (one row per image, `marrow classify`'s columns with the reviews filled in). With
--fields the images are smear-field photographs: every cell found in them is a cell of the case
(cells.csv gives each one's field and box).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop.commands._batch_args import DEFAULT_BLUR_THRESHOLD, add_field_arguments
from marrow_desktop.commands._case_common import add_case_arguments
from marrow_desktop.core.review import TARGET_COUNTS, ReviewThresholds

if TYPE_CHECKING:
    from marrow_desktop.core.case_report import CaseReport

_DEFAULTS = ReviewThresholds()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="case report of a folder: differential count page (HTML) + per-cell CSV",
        description="Report one case (a folder of cell images): classify what the results store "
        "does not hold yet, add the case's reviews and sign-off from the store, verify its "
        "audit trail, and write DIR/report.html (a printable one-page summary) and "
        "DIR/cells.csv (one row per image).",
    )
    p.add_argument("folder", metavar="FOLDER", help="the case folder")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR",
                   help="folder for report.html and cells.csv (created; files are replaced)")
    add_case_arguments(p)
    add_field_arguments(p, crops=False)
    p.add_argument("--target", type=int, choices=TARGET_COUNTS, default=TARGET_COUNTS[0],
                   help=f"cells the differential should reach (default {TARGET_COUNTS[0]})")
    p.add_argument("--min-confidence", type=_fraction, default=_DEFAULTS.min_confidence,
                   metavar="P", help="cells whose top probability is below P need review "
                   f"(default {_DEFAULTS.min_confidence:g})")
    p.add_argument("--min-margin", type=_fraction, default=_DEFAULTS.min_margin, metavar="P",
                   help="cells whose two most likely classes are closer than P need review "
                   f"(default {_DEFAULTS.min_margin:g})")
    p.add_argument("--blast-probability", type=_fraction, default=_DEFAULTS.blast_probability,
                   metavar="P", help="cells whose blast probability reaches P need review, as "
                   f"does every predicted blast (default {_DEFAULTS.blast_probability:g})")
    p.add_argument("--verification-share", type=_fraction,
                   default=_DEFAULTS.verification_share, metavar="P",
                   help="random share of the other cells queued for a person to verify "
                   f"(default {_DEFAULTS.verification_share:g})")
    p.add_argument("--blur-threshold", type=float, default=DEFAULT_BLUR_THRESHOLD, metavar="X",
                   help="Laplacian variance below which an image is blurry (default "
                   f"{DEFAULT_BLUR_THRESHOLD:g})")
    p.set_defaults(run=run)


def _fraction(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value:g}")
    return value


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.commands._batch_args import check_field_arguments
    from marrow_desktop.commands._batch_common import load_model, open_store
    from marrow_desktop.commands._case_common import case_folder, case_images, classify_case
    from marrow_desktop.core.case_files import open_case
    from marrow_desktop.core.case_report import build_case_report
    from marrow_desktop.core.errors import MarrowError
    from marrow_desktop.core.report_html import write_case_report

    check_field_arguments(args)
    folder = case_folder(args.folder)
    images = case_images(folder, args.recursive, leave_out=args.output)
    classifier = load_model(args)
    thresholds = ReviewThresholds(args.min_confidence, args.min_margin, args.blast_probability,
                                  args.verification_share)
    with open_store(args) as store:
        results = classify_case(args, images, classifier, store, args.blur_threshold)
        handle = open_case([str(folder)], store, [str(p) for p in images])
        try:
            reader = handle.reader()
            reviews = reader.reviews(handle.case_id) if reader is not None else {}
            report = build_case_report(
                results, reviews, model=classifier.spec, thresholds=thresholds,
                blur_threshold=args.blur_threshold, target=args.target, case=handle.case(),
                audit=reader.verify_case(handle.case_id) if reader is not None else None,
                case_id=handle.case_id)
        finally:
            handle.close()
    try:
        csv_path, html_path = write_case_report(report, args.output)
    except OSError as exc:
        raise MarrowError(f"{args.output}: cannot write the report ({exc})") from exc
    present = {r.cell for r in results}
    absent = sum(1 for cid in reviews if cid not in present)
    print("\n".join([*summary_lines(report, absent), f"CSV:  {csv_path}",
                     f"HTML: {html_path}"]))
    return 0


def summary_lines(report: CaseReport, absent_reviews: int = 0) -> list[str]:
    """The few lines `marrow report` prints about a case report."""
    d = report.differential
    folder = report.case.folder if report.case is not None and report.case.folder else ""
    found = [c.result for c in report.cells if c.result.region]
    what = (f"{len({r.path for r in found}):,} fields with {len(found):,} cells found"
            if found else f"{report.images:,} images")
    lines = [f"case {folder or report.case_id}: {what}, "
             f"{report.classified:,} classified, {report.errors:,} errors",
             f"counted {d.final_total:,} of target {d.target} ({d.progress:.0%}); "
             f"{d.reviewed_cells:,} reviewed, {d.excluded:,} excluded, "
             f"{sum(d.not_counted.values()):,} not counted"]
    blast = report.blast
    if blast is not None and blast.total:
        lo, hi = blast.interval
        lines.append(f"blasts: {blast.count} of {blast.total} = {100 * blast.fraction:.1f}% "
                     f"(95% CI {100 * lo:.1f}-{100 * hi:.1f}%)")
    elif blast is not None:
        lines.append("blasts: no counted cells yet")
    t = report.thresholds
    lines.append(f"needs review: {len(report.needs_review):,} (predicted blast or blast >= "
                 f"{t.blast_probability:.0%}, confidence < {t.min_confidence:.0%}, margin < "
                 f"{t.min_margin:.0%}, unlike the training images, a quality problem, or the "
                 f"{t.verification_share:.0%} verification sample), "
                 f"{len(report.unreviewed):,} not reviewed yet")
    if report.verdict is not None:
        prefix = "WARNING: " if report.verdict.flagged else "lab-shift check: "
        lines.append(prefix + report.verdict.text())
    if absent_reviews:
        lines.append(f"note: {absent_reviews} reviewed cell(s) of this case are no longer in "
                     "the folder")
    case = report.case
    if case is not None and case.signed:
        lines.append(f"signed off by {case.signed_by} on "
                     f"{case.signed_at[:16].replace('T', ' ')} UTC")
    else:
        lines.append("NOT SIGNED OFF - preliminary")
    if report.audit is not None:
        lines.append(report.audit.summary())
        signature = report.audit.sign_off_signature
        if signature is not None and case is not None and case.signed:
            lines.append(f"sign-off signed with key {signature.key_fingerprint}")
    return lines
