"""Cells of field photographs as cells of a case: cell paths, the batch on a region, the case's
fields, removed and hand-added cells, and their training export (bundled BCCD fields)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.batch import run_batch
from marrow_desktop.core.case import Case
from marrow_desktop.core.cells import cell_id, cell_path, split_cell_path
from marrow_desktop.core.fields import (
    MATEK_CROP_PX,
    MATEK_RED_CELL_PX,
    FieldSearch,
    ModelScale,
    cell_image,
    hand_box,
)
from marrow_desktop.core.imageio import decode_image
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review
from marrow_desktop.core.store import ResultStore
from marrow_desktop.core.training_export import export_training_set, read_manifest
from tests.conftest import REPO

FIELDS = REPO / "resources" / "fields"
MODEL = ModelScale(MATEK_RED_CELL_PX, MATEK_CROP_PX)


class MeanColour:
    """A predictor whose answer follows the image's pixels (two classes by mean red)."""

    def predict(self, images):
        out = []
        for rgb in images:
            red = float(np.asarray(rgb)[..., 0].mean()) / 255.0
            out.append([red, 1.0 - red])
        return np.asarray(out, dtype=np.float32)


def test_a_cell_path_names_a_region_of_a_file_and_nothing_else() -> None:
    path = cell_path("/a/field.jpg", "10,-4,96,96")
    assert path == "/a/field.jpg#cell=10,-4,96,96"
    assert split_cell_path(path) == ("/a/field.jpg", "10,-4,96,96")
    assert split_cell_path("/a/field.jpg") == ("/a/field.jpg", "")
    assert split_cell_path("/a/odd#cell=name.jpg") == ("/a/odd#cell=name.jpg", "")  # a file
    assert cell_path("/a/b.png") == "/a/b.png"


def test_a_drawn_box_becomes_a_crop_of_the_fields_size_centred_on_it() -> None:
    assert hand_box((100, 50, 40, 60), 300) == (-30, -70, 300, 300)
    assert hand_box((100, 50, 40, 60)) == (90, 50, 60, 60)
    with pytest.raises(ValueError):
        hand_box((0, 0, 0, 5))


def test_a_region_path_in_a_run_is_that_cell_as_the_field_search_cropped_it(
        tmp_path: Path) -> None:
    field = tmp_path / "field.jpg"
    shutil.copy2(FIELDS / "BloodImage_00002.jpg", field)  # its cell crosses the top edge
    found = list(run_batch([field], MeanColour(), classes=("A", "B"),
                           fields=FieldSearch(MODEL)))
    assert found and all(r.region for r in found) and found[0].extra["cut"]
    again = list(run_batch([Path(cell_path(str(field), r.region)) for r in found],
                           MeanColour(), classes=("A", "B")))
    for first, second in zip(found, again, strict=True):
        assert (second.path, second.region) == (first.path, first.region)
        assert second.content_sha256 == first.content_sha256
        np.testing.assert_allclose(second.probabilities, first.probabilities, atol=1e-6)
        assert second.extra["cut"] == first.extra["cut"]
    missing = list(run_batch([Path(cell_path(str(tmp_path / "gone.jpg"), "1,1,50,50"))], None))
    assert not missing[0].ok and "not found" in missing[0].error


def test_only_fields_leaves_single_cell_images_as_one_cell(tmp_path: Path,
                                                          sample_paths: list[Path]) -> None:
    shutil.copy2(FIELDS / "BloodImage_00000.jpg", tmp_path / "field.jpg")
    shutil.copy2(sample_paths[0], tmp_path / "cell.jpg")
    results = list(run_batch([tmp_path / "cell.jpg", tmp_path / "field.jpg"], MeanColour(),
                             classes=("A", "B"), fields=FieldSearch(MODEL, only_fields=True)))
    assert [bool(r.region) for r in results] == [False, True]
    assert results[0].ok and not results[0].extra.get("field")


