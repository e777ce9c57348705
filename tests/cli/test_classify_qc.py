"""`marrow classify` and `marrow qc`: reports, summaries, options, model errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from marrow_desktop.commands._batch_args import DEFAULT_BLUR_THRESHOLD
from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.paths import DEFAULT_MODEL
from marrow_desktop.core.quality import QualityThresholds
from marrow_desktop.core.report import report_columns
from tests.cli.helpers import by_name, marrow, read_report
from tests.cli.models import broken_models
from tests.conftest import copy_images


@pytest.fixture()
def qc_folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    folder = copy_images(sample_paths[:6], tmp_path / "qc")
    rgb = load_image(sample_paths[0]).rgb
    blurred = cv2.GaussianBlur(rgb, (0, 0), 2.0)
    cv2.imwrite(str(folder / "blurred.png"), cv2.cvtColor(blurred, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "dark.png"), cv2.cvtColor(rgb // 5, cv2.COLOR_RGB2BGR))
    return folder


def test_qc_report_flags_real_problems(qc_folder: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qc.csv"
    assert marrow("qc", qc_folder, "-o", out, "--no-progress") == 0
    rows = read_report(out)
    assert list(rows[0]) == report_columns(())  # no probability columns
    named = by_name(rows)
    assert named["blurred.png"]["blurry"] == "1" and named["dark.png"]["too_dark"] == "1"
    sharp = [r for n, r in named.items() if n.endswith(".jpg")]
    assert all(r["blurry"] == "0" and r["too_dark"] == "0" and r["stain_present"] == "1"
               for r in sharp)
    assert all(r["predicted_class"] == "" for r in rows)
    text = capsys.readouterr().out
    # the dark copy has a fifth of the contrast, so it is also (rightly) below the blur threshold
    assert "8 images" in text and "blurry (Laplacian variance < 8): 2 of 8" in text
    assert "blurriest 30% of these images" in text and ": 2," in text  # round(8 * 0.3)


def test_blur_threshold_option(qc_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "qc.csv"
    assert marrow("qc", qc_folder, "-o", out, "--blur-threshold", "1000", "--no-progress") == 0
    assert all(r["blurry"] == "1" for r in read_report(out))
    # the stored measurements are re-judged, not the stored verdicts reused
    again = tmp_path / "qc2.csv"
    assert marrow("qc", qc_folder, "-o", again, "--no-progress") == 0
    assert sum(r["blurry"] == "1" for r in read_report(again)) == 2


def test_help_shows_the_real_default_threshold() -> None:
    assert QualityThresholds().blur_threshold == DEFAULT_BLUR_THRESHOLD


def test_classify_summary_and_columns(sample_dir: Path, tmp_path: Path, model_json: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.csv"
    assert marrow("classify", sample_dir, "-o", out, "--model", model_json, "--no-progress",
                  "--threads", "1", "--batch-size", "5") == 0
    rows = read_report(out)
    classes = load_model_spec(model_json).classes
    assert list(rows[0]) == report_columns(classes)
    assert len(rows) == 21 and all(r["status"] == "ok" for r in rows)
    for r in rows:
        probs = [float(r[f"prob_{c}"]) for c in classes]
        assert abs(sum(probs) - 1) < 1e-4
        assert r["predicted_class"] == classes[probs.index(max(probs))]
        assert len(r["model_sha256"]) == 64
    text = capsys.readouterr().out
    counts = text.split("predicted: ")[1].splitlines()[0]
    assert sum(int(part.split()[1]) for part in counts.split(", ")) == 21


def test_no_images_is_an_error(tmp_path: Path, model_json: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert marrow("classify", tmp_path / "empty", "-o", tmp_path / "r.csv",
                  "--model", model_json) == 2
    assert "no images found" in capsys.readouterr().err


def test_report_of_another_model_is_refused(sample_dir: Path, tmp_path: Path, model_json: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.csv"
    assert marrow("qc", sample_dir, "-o", out, "--no-progress") == 0
    assert marrow("classify", sample_dir, "-o", out, "--model", model_json) == 2
    assert "other columns" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "bad_json", "sha_mismatch", "corrupt_onnx",
                                  "class_count"])
def test_bad_model_is_a_one_line_error(case: str, sample_dir: Path, tmp_path: Path,
                                       model_json: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    model, names = broken_models(model_json, tmp_path / "models")[case]
    rc = marrow("classify", sample_dir, "-o", tmp_path / "r.csv", "--model", model)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error: ") and "\n" not in err and names in err
    assert not (tmp_path / "r.csv").exists()  # nothing written before the model loaded


def test_bundled_model_classifies_the_samples(sample_dir: Path, tmp_path: Path,
                                              bundled_model: Path) -> None:
    """The shipped model, found without --model, gets most bundled samples right."""
    out = tmp_path / "r.csv"
    assert marrow("classify", sample_dir, "-o", out, "--no-progress") == 0
    rows = read_report(out)
    correct = sum(Path(r["path"]).name[:3] == r["predicted_class"] for r in rows)
    assert len(rows) == 21 and correct >= 14


def test_missing_default_model_says_what_to_do(sample_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MARROW_MODELS_DIR", str(tmp_path / "no-models"))
    assert marrow("classify", sample_dir, "-o", tmp_path / "r.csv") == 2
    err = capsys.readouterr().err
    assert f"{DEFAULT_MODEL}.json" in err and "--model" in err
