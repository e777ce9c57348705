"""Case reports: differential numbers on the page equal the CSV, intervals, exclusions, review
queue, sign-off, audit status, escaping and atomic writing."""

from __future__ import annotations

import csv
import math
import os
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.case_report import CaseReport, build_case_report
from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.report_html import summary_html, write_case_report
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import EXCLUDED, Review, ReviewThresholds
from marrow_desktop.core.store import ResultStore
from marrow_desktop.core.taxonomy import SHIPPED_CLASSES
from tests.cli.helpers import read_report_html

SHARP = QualityMetrics(brightness=150.0, too_dark=False, too_bright=False, stain_ratio=0.4,
                       stain_present=True, color_type="rgb", laplacian_var=17.5, blurry=False,
                       width=250, height=250)
SOFT = QualityMetrics(brightness=150.0, too_dark=False, too_bright=False, stain_ratio=0.4,
                      stain_present=True, color_type="rgb", laplacian_var=9.0, blurry=False,
                      width=250, height=250)
DARK = QualityMetrics(brightness=40.0, too_dark=True, too_bright=False, stain_ratio=0.01,
                      stain_present=False, color_type="grayscale", laplacian_var=3.0,
                      blurry=True, width=250, height=250)
CASE = "/cases/smear-1"


def _result(name: str, code: str, confidence: float = 0.9, second: str = "",
            second_p: float = 0.0, quality: QualityMetrics = SHARP) -> ImageResult:
    probs = np.full(len(SHIPPED_CLASSES), 0.0, np.float32)
    probs[SHIPPED_CLASSES.index(code)] = confidence
    if second:
        probs[SHIPPED_CLASSES.index(second)] = second_p
    rest = [i for i, p in enumerate(probs) if p == 0]
    probs[rest] = (1 - probs.sum()) / len(rest)
    return ImageResult(path=f"{CASE}/{name}", content_sha256=f"sha-{name}", model_sha256="m" * 64,
                       classes=SHIPPED_CLASSES, probabilities=probs, quality=quality)


def _case() -> tuple[list[ImageResult], dict[str, Review]]:
    """25 images (one unreadable): 20 cells in the final count, 8 of them blasts."""
    results, reviews = [], {}

    def add(name: str, code: str, review: str = "", **kw: object) -> None:
        results.append(_result(name, code, **kw))  # type: ignore[arg-type]
        if review:
            reviews[f"sha-{name}"] = Review(review, "dr. <b>x</b> & co",
                                            "2024-05-01T10:00:00+00:00")

    for i in range(6):
        add(f"bla{i}.jpg", "BLA")
    add("mon0.jpg", "MON", "BLA")
    add("mon1.jpg", "MON", "BLA")
    add("bla_out.jpg", "BLA", EXCLUDED)
    for i in range(6):
        add(f"lyt{i}.jpg", "LYT")
    add("lyt_unsure.jpg", "LYT", confidence=0.55, second="MON", second_p=0.47 - 0.0)
    add("ngs0.jpg", "NGS", "NGS")
    add("ngs1.jpg", "NGS", quality=SOFT)  # blurry at threshold 10, not at 8
    add("ngs2.jpg", "NGS")
    add("nif0.jpg", "NIF")
    add("nif1.jpg", "NIF")
    add("eos0.jpg", "EOS", "ART")
    add("pmo0.jpg", "PMO")
    add("pmo1.jpg", "PMO", quality=DARK)
    results.append(ImageResult.failed(f"{CASE}/broken.jpg", "broken.jpg: not an image"))
    return results, reviews


def _report(**kw: object) -> CaseReport:
    results, reviews = _case()
    args: dict[str, object] = dict(classes=SHIPPED_CLASSES, model_name="rexnet <test>",
                                   model_version="3", model_sha256="ab" * 32, blur_threshold=10.0,
                                   target=200, case_id=CASE, created="2024-05-02T08:30:00+00:00")
    args.update(kw)
    return build_case_report(results, reviews, **args)  # type: ignore[arg-type]


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_differential_counts_exclusions_and_not_counted() -> None:
    d = _report().differential
    assert (d.final_total, d.ai_total, d.reviewed_total) == (20, 22, 3)
    assert (d.reviewed_cells, d.excluded, d.cells) == (5, 1, 24)
    assert d.not_counted == {"NIF": 2, "ART": 1}
    bla = d.row("BLA")
    assert bla is not None and (bla.final.count, bla.ai.count, bla.reviewed.count) == (8, 7, 2)
    art = d.row("ART")  # a reviewer's class outside the model's, listed but not counted
    assert art is not None and not art.counted and art.final.count == 1


