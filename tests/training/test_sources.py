"""Several data sets in one run (training/sources.py): class maps, what is left out, bad input.

Built from the bundled sample cells (real JPEGs), so these run anywhere and without torch. A
second "lab" gets its own bytes (a trailing comment after the JPEG's end marker) unless a test
wants duplicates.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from marrow_desktop.training.config import TrainConfig
from marrow_desktop.training.dataset import DatasetError
from marrow_desktop.training.sources import (
    combine,
    load_run_data,
    make_sources,
    parse_map_args,
)


def _put(src: Path, dest: Path, marker: bytes = b"") -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if marker:
        dest.write_bytes(src.read_bytes() + marker)
    else:
        shutil.copy2(src, dest)


def _by_code(sample_paths: list[Path]) -> dict[str, list[Path]]:
    codes: dict[str, list[Path]] = {}
    for path in sample_paths:
        codes.setdefault(path.name[:3], []).append(path)
    return codes


@pytest.fixture()
def marrow_set(tmp_path: Path, sample_paths: list[Path]) -> Path:
    """ROOT/<code>/ with the 21 bundled samples, as the bone-marrow lab."""
    root = tmp_path / "marrow"
    for path in sample_paths:
        _put(path, root / path.name[:3] / path.name)
    return root


@pytest.fixture()
def blood_set(tmp_path: Path, sample_paths: list[Path]) -> Path:
    """Another lab's layout (own bytes): eosinophil/, neutrophil/ with segmented SNE_* and band
    BNE_* cells, platelet/ (no code of ours)."""
    codes = _by_code(sample_paths)
    root = tmp_path / "blood"
    for i, path in enumerate(codes["EOS"]):
        _put(path, root / "eosinophil" / f"EO_{i}.jpg", b"blood")
    for i, path in enumerate(codes["NGS"]):
        _put(path, root / "neutrophil" / f"SNE_{i}.jpg", b"blood")
    for i, path in enumerate(codes["MON"][:2]):
        _put(path, root / "neutrophil" / f"BNE_{i}.jpg", b"blood")
    _put(codes["LYT"][0], root / "platelet" / "PLT_0.jpg", b"blood")
    return root


def _combined(paths: list[Path], maps: list[str]):
    return combine(make_sources([str(p) for p in paths], parse_map_args(maps)))


def test_a_map_takes_in_what_it_names_and_lists_the_rest(marrow_set: Path, blood_set: Path):
    combined = _combined([marrow_set, blood_set],
                         ["blood:eosinophil=EOS", "blood:neutrophil/SNE_*=NGS"])
    dataset = combined.dataset
    counts = dataset.counts()
    assert counts["EOS"] == 3 + 3 and counts["NGS"] == 3 + 3 and counts["BLA"] == 3
    assert len(dataset.samples) == 21 + 6
    assert combined.left_out == {"blood": ["neutrophil: 2 not matching SNE_*", "platelet (1)"]}
    assert "blood: left out neutrophil: 2 not matching SNE_*; platelet (1)" in dataset.warnings
    origins = {s.origin for s in dataset.samples if Path(s.source).parent.name == "neutrophil"}
    assert origins == {"blood"}


def test_validation_is_the_last_block_of_each_class_of_each_data_set(marrow_set: Path,
                                                                      blood_set: Path,
                                                                      tmp_path: Path):
    config = TrainConfig(datasets=[str(marrow_set), str(blood_set)], out=str(tmp_path / "run"),
                         class_maps={"blood": {"eosinophil": "EOS", "neutrophil/SNE_*": "NGS"}},
                         val_fraction=0.34)
    dataset, train_idx, val_idx, rule = load_run_data(config)
    assert rule == "last 34% of each class by file number in each data set"
    val = {(dataset.samples[i].origin, Path(dataset.samples[i].source).name) for i in val_idx}
    # one image of each class of each data set: the highest-numbered one
    assert ("marrow", "BLA_00893.jpg") in val and ("marrow", "PMO_00594.jpg") in val
    assert len(val) == 7 + 2 and ("blood", "EO_2.jpg") in val and ("blood", "SNE_2.jpg") in val
    assert not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == 27


def test_without_a_map_folders_that_are_not_codes_are_listed(marrow_set: Path,
                                                              blood_set: Path, tmp_path: Path):
    mixed = tmp_path / "mixed"
    shutil.copytree(blood_set, mixed)
    shutil.copytree(marrow_set / "LYT", mixed / "LYT")  # already a code: taken in
    for path in (mixed / "LYT").iterdir():
        path.write_bytes(path.read_bytes() + b"mixed")
    combined = _combined([marrow_set, mixed], [])
    assert combined.dataset.counts()["LYT"] == 3 + 3 and len(combined.dataset.samples) == 24
    assert combined.left_out["mixed"] == [
        "eosinophil (3: not a class code; map it with --map mixed:eosinophil=CODE)",
        "neutrophil (5: not a class code; map it with --map mixed:neutrophil=CODE)",
        "platelet (1: not a class code; map it with --map mixed:platelet=CODE)"]
    with pytest.raises(DatasetError, match=r"blood: no images \(left out: eosinophil \(3: not a "
                                           r"class code; map it with --map blood:eosinophil"):
        _combined([marrow_set, blood_set], [])  # nothing of it is a code


@pytest.mark.parametrize(("maps", "message"), [
    (["blood:eosinophil=EOX"], "'EOX' is not one of the taxonomy's codes"),
    (["blood:eosinophil=eos inophil"], "is not a class code"),
    (["blood:basophil=BAS"], "blood has no folder 'basophil'"),
    (["blood:neutrophil/MY_*=NGS"], "neutrophil/MY_*=NGS matches no image"),
    (["bloods:eosinophil=EOS"], "--map names data set(s) bloods"),
    (["blood:eosinophil"], "expected NAME:SRC=DST or NAME:FILE.json"),
    (["blood:=EOS"], "expected SRC=DST"),
    (["eosinophil=EOS"], "expected NAME:SRC=DST"),
])
def test_a_bad_map_is_one_clear_error(marrow_set: Path, blood_set: Path, maps: list[str],
                                      message: str):
    with pytest.raises(DatasetError) as error:
        _combined([marrow_set, blood_set], maps)
    assert message in str(error.value)


def test_a_map_file(marrow_set: Path, blood_set: Path, tmp_path: Path):
    good = tmp_path / "blood.json"
    good.write_text(json.dumps({"eosinophil": "EOS", "neutrophil/SNE_*": "NGS"}),
                    encoding="utf-8")
    combined = _combined([marrow_set, blood_set], [f"blood:{good}"])
    assert combined.dataset.counts()["NGS"] == 6
    bad = tmp_path / "bad.json"
    bad.write_text('["eosinophil", "EOS"]', encoding="utf-8")
    with pytest.raises(DatasetError, match="a class map is a JSON object"):
        _combined([marrow_set, blood_set], [f"blood:{bad}"])
    with pytest.raises(DatasetError, match="unreadable class map"):
        _combined([marrow_set, blood_set], [f"blood:{tmp_path / 'missing.json'}"])


def test_an_empty_data_set_or_one_with_nothing_mapped_is_an_error(marrow_set: Path,
                                                                   tmp_path: Path):
    empty = tmp_path / "empty"
    (empty / "BLA").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"empty: no images \(left out: BLA \(no images\)\)"):
        _combined([marrow_set, empty], [])
    with pytest.raises(DatasetError, match="data set folder not found"):
        _combined([marrow_set, tmp_path / "nowhere"], [])


def test_two_data_sets_with_one_name_are_refused(marrow_set: Path, tmp_path: Path):
    other = tmp_path / "elsewhere" / "marrow"
    shutil.copytree(marrow_set, other)
    with pytest.raises(DatasetError, match="two data sets are named 'marrow'"):
        _combined([marrow_set, other], [])


def test_the_same_bytes_twice_are_kept_once_and_counted(marrow_set: Path, tmp_path: Path,
                                                         sample_paths: list[Path]):
    codes = _by_code(sample_paths)
    copy = tmp_path / "copy"
    for path in codes["EOS"]:  # same bytes, same class
        _put(path, copy / "EOS" / path.name)
    _put(codes["BLA"][0], copy / "MON" / "MON_1.jpg")  # same bytes, another class
    _put(codes["LYT"][0], copy / "LYT" / "LYT_9.jpg", b"own")  # new bytes
    combined = _combined([marrow_set, copy], [])
    assert len(combined.dataset.samples) == 21 + 1
    assert combined.duplicates == {("marrow", "copy"): 4}
    warnings = combined.dataset.warnings
    assert "4 image(s) with the same bytes in marrow and copy: kept once" in warnings
    assert ("1 of the repeated images are filed under another class than their first copy; "
            "the first copy's class was kept") in warnings
