"""marrow_desktop.selftest: passes on the bundled samples, fails clearly on a broken setup."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from marrow_desktop import selftest
from marrow_desktop.cli import main as cli_main
from marrow_desktop.core.taxonomy import SHIPPED_CLASSES


def _sidecar(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_true_class_from_file_name() -> None:
    assert selftest.true_class("BLA_00851.jpg", SHIPPED_CLASSES) == "BLA"
    assert selftest.true_class("pmo_1.png", SHIPPED_CLASSES) == "PMO"
    assert selftest.true_class("cell_1.png", SHIPPED_CLASSES) is None


def test_module_imports_neither_qt_nor_torch() -> None:
    code = ("import sys, marrow_desktop.selftest, marrow_desktop.commands.selftest; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'torch', 'onnxruntime', 'cv2')]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bundled_model_passes(bundled_model: Path, sample_paths: list[Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped model on the shipped samples: what `marrow-desktop --selftest` checks."""
    assert selftest.main(["--selftest", "--backend", "onnx", "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "SELFTEST PASSED" in out
    assert f"{len(sample_paths)}/{len(sample_paths)} sample images classified" in out
    assert "Grad-CAM ok" in out
    if "selftest" in _sidecar(bundled_model).get("info", {}):
        assert "agree with the predictions recorded" in out


def test_record_then_check(model_copy: Path, sample_dir: Path, tmp_path: Path) -> None:
    recorded = selftest.record_expected(model_copy, sample_dir, threads=2)
    assert _sidecar(model_copy)["info"]["selftest"] == recorded
    assert set(recorded) == {p.name for p in sample_dir.glob("*.jpg")}
    result = selftest.run_selftest(model_copy, sample_dir, backend="onnx", threads=2,
                                   report_dir=tmp_path / "reports")
    assert result.passed, result.failures
    assert result.agreement == [(len(recorded), len(recorded))]
    rows = (tmp_path / "reports" / "selftest_onnx.csv").read_text(encoding="utf-8-sig")
    assert len(rows.strip().splitlines()) == len(recorded) + 1


def test_changed_expectation_fails_with_the_file_named(model_copy: Path, sample_dir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    recorded = selftest.record_expected(model_copy, sample_dir, threads=2)
    data = _sidecar(model_copy)
    name = sorted(recorded)[0]
    data["info"]["selftest"][name] = next(c for c in SHIPPED_CLASSES if c != recorded[name])
    model_copy.write_text(json.dumps(data), encoding="utf-8")
    rc = selftest.main(["--model", str(model_copy), "--samples", str(sample_dir),
                        "--backend", "onnx"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "SELFTEST FAILED" in out
    assert name in out and "differ from those recorded" in out


def test_missing_sample_fails(model_copy: Path, sample_dir: Path, tmp_path: Path) -> None:
    selftest.record_expected(model_copy, sample_dir, threads=2)
    fewer = tmp_path / "fewer"
    shutil.copytree(sample_dir, fewer)
    (fewer / "BLA_00851.jpg").unlink()
    result = selftest.run_selftest(model_copy, fewer, backend="onnx")
    assert not result.passed
    assert any("BLA_00851.jpg" in f and "missing" in f for f in result.failures)


def test_corrupt_weights_fail_clearly(model_copy: Path, sample_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    onnx = model_copy.parent / _sidecar(model_copy)["files"]["onnx"]
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    rc = selftest.main(["--model", str(model_copy), "--samples", str(sample_dir)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "SELFTEST FAILED" in err and "SHA-256" in err and onnx.name in err


def test_truncated_graph_fails_clearly(model_copy: Path, sample_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A broken graph whose hash was updated to match: ONNX Runtime itself must refuse it."""
    from marrow_desktop.core.hashing import sha256_file

    data = _sidecar(model_copy)
    onnx = model_copy.parent / data["files"]["onnx"]
    onnx.write_bytes(onnx.read_bytes()[:4096])
    data["sha256"]["onnx"] = sha256_file(onnx)
    model_copy.write_text(json.dumps(data), encoding="utf-8")
    assert selftest.main(["--model", str(model_copy), "--samples", str(sample_dir)]) == 2
    err = capsys.readouterr().err
    assert "SELFTEST FAILED: cannot load the model" in err


def test_missing_model_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARROW_MODELS_DIR", str(tmp_path / "nowhere"))
    assert cli_main(["selftest"]) == 2
    err = capsys.readouterr().err
    assert "SELFTEST FAILED: model not found" in err and "MARROW_MODELS_DIR" in err


def test_missing_samples_fail_clearly(model_copy: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--model", str(model_copy), "--samples", str(tmp_path / "none")]) == 2
    assert "sample images not found" in capsys.readouterr().err


@pytest.mark.torch
def test_unrecorded_model_uses_accuracy_floor(random_model_copy: Path, sample_dir: Path) -> None:
    """Without recorded predictions the floor applies: random weights must not pass it."""
    result = selftest.run_selftest(random_model_copy, sample_dir, backend="onnx", min_accuracy=0.6)
    assert result.expected is None
    assert not result.passed
    assert any("below the floor" in f for f in result.failures)
    lowered = selftest.run_selftest(random_model_copy, sample_dir, backend="onnx",
                                    min_accuracy=0.0)
    assert lowered.passed, lowered.failures


@pytest.mark.torch
def test_all_backends_agree_with_a_recording(random_model_copy: Path, sample_dir: Path) -> None:
    """`--backend all` (the GPU bundle's smoke test) checks ONNX and PyTorch against one record."""
    selftest.record_expected(random_model_copy, sample_dir, threads=2)
    result = selftest.run_selftest(random_model_copy, sample_dir, backend="all")
    assert [r.backend for r in result.runs] == ["onnx", "torch"]
    assert result.passed, result.failures