def test_wilson_interval_by_hand() -> None:
    # k = 8 of n = 20, z = 1.96: p = 0.4, centre = (p + z²/2n) / (1 + z²/n) = 0.41612,
    # half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n) = 0.19731
    blast = _report().blast
    assert blast is not None and (blast.count, blast.total) == (8, 20)
    lo, hi = blast.interval
    assert abs(lo - 0.21881) < 1e-4 and abs(hi - 0.61342) < 1e-4


def test_page_numbers_equal_the_csv(tmp_path: Path) -> None:
    report = _report()
    csv_path, html_path = write_case_report(report, tmp_path / "out" / "new")
    assert (csv_path.name, html_path.name) == ("cells.csv", "report.html")
    assert sorted(p.name for p in csv_path.parent.iterdir()) == ["cells.csv", "report.html"]
    rows = _csv(csv_path)
    page = read_report_html(html_path)
    assert len(rows) == 25 == int(page.ids["images"]["data-value"])
    assert int(page.ids["errors"]["data-value"]) == 1
    final = Counter(r["final_class"] for r in rows if r["status"] == "ok")
    ai = Counter(r["predicted_class"] for r in rows if r["status"] == "ok")
    reviewed = Counter(r["reviewed_class"] for r in rows if r["reviewed_class"])
    for code in (*SHIPPED_CLASSES, "ART"):
        assert int(page.cells[(code, "final-count")]["data-value"]) == final[code], code
        assert int(page.cells[(code, "ai-count")]["data-value"]) == ai[code], code
        assert int(page.cells[(code, "reviewed-count")]["data-value"]) == reviewed[code], code
    counted = sum(n for c, n in final.items() if c not in ("NIF", "ART", EXCLUDED))
    assert int(page.cells[("", "final-total")]["data-value"]) == counted == 20
    assert int(page.ids["excluded-count"]["data-value"]) == final[EXCLUDED] == 1
    assert int(page.ids["not-counted"]["data-value"]) == final["NIF"] + final["ART"] == 3
    blast = page.cells[("BLA", "final-percent")]
    assert float(blast["data-value"]) == pytest.approx(8 / 20)
    assert abs(float(blast["data-ci-low"]) - 0.21881) < 1e-4
    assert abs(float(blast["data-ci-high"]) - 0.61342) < 1e-4
    assert "40.0% (21.9–61.3)" in blast["text"]
    assert float(page.ids["blast-percent"]["data-value"]) == pytest.approx(0.4)
    assert page.cells[("NIF", "final-percent")]["text"] == "not counted"
    assert int(page.ids["target"]["data-value"]) == 200
    # review queue: CSV flags = page count; unreviewed = flagged without a reviewer's label
    # (3 uncertain or poor-quality cells + the 7 predicted blasts, one of them excluded)
    flagged = [r for r in rows if r["needs_review"] == "1"]
    assert int(page.ids["needs-review"]["data-value"]) == len(flagged) == 10
    assert int(page.ids["unreviewed"]["data-value"]) == sum(1 for r in flagged
                                                             if not r["reviewed_class"]) == 9
    assert int(page.ids["reviewed-cells"]["data-value"]) == 5
    assert "<svg" in html_path.read_text(encoding="utf-8")


def test_csv_review_columns() -> None:
    report = _report()
    rows = {Path(c.result.path).name: c for c in report.cells}
    unsure = rows["lyt_unsure.jpg"]
    assert unsure.reasons == ("confidence 55%", "margin 8%")
    assert rows["ngs1.jpg"].reasons == ("blurry",)  # 9.0 < the report's threshold of 10
    assert rows["pmo1.jpg"].reasons == ("blurry", "too dark", "no stain", "grayscale")
    assert rows["broken.jpg"].reasons == ()
    assert rows["bla_out.jpg"].final == EXCLUDED and rows["mon0.jpg"].final == "BLA"
    q = report.quality
    assert (q.images, q.blurry, q.too_dark, q.no_stain, q.grayscale, q.unreadable) == \
        (24, 2, 1, 1, 1, 1)