def test_stored_results_serve_single_cells_but_not_fields_the_run_searches(
        tmp_path: Path, sample_paths: list[Path]) -> None:
    shutil.copy2(FIELDS / "BloodImage_00000.jpg", tmp_path / "field.jpg")
    shutil.copy2(sample_paths[0], tmp_path / "cell.jpg")
    paths = [tmp_path / "cell.jpg", tmp_path / "field.jpg"]
    with ResultStore(tmp_path / "store.sqlite") as store:
        def run(fields: FieldSearch | None) -> list[ImageResult]:
            return list(run_batch(paths, MeanColour(), classes=("A", "B"), model_sha256="m",
                                  store=store, fields=fields))
        whole = run(None)  # the search off: the field is one (flagged) image
        assert [r.region for r in whole] == ["", ""] and whole[1].extra.get("field")
        searched = run(FieldSearch(MODEL, only_fields=True))
        assert searched[0].from_store and not searched[0].region  # the cell from the store
        assert searched[1].region and not searched[1].from_store  # the field searched
        again = run(FieldSearch(MODEL, only_fields=True))
        assert all(r.from_store for r in again)
    with ResultStore(tmp_path / "fields-only.sqlite") as store:  # never seen whole
        def search() -> list[ImageResult]:
            return list(run_batch([tmp_path / "field.jpg"], MeanColour(), classes=("A", "B"),
                                  model_sha256="m", store=store, fields=FieldSearch(MODEL)))
        first, second = search(), search()
        assert not first[0].from_store and second[0].from_store
        assert second[0].quality is not None and second[0].quality.width == MATEK_CROP_PX
        np.testing.assert_allclose(second[0].probabilities, first[0].probabilities)


def _result(path: str, region: str, sha: str, a: float) -> ImageResult:
    return ImageResult(path=path, content_sha256=sha, region=region,
                       probabilities=np.asarray([a, 1 - a], dtype=np.float32),
                       classes=("BLA", "LYT"))


def test_a_fields_cells_are_counted_and_the_field_is_not() -> None:
    case = Case(classes=("BLA", "LYT"))
    case.set_paths(["/c/cell.jpg", "/c/field.jpg", "/c/z.jpg"], "case")
    case.update_results([_result("/c/field.jpg", "", "f" * 64, 0.9)])  # classified whole
    assert case.differential().cells == 1
    case.update_results([_result("/c/field.jpg", "10,10,80,80", "f" * 64, 0.2),
                         _result("/c/field.jpg", "200,10,80,80", "f" * 64, 0.9),
                         _result("/c/cell.jpg", "", "c" * 64, 0.1)])
    field = case.cell("/c/field.jpg")
    assert field.is_field and not field.classified  # its whole-image class is gone
    cells = case.field_cells("/c/field.jpg")
    assert [c.region for c in cells] == ["10,10,80,80", "200,10,80,80"]
    assert cells[0].path == "/c/field.jpg#cell=10,10,80,80"
    assert cells[0].cell_id == cell_id("f" * 64, "10,10,80,80")
    ranked = sorted(case.cells, key=lambda c: c.rank)
    assert [c.name for c in ranked][:4] == ["cell.jpg", "field.jpg",
                                            "field.jpg · cell at 50,50",
                                            "field.jpg · cell at 240,50"]
    d = case.differential()
    assert d.cells == 3 and {r.code: r.ai.count for r in d.rows} == {"BLA": 1, "LYT": 2}
    case.update_results([_result("/c/field.jpg", "", "f" * 64, 0.9)])  # the viewer again
    assert not field.classified
    # a false detection removed by hand: kept, not counted, not in the results
    case.set_removed(cells[1].path)
    assert case.differential().cells == 2 and not cells[1].reasons
    assert len(case.results()) == 2
    assert case.run_paths(True) == ["/c/cell.jpg", "/c/field.jpg", "/c/z.jpg"]
    # a cell added by hand is run on its own, also when fields are searched
    added = case.add_region("/c/field.jpg", "400,300,80,80")
    assert added.parent == field.order and not added.classified
    assert added.path in case.run_paths(True)
    assert set(case.run_paths(False)) == {c.path for c in case.cells}


