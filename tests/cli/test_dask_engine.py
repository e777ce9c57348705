"""`marrow classify --engine dask` on a local cluster: the local run's rows, the store, a worker
killed mid-run, and a cluster that cannot run the job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.store import ResultStore
from tests.cli.helpers import marrow, read_report
from tests.cli.models import copy_model

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


def _key(row: dict[str, str]) -> tuple[str, ...]:
    return (row["path"], row["status"], row["predicted_class"], row["confidence"])


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes (restarted by their nannies when killed)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local, Client(local) as client:
        yield local, client


def test_dask_rows_match_the_local_run_and_fill_the_store(sample_dir: Path, tmp_path: Path,
                                                          bundled_model: Path) -> None:
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert marrow("classify", sample_dir, "-o", local, "--model", bundled_model, "--no-store",
                  "--no-progress") == 0
    store = tmp_path / "store.sqlite"
    assert marrow("classify", sample_dir, "-o", remote, "--model", bundled_model, "--store",
                  store, "--engine", "dask", "--workers", "2", "--partition", "4",
                  "--no-progress") == 0
    ours, theirs = read_report(local), read_report(remote)
    assert len(theirs) == 21 and sorted(map(_key, theirs)) == sorted(map(_key, ours))
    spec = load_model_spec(bundled_model)
    with ResultStore(store) as s:  # the client stored every result
        for row in theirs:
            hit = s.get(row["path"], row["sha256"], spec.model_sha256,
                        domain_sha256=spec.domain_sha256)
            assert hit is not None and hit.predicted_class == row["predicted_class"]


def test_a_killed_worker_loses_no_image_and_repeats_none(cluster, sample_paths: list[Path],
                                                         tmp_path: Path,
                                                         bundled_model: Path) -> None:
    local, client = cluster
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        for path in sample_paths:
            shutil.copy(path, folder / f"{i:02d}_{path.name}")
    out = tmp_path / "dask.csv"
    codes: list[int] = []
    run = threading.Thread(target=lambda: codes.append(marrow(
        "classify", folder, "-o", out, "--model", bundled_model, "--no-store", "--engine",
        "dask", "--scheduler", local.scheduler_address, "--partition", "2", "--threads", "1",
        "--no-progress")))
    run.start()
    try:
        def first_rows() -> bool:
            return out.is_file() and out.read_text(encoding="utf-8-sig").count("\n") >= 3
        while run.is_alive() and not first_rows():
            run.join(0.05)
        assert run.is_alive(), "the run ended before a worker could be killed"
        pids = client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
    finally:
        run.join(300)
    assert codes == [0]
    rows = read_report(out)
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in folder.iterdir())
    assert all(r["status"] == "ok" for r in rows)


def test_an_unreachable_scheduler_is_one_clear_error(sample_dir: Path, tmp_path: Path,
                                                     bundled_model: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from marrow_desktop.commands import _dask_engine

    monkeypatch.setattr(_dask_engine, "CONNECT_TIMEOUT", 2)
    out = tmp_path / "dask.csv"
    assert marrow("classify", sample_dir, "-o", out, "--model", bundled_model, "--no-store",
                  "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "--no-progress") == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not [r for r in read_report(out) if r["status"] == "ok"] if out.exists() else True


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_worker_without_the_clients_model_names_itself_and_the_file(
        damage: str, cluster, sample_dir: Path, tmp_path: Path, bundled_model: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from marrow_desktop.commands import _batch_common

    local, _ = cluster
    model = copy_model(bundled_model, tmp_path / "model")
    load = _batch_common.load_model

    def load_then_damage(args):  # the workers find the file other than the client did
        classifier = load(args)
        if damage == "missing":
            model.with_suffix(".onnx").unlink()
        else:
            meta = json.loads(model.read_text())
            meta["temperature"] = 2.0
            model.write_text(json.dumps(meta))
        return classifier

    monkeypatch.setattr(_batch_common, "load_model", load_then_damage)
    out = tmp_path / "dask.csv"
    assert marrow("classify", sample_dir, "-o", out, "--model", model, "--no-store", "--engine",
                  "dask", "--scheduler", local.scheduler_address, "--no-progress") == 2
    err = capsys.readouterr().err
    assert "worker tcp://" in err
    assert ("model file is missing" if damage == "missing" else "another model") in err
    assert str(model.with_suffix(".onnx") if damage == "missing" else model) in err
    assert not [r for r in read_report(out) if r["status"] == "ok"]


def test_dask_options_need_the_dask_engine(sample_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.csv"
    assert marrow("classify", sample_dir, "-o", out, "--partition", "8") == 2
    assert "--partition needs --engine dask" in capsys.readouterr().err
    assert marrow("classify", sample_dir, "-o", out, "--engine", "dask", "--cam-dir",
                  tmp_path / "cams") == 2
    assert "local run only" in capsys.readouterr().err
