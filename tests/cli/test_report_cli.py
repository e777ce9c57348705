"""`marrow report` and `marrow trainset` end to end: real images, the bundled model, reviews
made through the store API."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.review import EXCLUDED, case_id_for
from marrow_desktop.core.store import ResultStore
from marrow_desktop.core.taxonomy import SHIPPED_CLASSES
from tests.cli.helpers import by_name, marrow, read_report, read_report_html

HEAVY = ("torch", "timm", "pytorch_grad_cam", "PySide6", "pyqtgraph", "onnxruntime")


@pytest.fixture()
def case(tmp_path: Path, sample_paths: list[Path]) -> Path:
    """The 21 samples and one file that is not an image, in a sub-folder too."""
    folder = tmp_path / "case"
    (folder / "more").mkdir(parents=True)
    for p in sample_paths[:18]:
        shutil.copy(p, folder / p.name)
    for p in sample_paths[18:]:
        shutil.copy(p, folder / "more" / p.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg" * 10)
    return folder


def _review(store_path: Path, folder: Path, labels: dict[str, str], who: str = "alice") -> None:
    case_id = case_id_for([str(folder)])
    entries = []
    for name, label in labels.items():
        path = next(folder.rglob(name))
        entries.append((sha256_file(path), str(path), label))
    with ResultStore(store_path) as store:
        store.set_reviews(case_id, entries, who)


def _report(case: Path, out: Path, store: Path, model: Path, *extra: object) -> int:
    return marrow("report", case, "-o", out, "--model", model, "--store", store,
                  "--no-progress", "--threads", "1", *extra)


def test_report_numbers_match_the_csv(case: Path, tmp_path: Path, bundled_model: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    store, out = tmp_path / "store.sqlite", tmp_path / "rep"
    _review(store, case, {"MON_00851.jpg": "BLA", "EOS_00851.jpg": EXCLUDED,
                          "LYT_00851.jpg": "ART", "PMO_00594.jpg": "PMO"})
    assert _report(case, out, store, bundled_model, "--target", "300") == 0
    text = capsys.readouterr().out
    rows = read_report(out / "cells.csv")
    named = by_name(rows)
    assert len(rows) == 22 and named["broken.jpg"]["status"] == "error"
    assert named["broken.jpg"]["final_class"] == ""
    assert named["PMO_00594.jpg"]["path"] == str(case / "more" / "PMO_00594.jpg")
    mon = named["MON_00851.jpg"]
    assert (mon["reviewed_class"], mon["final_class"], mon["reviewer"]) == ("BLA", "BLA", "alice")
    assert named["EOS_00851.jpg"]["final_class"] == EXCLUDED
    assert all(len(r["model_sha256"]) == 64 for r in rows if r["status"] == "ok")

    page = read_report_html(out / "report.html")
    final = Counter(r["final_class"] for r in rows if r["status"] == "ok")
    for code in (*SHIPPED_CLASSES, "ART"):
        assert int(page.cells[(code, "final-count")]["data-value"]) == final[code], code
        ai = sum(1 for r in rows if r["predicted_class"] == code)
        assert int(page.cells[(code, "ai-count")]["data-value"]) == ai, code
    counted = sum(n for c, n in final.items() if c not in ("NIF", "ART", "KSC", EXCLUDED))
    total = int(page.cells[("", "final-total")]["data-value"])
    assert total == counted == 21 - final["NIF"] - 2  # minus excluded and ART
    assert int(page.cells[("", "reviewed-total")]["data-value"]) == 2  # BLA, PMO
    assert int(page.ids["excluded-count"]["data-value"]) == 1
    assert page.cells[("ART", "final-percent")]["text"] == "not counted"
    assert int(page.ids["errors"]["data-value"]) == 1
    assert int(page.ids["target"]["data-value"]) == 300
    blast = float(page.ids["blast-percent"]["data-value"])
    assert blast == pytest.approx(final["BLA"] / counted, abs=1e-6)
    flagged = sum(r["needs_review"] == "1" for r in rows)
    assert int(page.ids["needs-review"]["data-value"]) == flagged
    assert page.ids["sign-off"]["data-signed"] == "0"
    assert page.ids["audit"]["data-status"] == "intact"
    assert page.ids["case-folder"]["text"] == case_id_for([str(case)])
    table_images = load_model_spec(bundled_model).info["validation_selective"]["images"]
    assert page.ids["selective"]["text"].startswith(f"On the {table_images} validation images")
    # the printed summary
    assert "22 images, 21 classified, 1 errors" in text
    assert f"blasts: {final['BLA']} of {counted} = {100 * final['BLA'] / counted:.1f}%" in text
    assert "NOT SIGNED OFF - preliminary" in text and "Audit trail intact: 4 entries" in text
    assert str(out / "report.html") in text and str(out / "cells.csv") in text


def test_second_run_uses_the_store_and_shows_sign_off(case: Path, tmp_path: Path,
                                                       bundled_model: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    store, out = tmp_path / "store.sqlite", case / "report"  # output inside the case folder
    assert _report(case, out, store, bundled_model) == 0
    first = read_report(out / "cells.csv")
    with ResultStore(store) as s:
        model_sha = first[0]["model_sha256"]
        assert s.count_predictions(model_sha) == 21
        s.sign_off(case_id_for([str(case)]), "dr. <who>")
    capsys.readouterr()
    assert _report(case, out, store, bundled_model) == 0
    again = read_report(out / "cells.csv")
    assert [r["final_class"] for r in again] == [r["final_class"] for r in first]
    assert "signed off by dr. <who> on" in capsys.readouterr().out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Signed off by dr. &lt;who&gt; on" in html
    assert len(again) == 22  # report.html / cells.csv inside the case are not images anyway


def test_tampered_trail_is_reported_broken(case: Path, tmp_path: Path, bundled_model: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    store, out = tmp_path / "store.sqlite", tmp_path / "rep"
    _review(store, case, {"MON_00851.jpg": "BLA", "EOS_00851.jpg": "EOS"})
    with sqlite3.connect(store) as raw:  # someone edits a label in the store file
        raw.execute("UPDATE case_reviews SET label = 'MON' WHERE label = 'BLA'")
        raw.execute("DROP TRIGGER audit_no_update")
        raw.execute("UPDATE audit SET new = 'MON' WHERE seq = 1")
    assert _report(case, out, store, bundled_model) == 0
    assert "Audit trail BROKEN: entry 1: its contents were changed" in capsys.readouterr().out
    audit = read_report_html(out / "report.html").ids["audit"]
    assert audit["data-status"] == "broken" and "BROKEN" in audit["text"]


def test_report_errors(tmp_path: Path, bundled_model: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert marrow("report", tmp_path / "nothing", "-o", tmp_path / "o",
                  "--model", bundled_model) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert marrow("report", tmp_path / "empty", "-o", tmp_path / "o",
                  "--model", bundled_model) == 2
    assert "no images found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        marrow("report", tmp_path, "-o", tmp_path / "o", "--min-confidence", "70")


def test_trainset_exports_reviewed_cells_only(case: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    store, out = tmp_path / "store.sqlite", tmp_path / "train"
    _review(store, case, {"MON_00851.jpg": "BLA", "EOS_00851.jpg": EXCLUDED,
                          "PMO_00594.jpg": "PMO"})
    # no model needed: reviewed cells are found by content hash
    assert marrow("trainset", case, "-o", out, "--store", store, "--model",
                  tmp_path / "no-model.json") == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert files == ["BLA/MON_00851.jpg", "PMO/PMO_00594.jpg"]
    manifest = read_report(out / "manifest.csv")
    assert {r["label_source"] for r in manifest} == {"reviewed"}
    text = capsys.readouterr()
    assert "2 cells exported" in text.out and "not signed off" in text.err
    # an unrelated, non-empty folder is refused
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert marrow("trainset", case, "-o", busy, "--store", store) == 2
    assert "not empty and holds no manifest.csv" in capsys.readouterr().err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_trainset_include_unreviewed(case: Path, tmp_path: Path, bundled_model: Path) -> None:
    store, out = tmp_path / "store.sqlite", tmp_path / "train"
    _review(store, case, {"MON_00851.jpg": "BLA", "EOS_00851.jpg": EXCLUDED})
    assert marrow("trainset", case, "-o", out, "--store", store, "--include-unreviewed",
                  "--model", bundled_model, "--no-progress", "--threads", "1") == 0
    manifest = read_report(out / "manifest.csv")
    assert len(manifest) == 20  # 21 images, one excluded, the broken one has no class
    assert Counter(r["label_source"] for r in manifest) == {"model": 19, "reviewed": 1}


def test_help_stays_light() -> None:
    for argv in (["report", "--help"], ["trainset", "--help"]):
        code = textwrap.dedent(f"""
            import json, sys
            from marrow_desktop.cli import main
            try:
                main({argv!r})
            except SystemExit as exc:
                assert exc.code == 0
            print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
        """)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == "[]", argv