def test_the_cases_hand_changes_come_back_when_the_field_is_seen_again() -> None:
    sha = "f" * 64
    case = Case(classes=("BLA", "LYT"))
    case.set_paths(["/c/field.jpg"], "case")
    case.set_case_regions({cell_id(sha, "10,10,80,80"): "removed",
                           cell_id(sha, "300,200,80,80"): "added"})
    case.set_case_reviews({cell_id(sha, "300,200,80,80"): Review("LYT", "dr a", "now")})
    case.update_results([_result("/c/field.jpg", "10,10,80,80", sha, 0.9)])
    removed = case.cell("/c/field.jpg#cell=10,10,80,80")
    added = case.cell("/c/field.jpg#cell=300,200,80,80")
    assert removed.removed and added is not None and not added.removed
    case.update_results([_result("/c/field.jpg", "300,200,80,80", sha, 0.9)])
    assert added.review == "LYT" and added.reviewer == "dr a"
    assert case.differential().cells == 1


def test_a_field_cell_is_exported_for_training_as_its_crop(tmp_path: Path) -> None:
    field = tmp_path / "field.jpg"
    shutil.copy2(FIELDS / "BloodImage_00000.jpg", field)
    found = next(run_batch([field], MeanColour(), classes=("A", "B"),
                           fields=FieldSearch(MODEL)))
    path = cell_path(str(field), found.region)
    out = tmp_path / "train"
    summary = export_training_set([(path, found.cell, "A", Review("NGS", "dr a", "t"))],
                                  out)
    assert summary.written == 1 and not summary.failed
    row = read_manifest(out)[0]
    assert row["dest"].startswith("NGS/field_cell_") and row["sha256"] == found.cell
    written = decode_image((out / row["dest"]).read_bytes()).rgb
    expected = cell_image(decode_image(field.read_bytes()).rgb, found.extra["box"])
    assert written.shape == (MATEK_CROP_PX, MATEK_CROP_PX, 3)
    np.testing.assert_array_equal(written, expected)  # PNG: lossless
    field.write_bytes(field.read_bytes() + b"changed")  # the field changed since its review
    again = export_training_set([(path, found.cell, "A", Review("LYT", "dr a", "t"))], out)
    assert again.failed and "changed" in again.failed[0]


def test_cells_a_new_search_no_longer_finds_are_stale_but_hand_added_ones_stay() -> None:
    sha = "f" * 64
    case = Case(classes=("BLA", "LYT"))
    case.set_paths(["/c/field.jpg"], "case")
    case.update_results([_result("/c/field.jpg", "10,10,80,80", sha, 0.9),
                         _result("/c/field.jpg", "200,10,80,80", sha, 0.2)])
    by_hand = case.add_region("/c/field.jpg", "400,300,80,80")
    case.update_results([_result("/c/field.jpg", "400,300,80,80", sha, 0.2)])
    assert case.differential().cells == 3
    # searched again at another scale: one box moved
    case.update_results([_result("/c/field.jpg", "12,12,76,76", sha, 0.9),
                         _result("/c/field.jpg", "200,10,80,80", sha, 0.2)])
    stale = case.keep_found({"/c/field.jpg": {"12,12,76,76", "200,10,80,80"}})
    assert [c.region for c in stale] == ["10,10,80,80"]
    assert case.differential().cells == 3 and not by_hand.stale
    assert {r.region for r in case.results()} == {"12,12,76,76", "200,10,80,80",
                                                  "400,300,80,80"}
    case.keep_found({"/c/field.jpg": {"10,10,80,80", "200,10,80,80"}})  # found again
    assert not case.cell("/c/field.jpg#cell=10,10,80,80").stale


def test_the_store_lists_the_cells_of_a_fields_latest_search(tmp_path: Path) -> None:
    field = tmp_path / "field.jpg"
    shutil.copy2(FIELDS / "BloodImage_00000.jpg", field)
    with ResultStore(tmp_path / "store.sqlite") as store:
        def search(um_per_px: float | None) -> list[ImageResult]:
            return list(run_batch([field], MeanColour(), classes=("A", "B"), model_sha256="m",
                                  store=store, fields=FieldSearch(MODEL, um_per_px=um_per_px)))
        measured = search(None)
        sha = measured[0].content_sha256
        assert store.found_regions(sha, "m") == [r.region for r in measured]
        given = search(0.05)  # another scale: other boxes
        assert given[0].region != measured[0].region
        assert store.found_regions(sha, "m") == [r.region for r in given]
        assert store.found_regions(sha, "other model") == []
