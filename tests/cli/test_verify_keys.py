"""`marrow verify` (the trail and every signature) and `marrow keys`, with real sample images."""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest

from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.review import case_id_for
from marrow_desktop.core.signing import Keyring
from marrow_desktop.core.store import ResultStore
from tests.cli.helpers import marrow, read_report_html
from tests.core.test_signing import _rewrite_chain

ADA, PASS = "Dr. Ada Lovelace", "correct horse battery"


@pytest.fixture()
def signed_case(tmp_path: Path, sample_paths: list[Path]) -> tuple[Path, Path]:
    folder = tmp_path / "case"
    folder.mkdir()
    for p in sample_paths[:6]:
        shutil.copy(p, folder / p.name)
    store = tmp_path / "store.sqlite"
    ring = Keyring()  # the app's data folder (a temporary one in these tests)
    ring.create(ADA, PASS)
    first = sorted(folder.iterdir())[0]
    with ResultStore(store) as s:
        case = case_id_for([str(folder)])
        s.set_reviews(case, [(sha256_file(first), str(first), "BLA")], ADA)
        s.sign_off(case, ADA, "complete", signer=ring.signer(ADA, PASS))
    return folder, store


def test_verify_names_the_valid_signature(signed_case: tuple[Path, Path], tmp_path: Path,
                                          bundled_model: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder, store = signed_case
    fp = Keyring().public_keys()[0].fingerprint
    assert marrow("verify", folder, "--store", store) == 0
    out = capsys.readouterr().out
    assert f"signed: entry 2 (sign-off by {ADA}): signature valid, {ADA}'s key {fp}" in out
    assert "Audit trail intact: 2 entries" in out and "1 signature valid" in out
    assert marrow("report", folder, "-o", tmp_path / "rep", "--model", bundled_model,
                  "--store", store, "--no-progress", "--threads", "1") == 0
    assert f"sign-off signed with key {fp}" in capsys.readouterr().out
    page = read_report_html(tmp_path / "rep" / "report.html").ids
    assert page["key-fingerprint"]["text"] == fp
    assert len(page["signature-value"]["text"]) == 128  # Ed25519: 64 bytes


def test_verify_fails_a_rewritten_chain(signed_case: tuple[Path, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder, store = signed_case
    _rewrite_chain(store, "LYT")
    assert marrow("verify", folder, "--store", store) == 1
    out = capsys.readouterr().out
    assert (f"FAILED: entry 2 (sign-off by {ADA}): the signature does not match the entry "
            "(the trail was changed or rewritten)") in out
    assert "Audit trail BROKEN" in out


def test_verify_without_a_case(tmp_path: Path, sample_paths: list[Path],
                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder)
    assert marrow("verify", folder, "--store", tmp_path / "s.sqlite") == 2
    assert "no reviews, sign-off or trail recorded" in capsys.readouterr().out
    assert marrow("verify", tmp_path / "missing") == 2
    assert "not a folder" in capsys.readouterr().err


def test_keys_create_list_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter([PASS, PASS, PASS, "typo typo typo"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert marrow("keys", "create", ADA) == 0
    out = capsys.readouterr().out
    pub = Path(out.split("public key to copy to the computers that check cases: ")[1].strip())
    assert pub.is_file() and "fingerprint" in out
    assert marrow("keys", "create", "Dr. Bob") == 2  # the two passphrases differ
    assert "the two passphrases differ" in capsys.readouterr().err
    assert marrow("keys", "import", pub, "--keys", tmp_path / "other") == 0
    assert f"trusted {ADA}'s key" in capsys.readouterr().out
    assert marrow("keys", "list", "--keys", tmp_path / "other") == 0
    assert "public only" in capsys.readouterr().out
    assert marrow("keys") == 0
    assert "signs here" in capsys.readouterr().out
