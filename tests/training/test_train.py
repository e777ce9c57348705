"""Short real training runs on CPU: files written, resume, unreadable images, bad checkpoints."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from marrow_desktop.cli import main
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.model_spec import load_model_spec
from tests.training.conftest import CORRUPT

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def _metrics(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_run_writes_its_files(trained_run: Path) -> None:
    for name in ("best.json", "best.safetensors", "last.json", "last.safetensors", "last.pt",
                 "metrics.csv", "learning_curves.png", "split.csv", "config.json",
                 "skipped.txt"):
        assert (trained_run / name).stat().st_size > 0 or name == "skipped.txt", name
    rows = _metrics(trained_run)
    assert [r["epoch"] for r in rows] == ["1"]
    config = json.loads((trained_run / "config.json").read_text())
    assert config["input_size"] == 64 and config["epochs"] == 1
    spec = load_model_spec(trained_run / "best.json")
    assert spec.classes == ("BLA", "EOS", "LYT") and spec.input_size == 64
    spec.weight_file("torch")  # hash matches
    assert spec.info["training"]["train_images"] == 15  # 19 files, 1 unreadable, 3 held out


def test_split_holds_out_the_last_block(trained_run: Path) -> None:
    with open(trained_run / "split.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    val = {r["source"] for r in rows if r["split"] == "val"}
    train = {r["source"] for r in rows if r["split"] == "train"}
    assert not val & train
    assert sorted(Path(v).name for v in val) == ["BLA_00006.jpg", "EOS_00006.jpg",
                                                  "LYT_00006.jpg"]


def test_unreadable_images_are_skipped_and_listed(trained_run: Path) -> None:
    skipped = (trained_run / "skipped.txt").read_text().splitlines()
    assert len(skipped) == 1 and CORRUPT in skipped[0]


def test_resume_continues_and_keeps_history(trained_run: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = json.loads((run / "config.json").read_text())
    first = _metrics(run)[0]
    assert main(["train", config["datasets"][0], "-o", str(run), "--resume", "--epochs", "2"]) == 0
    assert "resuming at epoch 2" in capsys.readouterr().err
    rows = _metrics(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert rows[0] == first
    assert json.loads((run / "config.json").read_text())["epochs"] == 2
    assert load_model_spec(run / "last.json").info["training"]["epochs"] == 2


def test_training_reads_a_pack(tiny_set: Path, tmp_path: Path) -> None:
    pack = tmp_path / "tiny.npz"
    assert main(["data", "pack", str(tiny_set), "-o", str(pack), "--size", "64",
                 "--no-progress"]) == 0
    out = tmp_path / "run"
    assert main(["train", str(pack), "-o", str(out), "--epochs", "1", "--batch-size", "8",
                 "--input-size", "64", "--ema-decay", "0"]) == 0
    assert load_model_spec(out / "best.json").info["training"]["val_images"] == 3


def _forged(trained_run: Path, tmp_path: Path, **changes) -> Path:
    """A copy of the run's checkpoint whose metadata claims something else."""
    data = json.loads((trained_run / "best.json").read_text())
    data.update(changes)
    data.pop("class_names", None)
    shutil.copy2(trained_run / "best.safetensors", tmp_path / "best.safetensors")
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(data))
    return path


def test_checkpoint_of_another_architecture(trained_run: Path, tiny_set: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    forged = _forged(trained_run, tmp_path, architecture="rexnet_100")
    rc = main(["evaluate", str(forged), str(tiny_set), "-o", str(tmp_path / "ev"),
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "best.safetensors" in err and "do not fit this model" in err


def test_checkpoint_with_another_class_count(trained_run: Path, tmp_path: Path) -> None:
    from marrow_desktop.inference.torch_backend import TorchClassifier

    forged = _forged(trained_run, tmp_path, classes=["BLA", "EOS", "LYT", "MON"])
    with pytest.raises(ModelFileError, match=r"best\.safetensors.*do not fit"):
        TorchClassifier(load_model_spec(forged), device="cpu")
    assert main(["export", str(forged), "-o", str(tmp_path / "x.onnx")]) == 2
