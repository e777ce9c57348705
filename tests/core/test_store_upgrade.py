"""The version 2 -> 3 upgrade, on a real store written by the previous release.

tests/data/store_v2.sqlite was made by marrow-desktop at commit 755e7df (store version 2): six
bundled samples classified, a case keyed by its folder's path (/tmp/marrow-v2-case) with three
reviews, sign-off by Dr Alpha, reopening by Dr Beta with a reason, one relabel, sign-off again:
seven chained audit entries.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from marrow_desktop.core import audit
from marrow_desktop.core.case_files import case_file_path, open_case
from marrow_desktop.core.store import ResultStore, StoreError
from marrow_desktop.core.store_schema import SCHEMA_VERSION

FIXTURE = Path(__file__).parents[1] / "data" / "store_v2.sqlite"
OLD_CASE = "/tmp/marrow-v2-case"
OLD_HEAD = "3913d98c955c3d7faee9c5375dc4eed47aad4022deac94319052b9e853f88b7f"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "results.sqlite"
    shutil.copy2(FIXTURE, path)
    return path


def test_upgrade_keeps_the_case_its_trail_and_sign_off(old_store: Path) -> None:
    with ResultStore(old_store) as store:
        case = store.case(OLD_CASE)
        check = store.verify_case(OLD_CASE)
        reviews = store.reviews(OLD_CASE)
        trail = store.trail(OLD_CASE)
    assert check.ok, check.problems
    assert check.entries == 7 and case.audit_head == OLD_HEAD  # hashes unchanged
    assert case.signed and case.signed_by == "Dr Beta" and case.sign_note == "amended"
    assert case.folder == OLD_CASE  # a version-2 case is keyed by its folder
    assert sorted(r.label for r in reviews.values()) == ["EOS", "MON", "excluded"]
    assert all("@" not in cell for cell in reviews)  # whole images: the cell id is the hash
    assert [e.action for e in trail].count(audit.SIGN_OFF) == 2
    assert {r.reviewer for r in reviews.values()} == {"dr.alpha", "dr.beta"}
    version = sqlite3.connect(old_store).execute(
        "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert version == str(SCHEMA_VERSION) == "3"
    assert Path(f"{old_store}.v2.bak").is_file()  # the previous version is kept aside


def test_upgraded_store_takes_new_entries_and_regions(old_store: Path) -> None:
    with ResultStore(old_store) as store:
        store.reopen(OLD_CASE, "Dr Gamma", "third look")
        sha = next(iter(store.reviews(OLD_CASE)))
        store.set_reviews(OLD_CASE, [(f"{sha}@10,10,50,50", "/x.jpg", "LYT")], "Dr Gamma")
        assert store.verify_case(OLD_CASE).ok
        assert store.reviews(OLD_CASE)[f"{sha}@10,10,50,50"].label == "LYT"
        assert len(store.trail(OLD_CASE, sha)) >= 2  # every region of that image


def test_old_predictions_are_not_taken_for_a_model_identity(old_store: Path) -> None:
    from marrow_desktop.core.model_spec import load_model_spec
    from marrow_desktop.core.paths import default_model_path

    with ResultStore(old_store) as store:
        rows = store._db.execute("SELECT DISTINCT model_sha256 FROM predictions").fetchall()
        assert len(rows) == 1 and store.count_predictions(rows[0][0]) == 6
        spec = load_model_spec(default_model_path())
        assert store.count_predictions(spec.identity) == 0  # recomputed, never reused


def test_a_version_2_case_moves_into_its_folder_on_the_first_change(old_store: Path,
                                                                     sample_paths) -> None:
    folder = Path(OLD_CASE)
    made = not folder.exists()
    if made:
        folder.mkdir()
    try:
        with ResultStore(old_store) as store:
            handle = open_case([OLD_CASE], store)
            assert handle.case_id == OLD_CASE and handle.in_folder
            assert handle.case().signed_by == "Dr Beta"  # read from the user's store
            writer = handle.writer()  # first change: the case file is made
            writer.reopen(OLD_CASE, "Dr Delta", "moved")
            assert writer.verify_case(OLD_CASE).ok
            assert store.case(OLD_CASE).moved_to == str(case_file_path(folder))
            assert store.find_case(OLD_CASE) is None  # the user store no longer answers
            handle.close()
            again = open_case([OLD_CASE], store)  # found in the folder from now on
            assert again.case_id == OLD_CASE and again.reader() is not store
            assert again.case().audit_count == 8
            again.close()
    finally:
        shutil.rmtree(folder / ".marrow", ignore_errors=True)
        if made:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_damaged_store_is_one_clear_error(old_store: Path) -> None:
    data = bytearray(old_store.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for start in range(2 * page, len(data), 2 * page):  # scribble over every other page
        data[start:start + 8] = b"\xff" * 8
    old_store.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"results.sqlite: .*(damaged|malformed)"):
        ResultStore(old_store)


def test_a_store_with_a_garbled_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"schema version 'abc'"):
        ResultStore(path)
