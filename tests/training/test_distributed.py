"""`marrow train` under torchrun: two CPU processes on gloo, one run folder, and --resume."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "marrow_desktop", "train", *args], cwd=cwd, capture_output=True, text=True,
        timeout=600)


def _epochs(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_processes_train_one_run_and_resume_it(tiny_set: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = _torchrun(str(tiny_set), "-o", str(run), "--epochs", "1", "--batch-size", "4",
                      "--input-size", "32", "--ema-decay", "0", "--threads", "1",
                      "--device", "cpu", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("run written to") == 1  # rank 0 speaks for the run
    assert first.stderr.count("epoch 1/1 @32px  train loss") == 1
    rows = _epochs(run)
    assert [r["epoch"] for r in rows] == ["1"]
    training = json.loads((run / "best.json").read_text())["info"]["training"]
    assert training["processes"] == 2 and training["hardware"].startswith("2 x ")

    again = _torchrun(str(tiny_set), "-o", str(run), "--resume", "--epochs", "2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("resuming at epoch 2") == 1
    resumed = _epochs(run)
    assert [r["epoch"] for r in resumed] == ["1", "2"] and resumed[0] == rows[0]
    assert json.loads((run / "last.json").read_text())["info"]["training"]["epochs"] == 2
