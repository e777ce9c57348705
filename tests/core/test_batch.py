"""Streaming batch runner with a stand-in predictor (no model needed): order, store reuse,
errors, early stop, thresholds, on_image."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.batch import run_batch
from marrow_desktop.core.quality import QualityThresholds
from marrow_desktop.core.store import ResultStore

CLASSES = ("R", "G", "B")


class MeanColour:
    """Probabilities from each image's mean colour; counts the images it is asked about."""

    def __init__(self, fail_on_size: tuple[int, int] | None = None) -> None:
        self.seen = 0
        self.calls = 0
        self.fail_on_size = fail_on_size

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        self.calls += 1
        if self.fail_on_size and any(i.shape[:2] == self.fail_on_size for i in images):
            raise RuntimeError("cannot classify this one")
        self.seen += len(images)
        means = np.stack([i.reshape(-1, 3).mean(axis=0) for i in images]) / 255
        e = np.exp(means * 5)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture()
def folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    for p in sample_paths[:10]:
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


def _run(paths: list[Path], predictor: MeanColour | None, **kw: object) -> list:
    return list(run_batch(paths, predictor, classes=CLASSES, model_sha256="model-1",
                          batch_size=3, **kw))


def test_results_in_order_and_classified(folder: Path) -> None:
    paths = sorted(folder.iterdir())
    predictor = MeanColour()
    results = _run(paths, predictor)
    assert [r.path for r in results] == [str(p) for p in paths]
    assert all(r.classified and r.quality is not None for r in results)
    assert predictor.seen == 10 and predictor.calls == 4  # batches of 3, 3, 3, 1
    assert all(abs(float(r.probabilities.sum()) - 1) < 1e-5 for r in results)


def test_errors_do_not_stop_the_run(folder: Path) -> None:
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("x")
    paths = [folder / "empty.jpg", *sorted(folder.glob("*_0*.jpg")), folder / "notes.txt",
             folder / "missing.png"]
    results = _run(paths, MeanColour())
    errors = {Path(r.path).name: r.error for r in results if not r.ok}
    assert set(errors) == {"empty.jpg", "notes.txt", "missing.png"}
    assert "empty file" in errors["empty.jpg"] and "not a supported image type" in errors[
        "notes.txt"] and "file not found" in errors["missing.png"]
    assert sum(r.classified for r in results) == 10


def test_a_failing_image_fails_alone(folder: Path) -> None:
    from PIL import Image

    Image.new("RGB", (7, 5), (120, 60, 140)).save(folder / "odd.png")
    paths = sorted(folder.iterdir())
    results = _run(paths, MeanColour(fail_on_size=(5, 7)))
    bad = [r for r in results if not r.ok]
    assert [Path(r.path).name for r in bad] == ["odd.png"]
    assert "classification failed" in bad[0].error
    assert sum(r.classified for r in results) == 10


def test_store_reuse_and_new_model(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    paths = sorted(folder.iterdir())
    with ResultStore(tmp_path_factory.mktemp("db") / "r.sqlite") as store:
        first = _run(paths, MeanColour(), store=store)
        again_predictor = MeanColour()
        again = _run(paths, again_predictor, store=store)
        assert again_predictor.seen == 0 and all(r.from_store for r in again)
        for a, b in zip(first, again):
            assert np.allclose(a.probabilities, b.probabilities, atol=1e-6)
            assert a.quality == b.quality
        other = MeanColour()
        list(run_batch(paths, other, classes=CLASSES, model_sha256="model-2", store=store))
        assert other.seen == 10  # another model: recomputed
        # a renamed copy is found by content
        shutil.copy(paths[0], folder / "renamed.jpg")
        renamed = MeanColour()
        hit = _run([folder / "renamed.jpg"], renamed, store=store)[0]
        assert renamed.seen == 0 and hit.from_store and hit.path.endswith("renamed.jpg")


def test_store_is_not_trusted_without_a_model_hash(folder: Path) -> None:
    paths = sorted(folder.iterdir())
    with ResultStore() as store:
        list(run_batch(paths, None, store=store))  # quality only
        predictor = MeanColour()
        results = list(run_batch(paths, predictor, classes=CLASSES, store=store))
        assert predictor.seen == 10 and all(r.classified for r in results)


def test_changed_file_is_recomputed(folder: Path) -> None:
    paths = sorted(folder.iterdir())
    with ResultStore() as store:
        _run(paths, MeanColour(), store=store)
        shutil.copy(paths[1], paths[0])  # new content under an old name
        predictor = MeanColour()
        results = _run(paths, predictor, store=store)
        assert predictor.seen == 0  # its content is known (it is paths[1]'s)
        assert results[0].content_sha256 == results[1].content_sha256


def test_stored_quality_is_rejudged_with_new_thresholds(folder: Path) -> None:
    paths = sorted(folder.iterdir())
    with ResultStore() as store:
        normal = list(run_batch(paths, None, store=store))
        assert not any(r.quality.blurry for r in normal)
        strict = list(run_batch(paths, None, store=store,
                                thresholds=QualityThresholds(blur_threshold=1000)))
        assert all(r.from_store and r.quality.blurry for r in strict)


def test_quality_only_run(folder: Path) -> None:
    results = list(run_batch(sorted(folder.iterdir()), None))
    assert all(r.ok and r.quality is not None and r.probabilities is None for r in results)


def test_early_stop_leaves_later_images_undone(folder: Path) -> None:
    paths = sorted(folder.iterdir())
    predictor = MeanColour()
    with ResultStore() as store:
        gen = run_batch(paths, predictor, classes=CLASSES, model_sha256="m", store=store,
                        batch_size=2)
        got = [next(gen) for _ in range(3)]
        gen.close()
        assert len(got) == 3
        assert store.count_predictions("m") == 3  # only what was yielded is stored
        assert predictor.seen == 4  # two batches of two


def test_on_image_sees_pixels_also_for_stored_results(folder: Path) -> None:
    paths = sorted(folder.iterdir())
    seen: list[tuple[str, tuple[int, ...]]] = []
    with ResultStore() as store:
        _run(paths, MeanColour(), store=store)
        predictor = MeanColour()
        _run(paths, predictor, store=store,
             on_image=lambda r, rgb: seen.append((r.path, rgb.shape)))
        assert predictor.seen == 0  # pixels decoded for the callback, not re-classified
    assert len(seen) == 10 and all(shape == (250, 250, 3) for _, shape in seen)