def test_csv_cells(tmp_path: Path) -> None:
    csv_path, _ = write_case_report(_report(), tmp_path)
    rows = {Path(r["path"]).name: r for r in _csv(csv_path)}
    assert rows["ngs1.jpg"]["blurry"] == "1"  # re-decided at the report's threshold (10)
    assert rows["ngs1.jpg"]["review_reasons"] == "blurry"
    mon = rows["mon0.jpg"]
    assert (mon["predicted_class"], mon["reviewed_class"], mon["final_class"]) == \
        ("MON", "BLA", "BLA")
    assert mon["reviewer"] == "dr. <b>x</b> & co" and mon["reviewed_at"].startswith("2024-05-01")
    assert rows["bla_out.jpg"]["final_class"] == EXCLUDED
    assert rows["lyt_unsure.jpg"]["review_reasons"] == "confidence 55%; margin 8%"
    assert rows["pmo1.jpg"]["review_reasons"] == "blurry; too dark; no stain; grayscale"
    assert rows["broken.jpg"]["status"] == "error" and rows["broken.jpg"]["final_class"] == ""
    assert rows["bla0.jpg"]["needs_review"] == "1" and rows["bla0.jpg"]["review_reasons"] == "blast"
    assert rows["lyt0.jpg"]["needs_review"] == "0" and rows["lyt0.jpg"]["review_reasons"] == ""
    assert list(rows["bla0.jpg"])[-6:] == ["model_sha256", "case_patient_id", "case_accession",
                                         "case_specimen", "case_clinician", "case_comment"]


def test_thresholds_change_the_queue() -> None:
    strict = _report(thresholds=ReviewThresholds(min_confidence=0.95, min_margin=0.2))
    assert len(strict.needs_review) == 24  # every classified cell has confidence 0.9 or less
    assert "95%" in summary_html(strict)


def test_user_text_is_escaped(tmp_path: Path) -> None:
    results, reviews = _case()
    evil = f"{CASE}/<script src=x>cell&.jpg"
    results.append(ImageResult(path=evil, content_sha256="sha-evil", classes=SHIPPED_CLASSES,
                               probabilities=np.full(7, 1 / 7, np.float32), quality=SHARP))
    store = ResultStore()
    case_id = "/cases/<img src=x onerror=alert(1)>"
    store.set_reviews(case_id, [("sha-bla0.jpg", "p", "BLA")], "<i>eve</i>")
    store.sign_off(case_id, "<i>eve</i>", note="ok & <done>")
    report = build_case_report(results, reviews, classes=SHIPPED_CLASSES, case_id=case_id,
                               case=store.case(case_id), audit=store.verify_case(case_id))
    text = summary_html(report)
    assert "<script" not in text and "<img src" not in text and "<i>eve" not in text
    assert "&lt;script src=x&gt;cell&amp;.jpg" in text  # in the list still to review
    assert "Signed off by &lt;i&gt;eve&lt;/i&gt;" in text and "ok &amp; &lt;done&gt;" in text
    _, html_path = write_case_report(report, tmp_path)
    page = read_report_html(html_path)
    assert page.ids["case-folder"]["text"] == case_id
    assert page.ids["sign-off"]["data-signed"] == "1"


