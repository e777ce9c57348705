"""SQLite results store: put/get, per-image commits (kill safety), resume by path, reviews."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.quality import assess
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.store import ResultStore, StoreError

CLASSES = ("BLA", "EOS", "LYT")


def _result(path: Path, model: str = "m1") -> ImageResult:
    rgb = load_image(path).rgb
    probs = np.asarray([0.7, 0.2, 0.1], np.float32)
    return ImageResult(path=str(path), content_sha256=f"sha-{path.name}", model_sha256=model,
                       classes=CLASSES, probabilities=probs, quality=assess(rgb))


def test_put_get_roundtrip(tmp_path: Path, sample_paths: list[Path]) -> None:
    result = _result(sample_paths[0])
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(result, size=10, mtime_ns=20, model_name="model one")
        hit = store.get("elsewhere.jpg", result.content_sha256, "m1")
        assert hit is not None and hit.from_store and hit.path == "elsewhere.jpg"
        assert hit.classes == CLASSES and hit.quality == result.quality
        assert np.array_equal(hit.probabilities, result.probabilities)  # exact float32
        quality_only = store.get("x", result.content_sha256)
        assert quality_only is not None and quality_only.probabilities is None
        assert store.get("x", result.content_sha256, "other-model") is None
        assert store.get("x", "unknown-sha", "m1") is None
        assert store.count_predictions("m1") == 1


def test_errors_are_not_kept(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(ImageResult.failed("bad.jpg", "bad.jpg: empty file", "sha-bad"))
        assert store.get("bad.jpg", "sha-bad") is None


def test_known_hash_needs_same_size_and_mtime(tmp_path: Path, sample_paths: list[Path]) -> None:
    result = _result(sample_paths[0])
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(result, size=100, mtime_ns=5)
        assert store.known_hash(result.path, 100, 5) == result.content_sha256
        assert store.known_hash(result.path, 101, 5) is None
        assert store.known_hash(result.path, 100, 6) is None
        assert store.known_hash("never-seen.jpg", 100, 5) is None
        found = store.lookup_paths([result.path, "never-seen.jpg"], "m1")
        assert list(found) == [result.path]


def test_results_survive_reopen(tmp_path: Path, sample_paths: list[Path]) -> None:
    results = [_result(p) for p in sample_paths[:3]]
    with ResultStore(tmp_path / "r.sqlite") as store:
        for r in results:
            store.put(r, 1, 1)
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.count_predictions("m1") == 3
        assert all(store.get(r.path, r.content_sha256, "m1") for r in results)


def test_each_result_is_committed_before_a_kill(tmp_path: Path, sample_paths: list[Path]) -> None:
    """A process killed without closing the store keeps every result it had put."""
    db = tmp_path / "r.sqlite"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from pathlib import Path
        from tests.core.test_store import _result
        from marrow_desktop.core.store import ResultStore
        store = ResultStore({str(db)!r})
        for p in {[str(p) for p in sample_paths[:4]]!r}:
            store.put(_result(Path(p)), 1, 1)
        os._exit(9)  # no close, no commit at exit
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    with ResultStore(db) as store:
        assert store.count_predictions("m1") == 4


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"r.sqlite: cannot open the results store"):
        ResultStore(path)
