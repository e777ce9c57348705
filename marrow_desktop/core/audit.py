"""The audit trail of a case: append-only, hash-chained label changes, sign-offs and reopenings.

Each entry's hash covers its fields and the previous entry's hash, so editing, deleting or
reordering rows breaks the chain and `verify` names the first row that no longer fits. This
detects tampering with the store file. A rewrite of the whole chain is caught by the
signatures of sign-offs and reopenings (core.signing) and by the head hash the case report
prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from marrow_desktop.core.cells import cell_id
from marrow_desktop.core.signing import SignatureRecord, check_signature

if TYPE_CHECKING:
    from marrow_desktop.core.review import Review
    from marrow_desktop.core.store import CaseInfo

GENESIS = "0" * 64
REVIEW, SIGN_OFF, REOPEN = "review", "sign_off", "reopen"
#: Case details changed (the note holds the SHA-256 of the new details, not the details).
DETAILS = "details"
#: The case's model was chosen or switched (model_name/model_sha256 say which).
MODEL = "model"
#: The reviewer acknowledged a warning about the case (the note says which and why).
ACKNOWLEDGE = "acknowledge"
#: A cell of a field image added by hand, or a found cell removed (sha256 + region).
ADD_CELL, REMOVE_CELL = "add_cell", "remove_cell"
ACTIONS = (REVIEW, SIGN_OFF, REOPEN, DETAILS, MODEL, ACKNOWLEDGE, ADD_CELL, REMOVE_CELL)


def utc_now() -> str:
    """Now, as the ISO 8601 UTC text entries carry (microseconds, so order is kept)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditEntry:
    """One row of a case's trail. `previous`/`new` are labels ('' = none) for REVIEW rows."""

    seq: int  # position in the case's trail, from 1
    case_id: str
    action: str
    sha256: str = ""
    path: str = ""
    previous: str = ""
    new: str = ""
    who: str = ""
    at: str = ""
    model_name: str = ""
    model_sha256: str = ""
    note: str = ""
    prev_hash: str = GENESIS
    row_hash: str = ""
    region: str = ""  # a part of the image (core.cells); '' = the whole image

    @property
    def cell(self) -> str:
        """The cell id this entry is about ('' for case-level entries)."""
        return cell_id(self.sha256, self.region) if self.sha256 else ""

    def payload(self) -> str:
        """The canonical text the hash covers (every field but row_hash; the region only when
        there is one, so entries written before regions existed keep their hashes)."""
        fields = [self.seq, self.case_id, self.action, self.sha256, self.path, self.previous,
                  self.new, self.who, self.at, self.model_name, self.model_sha256, self.note,
                  self.prev_hash]
        if self.region:
            fields.append(self.region)
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def computed_hash(self) -> str:
        return hashlib.sha256(self.payload().encode("utf-8")).hexdigest()


@dataclass
class AuditCheck:
    """Outcome of verifying a case's trail against itself and the case's current state."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)  # one line per valid signature
    notes: list[str] = field(default_factory=list)  # unsigned sign-offs, keys unknown here
    sign_off_signature: SignatureRecord | None = None  # of the last sign-off, when valid

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            extra = ""
            if self.signed:
                extra += f"; {len(self.signed)} signature{'s' if len(self.signed) > 1 else ''}"
                extra += " valid"
            if self.notes:
                extra += f"; {self.notes[0]}" + (f" (+{len(self.notes) - 1} more)"
                                                 if len(self.notes) > 1 else "")
            return f"Audit trail intact: {self.entries} entries, head {self.head[:12]}{extra}"
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"Audit trail BROKEN: {self.problems[0]}{more}"


def details_hash(details_json: str) -> str:
    """What a DETAILS entry records of the case details (their hash, not the details)."""
    return hashlib.sha256(details_json.encode("utf-8")).hexdigest()


@dataclass
class _Replay:
    """The case state the trail describes."""

    labels: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # cell: label,who,at
    signed: tuple[str, str, str] | None = None  # who, at, note
    details: str = details_hash("{}")
    model: str = ""


def _check_signatures(check: AuditCheck, entries: Sequence[AuditEntry],
                      signatures: Sequence[SignatureRecord],
                      known_keys: Mapping[str, set[str]]) -> None:
    """Every sign-off and reopening signed with its reviewer's key (core.signing)."""
    by_seq = {s.seq: s for s in signatures}
    by_entry = {e.seq: e for e in entries}
    for seq in sorted(set(by_seq) - {e.seq for e in entries if e.action in (SIGN_OFF, REOPEN)}):
        check.problems.append(f"signature of entry {seq}: there is no sign-off or reopening "
                              "with that number")
    for entry in entries:
        if entry.action not in (SIGN_OFF, REOPEN):
            continue
        what = f"entry {entry.seq} ({entry.action.replace('_', '-')} by {entry.who})"
        record = by_seq.get(entry.seq)
        if record is None:
            check.notes.append(f"{what} is not signed with a key")
            continue
        why = check_signature(record, entry.action, by_entry[entry.seq].row_hash)
        fp = record.key_fingerprint
        if entry.action == SIGN_OFF:
            check.sign_off_signature = None if why else record
        if why:
            check.problems.append(f"{what}: {why}")
        elif entry.who in known_keys and fp not in known_keys[entry.who]:
            check.problems.append(f"{what}: signed with key {fp}, which is not {entry.who}'s "
                                  "key on this computer")
        elif entry.who not in known_keys:
            check.signed.append(f"{what}: signature valid, key {fp}")
            check.notes.append(f"{what}: key {fp} is not known on this computer (compare it "
                               f"with {entry.who}'s key)")
        else:
            check.signed.append(f"{what}: signature valid, {entry.who}'s key {fp}")


