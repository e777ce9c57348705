"""Signed sign-offs: a rewritten audit chain fails unless the forger holds the signer's key."""

from __future__ import annotations

import sqlite3
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from marrow_desktop.core import audit
from marrow_desktop.core.audit import AuditEntry
from marrow_desktop.core.review import case_id_for
from marrow_desktop.core.signing import Keyring, SigningError
from marrow_desktop.core.store import ResultStore, StoreError

CASE = case_id_for(["/data/case-21"])
ADA = "Dr. Ada Lovelace"
PASS = "correct horse battery"


@pytest.fixture()
def keyring(tmp_path: Path) -> Keyring:
    ring = Keyring(tmp_path / "keys")
    ring.create(ADA, PASS)
    return ring


def _signed_case(path: Path, keyring: Keyring) -> None:
    with ResultStore(path) as store:
        store.set_reviews(CASE, [("a" * 64, "/c/a.jpg", "BLA"), ("b" * 64, "/c/b.jpg", "EOS")],
                          ADA, "rexnet", "m" * 64)
        store.sign_off(CASE, ADA, "complete", signer=keyring.signer(ADA, PASS))


def _rewrite_chain(path: Path, new_label: str) -> None:
    """What a forger with the sqlite3 shell and this source code can do: change a label and
    recompute every hash after it, the case head and the shown label."""
    con = sqlite3.connect(path)
    con.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
    fields = [r[1] for r in con.execute("PRAGMA table_info(audit)")]
    rows = [dict(zip(fields, r)) for r in con.execute("SELECT * FROM audit ORDER BY seq")]
    running = audit.GENESIS
    for row in rows:
        entry = AuditEntry(**{k: (v if v is not None else "") for k, v in row.items()})
        if entry.seq == 1:
            entry = replace(entry, new=new_label)
        entry = replace(entry, prev_hash=running)
        entry = replace(entry, row_hash=entry.computed_hash())
        running = entry.row_hash
        con.execute("UPDATE audit SET new = ?, prev_hash = ?, row_hash = ? WHERE case_id = ? "
                    "AND seq = ?", (entry.new, entry.prev_hash, entry.row_hash, entry.case_id,
                                    entry.seq))
    con.execute("UPDATE cases SET audit_head = ?", (running,))
    con.execute("UPDATE case_reviews SET label = ? WHERE sha256 = ?", (new_label, "a" * 64))
    con.commit()
    con.close()


def test_a_signed_sign_off_verifies_with_the_reviewers_key(tmp_path: Path,
                                                           keyring: Keyring) -> None:
    _signed_case(tmp_path / "r.sqlite", keyring)
    with ResultStore(tmp_path / "r.sqlite") as store:
        check = store.verify_case(CASE, keyring.known())
        (record,) = store.signatures(CASE)
    assert check.ok and not check.notes
    assert check.signed == [f"entry 3 (sign-off by {ADA}): signature valid, {ADA}'s key "
                            f"{record.key_fingerprint}"]
    assert "1 signature valid" in check.summary()
    assert record.key_fingerprint == keyring.public_keys()[0].fingerprint


def test_a_rewritten_chain_fails_the_signature(tmp_path: Path, keyring: Keyring) -> None:
    _signed_case(tmp_path / "r.sqlite", keyring)
    _rewrite_chain(tmp_path / "r.sqlite", "LYT")
    with ResultStore(tmp_path / "r.sqlite") as store:
        check = store.verify_case(CASE, keyring.known())
        assert store.reviews(CASE)["a" * 64].label == "LYT"  # the forgery is self-consistent...
    assert not check.ok  # ...but the signature over the old head no longer matches
    assert check.problems == [f"entry 3 (sign-off by {ADA}): the signature does not match the "
                              "entry (the trail was changed or rewritten)"]


def test_resigning_with_another_key_under_the_same_name_is_caught(tmp_path: Path,
                                                                  keyring: Keyring) -> None:
    forger = Keyring(tmp_path / "forger")
    forger.create(ADA, "another passphrase")
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.set_reviews(CASE, [("a" * 64, "/c/a.jpg", "LYT")], ADA)
        store.sign_off(CASE, ADA, signer=forger.signer(ADA, "another passphrase"))
        check = store.verify_case(CASE, keyring.known())
        unknown = store.verify_case(CASE, {})
    assert not check.ok and "which is not Dr. Ada Lovelace's key on this computer" in \
        check.problems[0]
    assert unknown.ok and "is not known on this computer" in unknown.notes[0]


def test_unsigned_sign_offs_are_named(tmp_path: Path) -> None:
    with ResultStore() as store:
        store.sign_off(CASE, ADA)
        check = store.verify_case(CASE, {})
    assert check.ok and check.notes == [f"entry 1 (sign-off by {ADA}) is not signed with a key"]
    assert "not signed with a key" in check.summary()


def test_keys_are_private_and_locked(tmp_path: Path, keyring: Keyring) -> None:
    with pytest.raises(SigningError, match=r"wrong passphrase for Dr\. Ada Lovelace's"):
        keyring.signer(ADA, "guess")
    with pytest.raises(SigningError, match="no signing key"):
        keyring.signer("Dr. Nobody", PASS)
    with pytest.raises(SigningError, match="already has a signing key"):
        keyring.create(ADA, PASS)
    with pytest.raises(SigningError, match="at least 8"):
        keyring.create("Dr. Short", "short")
    key_file = next(keyring.folder.glob("*.key"))
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    if sys.platform != "win32":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(keyring.folder.stat().st_mode) == 0o700
    with ResultStore() as store, pytest.raises(StoreError, match=r"not Dr\. Bob's"):
        store.sign_off(CASE, "Dr. Bob", signer=keyring.signer(ADA, PASS))


def test_a_public_key_is_imported_on_another_computer(tmp_path: Path, keyring: Keyring) -> None:
    other = Keyring(tmp_path / "other-pc")
    pub = next(keyring.folder.glob("*.pub"))
    key = other.import_public(pub)
    assert other.known() == {ADA: {key.fingerprint}}
    assert other.import_public(pub) == key and len(list(other.folder.glob("*.pub"))) == 1
    (tmp_path / "junk.pub").write_text("{}")
    with pytest.raises(SigningError, match="not a marrow-desktop public key file"):
        other.import_public(tmp_path / "junk.pub")