def test_names_that_are_not_utf8_are_written_escaped(tmp_path: Path) -> None:
    """A file and a folder name read from a Latin-1 USB stick (surrogate escapes in Python)."""
    results, reviews = _case()
    folder = os.fsdecode(b"/cases/smear_\xe9")
    results.append(ImageResult(path=os.fsdecode(b"/cases/smear_\xe9/cell_\xff.jpg"),
                               content_sha256="sha-latin1", classes=SHIPPED_CLASSES,
                               probabilities=np.full(7, 1 / 7, np.float32), quality=SHARP))
    report = build_case_report(results, reviews, classes=SHIPPED_CLASSES, case_id=folder)
    _, html_path = write_case_report(report, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "cell_\\xff.jpg" in page  # in the list still to review
    assert read_report_html(html_path).ids["case-folder"]["text"] == "/cases/smear_\\xe9"


def test_sign_off_and_audit_states(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    with ResultStore(db) as store:
        store.set_reviews(CASE, [("sha-bla0.jpg", f"{CASE}/bla0.jpg", "MON")], "alice")
        report = _report(case=store.case(CASE), audit=store.verify_case(CASE))
        page = summary_html(report)
        assert "NOT SIGNED OFF — preliminary" in page and 'data-status="intact"' in page
        assert report.audit is not None and report.audit.head in page
        store.sign_off(CASE, "alice")
        signed = summary_html(_report(case=store.case(CASE), audit=store.verify_case(CASE)))
        assert "Signed off by alice on " in signed and "NOT SIGNED OFF" not in signed
    # someone edits the trail in the store file: the report says so
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER audit_no_update")
        raw.execute("UPDATE audit SET new = 'BLA' WHERE seq = 1")
    with ResultStore(db) as store:
        check = store.verify_case(CASE)
        _, html_path = write_case_report(_report(case=store.case(CASE), audit=check), tmp_path)
    audit = read_report_html(html_path).ids["audit"]
    assert audit["data-status"] == "broken" and "Audit trail BROKEN" in audit["text"]
    assert "entry 1" in audit["text"]


def test_no_audit_and_no_case() -> None:
    page = summary_html(_report())
    assert "NOT SIGNED OFF — preliminary" in page and 'data-status="unknown"' in page


def test_selective_sentence_from_the_model_spec() -> None:
    from marrow_desktop.core.model_spec import ModelSpec
    from marrow_desktop.core.selective import selective_table

    probs = np.eye(7, dtype=np.float32)[[0, 1, 2, 3]] * 0.9 + 0.1 / 7
    table = selective_table(probs, np.array([True, True, False, True]))
    spec = ModelSpec(name="m", architecture="rexnet_150", classes=SHIPPED_CLASSES,
                     input_size=224, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2),
                     version="7", sha256={"onnx": "cd" * 32},
                     info={"validation_selective": table})
    results, reviews = _case()
    report = build_case_report(results, reviews, model=spec)
    assert report.model_version == "7" and report.model_sha256 == spec.identity
    assert report.selective.startswith("On the 4 validation images")
    assert "75.0% correct" in report.selective and 'id="selective"' in summary_html(report)
    broken = build_case_report(results, reviews, model=spec.with_updates(
        info={"validation_selective": {"images": "x"}}))
    assert broken.selective == "" and 'id="selective"' not in summary_html(broken)


def test_empty_case_page() -> None:
    report = build_case_report([], {}, classes=SHIPPED_CLASSES, case_id=CASE)
    page = summary_html(report)
    assert report.differential.final_total == 0 and "No counted cells yet" in page
    assert report.blast is not None and math.isnan(report.blast.fraction)


def test_rewrite_replaces_files_atomically(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_case_report(_report(), tmp_path)
        write_case_report(_report(target=500), tmp_path)
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.csv", "report.html"]
    page = read_report_html(tmp_path / "report.html")
    assert page.ids["target"]["data-value"] == "500"
    if os.name == "posix":  # readable by others like any file the user writes, not 0600
        assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644


def test_blast_rule_and_verification_sample() -> None:
    """Every predicted blast is queued, and any cell whose blast probability reaches the
    threshold; a stable random share of the other confident cells is drawn for checking."""
    from marrow_desktop.core.review import VERIFICATION, cell_reasons

    t = ReviewThresholds(blast_probability=0.3, verification_share=0.0)
    hidden = _result("mon_hidden.jpg", "MON", confidence=0.62, second="BLA", second_p=0.33)
    assert cell_reasons(hidden, ReviewThresholds(0.5, 0.2, 0.3, 0.0)) == ["blast 33%"]
    assert cell_reasons(_result("b.jpg", "BLA", confidence=0.99), t) == ["blast"]
    assert cell_reasons(_result("l.jpg", "LYT", confidence=0.99), t) == []
    confident = [_result(f"lyt{i}.jpg", "LYT", confidence=0.99) for i in range(2000)]
    share = ReviewThresholds(verification_share=0.05)
    drawn = [r for r in confident if cell_reasons(r, share, case_id=CASE) == [VERIFICATION]]
    assert 70 <= len(drawn) <= 130  # ~5% of 2000
    again = [r for r in confident if cell_reasons(r, share, case_id=CASE) == [VERIFICATION]]
    assert [r.path for r in drawn] == [r.path for r in again]  # the same cells every time
    other_case = [r for r in confident if cell_reasons(r, share, case_id="/other")]
    assert {r.path for r in other_case} != {r.path for r in drawn}
    assert not any(cell_reasons(r, share) for r in confident)  # no case: no draw