def verify(entries: Sequence[AuditEntry], case: CaseInfo, reviews: Mapping[str, Review],
           signatures: Sequence[SignatureRecord] = (),
           known_keys: Mapping[str, set[str]] | None = None) -> AuditCheck:
    """Check the chain and the recorded head/count, then replay it: every shown field (labels
    and who gave them when, sign-off name, time and note, case details, the case's model) must
    be what the trail says; every sign-off and reopening should carry a valid signature by a
    key this computer knows for its reviewer (`known_keys`: name -> fingerprints)."""
    check = AuditCheck(entries=len(entries), head=case.audit_head)
    _check_signatures(check, entries, signatures, known_keys or {})
    running = GENESIS
    state = _Replay()
    for i, entry in enumerate(entries, start=1):
        where = f"entry {entry.seq}"
        if entry.seq != i:
            check.problems.append(f"{where}: expected entry {i} (a row is missing or moved)")
        if entry.prev_hash != running:
            check.problems.append(f"{where}: does not follow the entry before it")
        if entry.computed_hash() != entry.row_hash:
            check.problems.append(f"{where}: its contents were changed after it was written")
        running = entry.row_hash
        if entry.action == REVIEW:
            if state.labels.get(entry.cell, ("",))[0] != entry.previous:
                check.problems.append(f"{where}: previous label does not match the trail")
            if entry.new:
                state.labels[entry.cell] = (entry.new, entry.who, entry.at)
            else:
                state.labels.pop(entry.cell, None)
        elif entry.action == SIGN_OFF:
            state.signed = (entry.who, entry.at, entry.note)
        elif entry.action == REOPEN:
            state.signed = None
        elif entry.action == DETAILS:
            state.details = entry.note
        elif entry.action == MODEL:
            state.model = entry.model_sha256
    if running != case.audit_head or len(entries) != case.audit_count:
        check.problems.append(
            f"the case records {case.audit_count} entries ending in {case.audit_head[:12]}, the "
            f"trail has {len(entries)} ending in {running[:12]} (rows were removed or added "
            "outside the application)")
    shown = {cell: (r.label, r.reviewer, r.at) for cell, r in reviews.items()}
    if {c: v[0] for c, v in shown.items()} != {c: v[0] for c, v in state.labels.items()}:
        changed = set(shown.items()) ^ set(state.labels.items())
        check.problems.append(f"{len({k for k, _ in changed})} cell label(s) differ from "
                              "what the trail records")
    elif shown != state.labels:
        wrong = sum(1 for c in shown if shown[c] != state.labels.get(c))
        check.problems.append(f"{wrong} cell label(s) name another reviewer or time than the "
                              "trail records")
    signed = (case.signed_by, case.signed_at, case.sign_note) if case.signed else None
    if signed != state.signed:
        check.problems.append("the sign-off (state, name, time or note) differs from what the "
                              "trail records")
    if details_hash(case.details) != state.details:
        check.problems.append("the case details differ from what the trail records")
    if case.model_sha256 != state.model:
        check.problems.append("the case's model differs from what the trail records")
    return check
