"""The case's store work that the viewer's workers do: plain functions over the core (no Qt,
except the case report's PDF, which Qt draws: gui/report_pdf).

Each function runs on a worker thread (the session's writer thread for every change, so label
changes reach the store in the order they were made); none is called from a slot.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop.core import audit
from marrow_desktop.core.audit import AuditCheck, AuditEntry
from marrow_desktop.core.case_files import CaseHandle, open_case
from marrow_desktop.core.cells import cell_id
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review, ReviewThresholds
from marrow_desktop.core.signing import Keyring
from marrow_desktop.core.store import CaseInfo, ResultStore

if TYPE_CHECKING:
    from marrow_desktop.core.case_report import CaseReport
    from marrow_desktop.gui.workers import Ticket


@dataclass(frozen=True)
class OpenedCase:
    """A case found for what was opened, its state, and the models whose lab-shift warning
    a reviewer acknowledged for it."""

    handle: CaseHandle
    info: CaseInfo
    acknowledged: frozenset[str] = frozenset()


def open_case_handle(sources: Sequence[str], store: ResultStore | None,
                     paths: Sequence[str]) -> OpenedCase:
    """Find the case of what was opened (its case file, or the user's store)."""
    handle = open_case(list(sources), store, paths)
    reader = handle.reader()
    acknowledged = frozenset(
        e.model_sha256 for e in reader.trail(handle.case_id) if e.action == audit.ACKNOWLEDGE
    ) if reader is not None else frozenset()
    return OpenedCase(handle, handle.case(), acknowledged)


@dataclass
class StoredState:
    """What the stores know about the open cells: results (quality, and predictions of this
    model), and the case's reviews by path."""

    results: list[ImageResult] = field(default_factory=list)
    reviews: dict[str, Review] = field(default_factory=dict)  # cell id -> review
    regions: dict[str, str] = field(default_factory=dict)  # cell id -> 'added'/'removed'
    hashes: dict[str, str] = field(default_factory=dict)  # path -> content hash, where known
    checked: int = 0
    case: CaseInfo | None = None
    started: float = field(default_factory=time.monotonic)  # reviews read after this moment


def lookup_stored(paths: Sequence[str], store: ResultStore | None, model_sha256: str,
                  domain_sha256: str = "", handle: CaseHandle | None = None,
                  ticket: Ticket | None = None, fields: bool = False) -> StoredState:
    """Restore stored results for files whose size and mtime are unchanged (no pixels read),
    and the case's reviews; with `fields`, the cells last found in a field photograph too."""
    state = StoredState()
    known: dict[str, str] = {}
    if store is not None:
        for i, path in enumerate(paths):
            if ticket is not None and i % 256 == 0 and ticket.stale:
                return state
            try:
                st = os.stat(path)
            except OSError:
                continue
            sha = store.known_hash(path, st.st_size, st.st_mtime_ns)
            if sha:
                known[path] = sha
        hits = store.lookup_paths(known, model_sha256, domain_sha256) if model_sha256 else {}
        for path, sha in known.items():
            result = hits.get(path) or store.get(path, sha)
            if result is not None:
                state.results.append(result)
            if fields and model_sha256 and path not in hits:
                for region in store.found_regions(sha, model_sha256):
                    cell = store.get(path, sha, model_sha256, region, domain_sha256)
                    if cell is not None:
                        state.results.append(cell)
    state.checked = len(paths)
    reader = handle.reader() if handle is not None else None
    if handle is not None:
        state.case = handle.case()
    if reader is not None and handle is not None:
        state.reviews = reader.reviews(handle.case_id)
        state.regions = reader.case_regions(handle.case_id)
        _find_moved(state, known, paths, handle.folder, state.case)
    state.hashes = known
    return state


def _find_moved(state: StoredState, known: dict[str, str], paths: Sequence[str], folder: str,
                case: CaseInfo | None) -> None:
    """Reviewed cells whose files are not where the store saw them (the folder moved or was
    opened from another path): their files at the same place relative to the case folder are
    hashed (only those), so the reviews attach at once."""
    if case is None or not case.folder:
        return
    seen = set(known.values())
    listed = set(paths)
    for cid, review in state.reviews.items():
        sha = cid.partition("@")[0]
        if sha in seen or not review.path:
            continue
        rel = os.path.relpath(review.path, case.folder)
        candidate = os.path.join(folder, rel)
        if rel.startswith("..") or candidate not in listed:
            continue
        try:
            if sha256_file(candidate) == sha:
                known[candidate] = sha
        except OSError:
            continue


def save_reviews(handle: CaseHandle, entries: Sequence[tuple[str, str, str, str]], who: str,
                 spec: ModelSpec | None) -> tuple[int, CaseInfo]:
    """(path, known cell id or '', label, note) -> the case's labels and audit trail; all or
    none (a signed-off case raises CaseSignedError). The note records the model's label the
    person confirmed or overrode. The case's model is recorded with its first change."""
    store = handle.writer()
    rows = [(cid or cell_id(sha256_file(path)), path, label, note)
            for path, cid, label, note in entries]
    name, identity = (spec.name, spec.identity) if spec is not None else ("", "")
    if identity and not store.case(handle.case_id).model_sha256:
        store.record(handle.case_id, audit.MODEL, who, "results of this model",
                     model_name=name, model_sha256=identity)
    written = store.set_reviews(handle.case_id, rows, who, name, identity)
    return len(written), store.case(handle.case_id)


def signers() -> frozenset[str]:
    """The reviewers who can sign on this computer (a private key here)."""
    ring = Keyring()
    return frozenset(k.name for k in ring.public_keys() if ring.has_private(k.name))


def sign_case(handle: CaseHandle, who: str, note: str, reopen: bool, spec: ModelSpec | None,
              passphrase: str, new_key: bool = False) -> CaseInfo:
    """Sign off a case (freeze it) or reopen it with a reason, signed with the reviewer's key
    (made first when `new_key`). A wrong passphrase raises SigningError; nothing is written."""
    ring = Keyring()
    if new_key:
        ring.create(who, passphrase)
    signer = ring.signer(who, passphrase)
    store = handle.writer()
    name, identity = (spec.name, spec.identity) if spec is not None else ("", "")
    if reopen:
        return store.reopen(handle.case_id, who, note, name, identity, signer=signer)
    return store.sign_off(handle.case_id, who, note, name, identity, signer=signer)


def record_case(handle: CaseHandle, action: str, who: str, note: str = "",
                spec: ModelSpec | None = None, details: str | None = None, cid: str = "",
                path: str = "") -> CaseInfo:
    """A case-level trail entry: details changed, model switched, a warning acknowledged, a
    cell of a field added or removed by hand (`cid`, `path`)."""
    name, identity = (spec.name, spec.identity) if spec is not None else ("", "")
    return handle.writer().record(handle.case_id, action, who, note, name, identity,
                                  details=details, cid=cid, path=path,
                                  allow_signed=action == audit.ACKNOWLEDGE)


def audit_trail(handle: CaseHandle, cid: str = "") -> tuple[list[AuditEntry], AuditCheck]:
    """A case's trail (or one cell's part of it) and the check of the whole trail."""
    store = handle.reader()
    if store is None:
        case = CaseInfo(handle.case_id)
        return [], audit.verify([], case, {})
    return store.trail(handle.case_id, cid), store.verify_case(handle.case_id)


def case_report(handle: CaseHandle | None, results: Sequence[ImageResult],
                spec: ModelSpec | None, thresholds: ReviewThresholds, blur_threshold: float,
                target: int = 200, check_trail: bool = False) -> CaseReport:
    """core.case_report.build_case_report with the case's reviews (and trail check)."""
    from marrow_desktop.core.case_report import build_case_report

    reviews: dict[str, Review] = {}
    case, check = None, None
    store = handle.reader() if handle is not None else None
    if store is not None and handle is not None:
        reviews, case = store.reviews(handle.case_id), store.case(handle.case_id)
        check = store.verify_case(handle.case_id) if check_trail else None
    classes = spec.classes if spec is not None else next(
        (r.classes for r in results if r.classified), ())
    return build_case_report(results, reviews, classes=classes, model=spec,
                             thresholds=thresholds, blur_threshold=blur_threshold, target=target,
                             case=case, audit=check,
                             case_id=handle.case_id if handle is not None else "")


def export_csv(out_path: str, handle: CaseHandle | None, results: Sequence[ImageResult],
               spec: ModelSpec | None, thresholds: ReviewThresholds,
               blur_threshold: float) -> int:
    """Write the per-cell CSV of the case (reviews, reviewers and final classes filled in)."""
    from marrow_desktop.core.report_csv import write_cells_csv

    write_cells_csv(case_report(handle, results, spec, thresholds, blur_threshold), out_path)
    return len(results)


def export_case_report(out_dir: str, handle: CaseHandle | None,
                       results: Sequence[ImageResult], spec: ModelSpec | None,
                       thresholds: ReviewThresholds, blur_threshold: float, target: int,
                       ) -> tuple[str, str, str]:
    """Write the case's cells.csv, report.html and report.pdf (reviews and trail check from the
    store); returns their paths."""
    from marrow_desktop.core.report_html import write_case_report
    from marrow_desktop.gui.report_pdf import REPORT_PDF, write_report_pdf

    report = case_report(handle, results, spec, thresholds, blur_threshold, target,
                         check_trail=True)
    csv_path, html_path = write_case_report(report, out_dir)
    pdf_path = write_report_pdf(report, Path(out_dir) / REPORT_PDF)
    return str(csv_path), str(html_path), str(pdf_path)


def export_training_set(out_dir: str, handle: CaseHandle | None,
                        cells: Sequence[tuple[str, str, str]], include_unreviewed: bool) -> str:
    """Copy the case's cells (path, cell id, predicted) into class folders by final label."""
    from marrow_desktop.core.training_export import export_training_set as export

    store = handle.reader() if handle is not None else None
    reviews = store.reviews(handle.case_id) if store is not None and handle is not None else {}
    summary = export([(path, cid, predicted, reviews.get(cid)) for path, cid, predicted in cells],
                     out_dir, include_unreviewed=include_unreviewed)
    return summary.text()
