"""report.pdf: the case report drawn by Qt on one A4 page, with the page's numbers."""

from __future__ import annotations

import re
from pathlib import Path

from marrow_desktop.core.signing import Keyring
from marrow_desktop.core.store import ResultStore
from marrow_desktop.gui.report_pdf import report_document, write_report_pdf
from tests.core.test_case_report import CASE, _report


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_signed_case_report_is_one_a4_page(qapp, tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys")
    ring.create("alice", "passphrase1")
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.set_reviews(CASE, [("sha-bla0.jpg", f"{CASE}/bla0.jpg", "MON")], "alice")
        store.sign_off(CASE, "alice", "complete", signer=ring.signer("alice", "passphrase1"))
        report = _report(case=store.case(CASE), audit=store.verify_case(CASE, ring.known()))
    path = write_report_pdf(report, tmp_path / "report.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and _pages(data) == 1
    assert b"/MediaBox [0 0 595" in data  # A4 in points
    text = report_document(report).toPlainText()
    assert "Bone-marrow differential count" in text and "Signed off by alice" in text
    assert report.audit is not None and report.audit.sign_off_signature is not None
    assert report.audit.sign_off_signature.key_fingerprint in text
    blast = report.blast
    assert blast is not None and f"{100 * blast.fraction:.1f}%" in text
    assert not list(tmp_path.glob(".report.pdf.*"))  # no temporary file left
