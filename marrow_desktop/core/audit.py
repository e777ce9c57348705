"""The audit trail of a case: append-only, hash-chained label changes, sign-offs and reopenings.

Each entry's hash covers its fields and the previous entry's hash, so editing, deleting or
reordering rows breaks the chain and `verify` names the first row that no longer fits. This
detects tampering with the store file; it does not stop someone who rewrites the whole chain
(the case report prints the head hash, so a printed or archived report anchors it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

GENESIS = "0" * 64
REVIEW, SIGN_OFF, REOPEN = "review", "sign_off", "reopen"


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

    def payload(self) -> str:
        """The canonical text the hash covers (every field but row_hash)."""
        return json.dumps([self.seq, self.case_id, self.action, self.sha256, self.path,
                           self.previous, self.new, self.who, self.at, self.model_name,
                           self.model_sha256, self.note, self.prev_hash],
                          ensure_ascii=False, separators=(",", ":"))

    def computed_hash(self) -> str:
        return hashlib.sha256(self.payload().encode("utf-8")).hexdigest()


@dataclass
class AuditCheck:
    """Outcome of verifying a case's trail against itself and the case's current state."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"Audit trail intact: {self.entries} entries, head {self.head[:12]}"
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"Audit trail BROKEN: {self.problems[0]}{more}"


def verify(entries: Sequence[AuditEntry], head: str, count: int,
           labels: dict[str, str], signed: bool) -> AuditCheck:
    """Check the chain, the recorded head/count, and that replaying it gives the current
    labels (sha256 -> label) and sign-off state."""
    check = AuditCheck(entries=len(entries), head=head)
    running = GENESIS
    replay: dict[str, str] = {}
    replay_signed = False
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
            if replay.get(entry.sha256, "") != entry.previous:
                check.problems.append(f"{where}: previous label does not match the trail")
            if entry.new:
                replay[entry.sha256] = entry.new
            else:
                replay.pop(entry.sha256, None)
        elif entry.action == SIGN_OFF:
            replay_signed = True
        elif entry.action == REOPEN:
            replay_signed = False
    if running != head or len(entries) != count:
        check.problems.append(f"the case records {count} entries ending in {head[:12]}, the "
                              f"trail has {len(entries)} ending in {running[:12]} "
                              "(rows were removed or added outside the application)")
    if replay != labels:
        changed = sorted(set(replay.items()) ^ set(labels.items()))
        check.problems.append(f"{len({k for k, _ in changed})} cell label(s) differ from "
                              "what the trail records")
    if replay_signed != signed:
        check.problems.append("the sign-off state differs from what the trail records")
    return check
