"""Several labelled data sets in one training run, each with an optional class map.

A class map turns a data set's own folder names into class codes of the taxonomy:
`eosinophil=EOS`, or a file-name pattern inside a folder, `neutrophil/SNE_*=NGS` (band cells
`BNE_*` in the same folder stay out). Maps come as `--map NAME:SRC=DST` arguments or a JSON file
(`--map NAME:FILE.json`, an object {"SRC": "DST"}); NAME is the data set's folder name.

Rules of the label set (never changed silently):
- a data set with a map contributes only what its map names; everything else is left out and
  listed;
- without a map, folder names are the class codes; with more than one data set, folders whose
  name is not a code of the taxonomy are left out and listed (map them to take them in);
- a map naming a folder the data set does not have, a rule matching no image, a target that is
  not a class code, or a data set with no image is an error;
- images with the same bytes in two places are kept once (the first), with a warning that counts
  them per pair of data sets.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from marrow_desktop.core.discovery import natural_key
from marrow_desktop.core.imageio import is_image_path
from marrow_desktop.core.taxonomy import BONE_MARROW_CLASSES
from marrow_desktop.training.config import TrainConfig
from marrow_desktop.training.dataset import (
    Dataset,
    DatasetError,
    Sample,
    explicit_split,
    split_by_blocks,
)

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class MapRule:
    """Images of `folder` whose file name matches `pattern` get class `code`."""

    folder: str
    pattern: str
    code: str

    @property
    def source(self) -> str:
        return self.folder if self.pattern == "*" else f"{self.folder}/{self.pattern}"


@dataclass(frozen=True)
class DataSource:
    """One data set of a run: a class-folder set or a pack, with its class map (may be empty)."""

    path: str
    rules: tuple[MapRule, ...] = ()

    @property
    def name(self) -> str:
        p = Path(self.path)
        return p.stem if p.suffix == ".npz" else p.name

    def map_dict(self) -> dict[str, str]:
        return {r.source: r.code for r in self.rules}


@dataclass
class Combined:
    """The merged data set and what was left out of it, per data set."""

    dataset: Dataset
    left_out: dict[str, list[str]] = field(default_factory=dict)
    duplicates: Counter[tuple[str, str]] = field(default_factory=Counter)


def parse_rule(text: str) -> MapRule:
    """'SRC=DST' where SRC is a folder or FOLDER/FILE_PATTERN."""
    src, sep, dst = text.partition("=")
    src, dst = src.strip().strip("/"), dst.strip()
    if not sep or not src or not dst:
        raise DatasetError(f"class map entry {text!r}: expected SRC=DST, e.g. eosinophil=EOS")
    folder, _, pattern = src.partition("/")
    return MapRule(folder, pattern or "*", dst)


def read_map_file(path: str | Path) -> list[MapRule]:
    """A JSON object {"SRC": "DST", ...}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable class map ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f'{path}: a class map is a JSON object {{"SRC": "DST"}}')
    return [parse_rule(f"{k}={v}") for k, v in data.items()]


def parse_map_args(args: Iterable[str]) -> dict[str, list[MapRule]]:
    """`NAME:SRC=DST` or `NAME:FILE.json` arguments -> rules per data-set name."""
    maps: dict[str, list[MapRule]] = {}
    for arg in args:
        name, sep, rest = arg.partition(":")
        if not sep or not name or ("=" not in rest and not rest.lower().endswith(".json")):
            raise DatasetError(f"--map {arg!r}: expected NAME:SRC=DST or NAME:FILE.json "
                               "(NAME is the data set's folder name)")
        rules = [parse_rule(rest)] if "=" in rest else read_map_file(rest)
        maps.setdefault(name, []).extend(rules)
    return maps


def make_sources(paths: Sequence[str], maps: dict[str, list[MapRule]] | None = None
                 ) -> list[DataSource]:
    """Data sources for paths, each with the rules given for its name."""
    maps = dict(maps or {})
    sources = [DataSource(str(p)) for p in paths]
    names = Counter(s.name for s in sources)
    twice = [n for n, k in names.items() if k > 1]
    if twice:
        raise DatasetError(f"two data sets are named {twice[0]!r}; give one a different folder "
                           "name (a symbolic link will do)")
    out = []
    for source in sources:
        out.append(DataSource(source.path, tuple(maps.pop(source.name, ()))))
    if maps:
        raise DatasetError(f"--map names data set(s) {', '.join(sorted(maps))}, which are not "
                           f"among {', '.join(s.name for s in sources)}")
    return out


def _folders(path: Path) -> dict[str, list[Sample]]:
    """Class folder -> its samples (natural file order), for a folder set or a pack."""
    if path.is_file() and path.suffix == ".npz":
        from marrow_desktop.training.pack import read_pack

        pack = read_pack(path)
        grouped: dict[str, list[Sample]] = {}
        for s in pack.samples:
            grouped.setdefault(pack.classes[s.label], []).append(s)
        return grouped
    if not path.is_dir():
        raise DatasetError(f"{path}: data set folder not found")
    grouped = {}
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted((f for f in folder.iterdir() if f.is_file() and is_image_path(f)),
                       key=lambda f: natural_key(f.name))
        grouped[folder.name] = [Sample(str(f), -1) for f in files]
    return grouped


def _file_name(sample: Sample) -> str:
    return Path(sample.source.replace("\\", "/").rpartition(":")[2]).name


def _check_code(code: str, where: str) -> None:
    if not _CODE.match(code):
        raise DatasetError(f"{where}: {code!r} is not a class code")
    if code not in BONE_MARROW_CLASSES:
        raise DatasetError(f"{where}: {code!r} is not one of the taxonomy's codes "
                           f"({', '.join(sorted(BONE_MARROW_CLASSES))})")


def _assign(source: DataSource, folders: dict[str, list[Sample]], several: bool
            ) -> tuple[list[tuple[str, Sample]], list[str]]:
    """(code, sample) pairs of one data set and what was left out of it."""
    left_out: list[str] = []
    pairs: list[tuple[str, Sample]] = []
    if not source.rules:
        for folder, samples in folders.items():
            if not samples:
                left_out.append(f"{folder} (no images)")
                continue
            if several and folder not in BONE_MARROW_CLASSES:
                left_out.append(f"{folder} ({len(samples)}: not a class code; map it with "
                                f"--map {source.name}:{folder}=CODE)")
                continue
            pairs += [(folder, s) for s in samples]
        return pairs, left_out
    for rule in source.rules:
        where = f"class map of {source.name}, {rule.source}={rule.code}"
        if rule.folder not in folders:
            raise DatasetError(f"{where}: {source.name} has no folder {rule.folder!r} (it has "
                               f"{', '.join(sorted(folders)) or 'none'})")
        _check_code(rule.code, where)
    matched = 0
    for folder, samples in folders.items():
        rules = [r for r in source.rules if r.folder == folder]
        unmatched = 0
        for sample in samples:
            name = _file_name(sample)
            rule = next((r for r in rules if fnmatch.fnmatchcase(name, r.pattern)), None)
            if rule is None:
                unmatched += 1
            else:
                pairs.append((rule.code, sample))
                matched += 1
        if unmatched and not rules:
            left_out.append(f"{folder} ({unmatched})")
        elif unmatched:
            patterns = ", ".join(r.pattern for r in rules)
            left_out.append(f"{folder}: {unmatched} not matching {patterns}")
    for rule in source.rules:
        if not any(fnmatch.fnmatchcase(_file_name(s), rule.pattern)
                   for s in folders[rule.folder]):
            raise DatasetError(f"class map of {source.name}: {rule.source}={rule.code} matches "
                               "no image")
    return pairs, left_out


def _content_key(sample: Sample) -> str:
    if sample.data is not None:
        return hashlib.sha256(sample.data).hexdigest()
    return hashlib.sha256(Path(sample.source).read_bytes()).hexdigest()


def combine(sources: Sequence[DataSource], dedupe: bool = True) -> Combined:
    """Merge data sets into one Dataset (classes in order of first appearance); with dedupe,
    images whose bytes were already seen are left out (counted in the warnings)."""
    if not sources:
        raise DatasetError("no data set given")
    several = len(sources) > 1
    classes: list[str] = []
    samples: list[Sample] = []
    left: dict[str, list[str]] = {}
    seen: dict[str, tuple[str, str]] = {}
    dupes: Counter[tuple[str, str]] = Counter()
    warnings: list[str] = []
    conflicts = 0
    for source in sources:
        folders = _folders(Path(source.path))
        pairs, left_out = _assign(source, folders, several)
        if not pairs:
            raise DatasetError(f"{source.path}: no images"
                               + (f" (left out: {'; '.join(left_out)})" if left_out else ""))
        if left_out:
            left[source.name] = left_out
        for code, sample in pairs:
            if dedupe:
                try:
                    key = _content_key(sample)
                except OSError as exc:
                    warnings.append(f"{sample.source}: unreadable ({exc}); left out")
                    continue
                if key in seen:
                    first_name, first_code = seen[key]
                    dupes[(first_name, source.name)] += 1
                    conflicts += first_code != code
                    continue
                seen[key] = (source.name, code)
            if code not in classes:
                classes.append(code)
            samples.append(Sample(sample.source, classes.index(code), sample.data, source.name))
    if conflicts:
        warnings.append(f"{conflicts} of the repeated images are filed under another class "
                        "than their first copy; the first copy's class was kept")
    if len(classes) < 2:
        raise DatasetError(f"need at least two classes to train, found {', '.join(classes)}")
    for (first, second), n in sorted(dupes.items()):
        where = f"{first} and {second}" if first != second else f"{first} (twice)"
        warnings.append(f"{n} image(s) with the same bytes in {where}: kept once")
    for name, items in left.items():
        warnings.append(f"{name}: left out {'; '.join(items)}")
    root = sources[0].path if not several else ", ".join(s.path for s in sources)
    return Combined(Dataset(classes, samples, root, warnings), left, dupes)


def load_run_data(config: TrainConfig) -> tuple[Dataset, list[int], list[int], str]:
    """The run's images (one or several data sets), its train/validation indices and the rule."""
    if len(config.datasets) == 1 and not config.class_maps:
        split = explicit_split(config.dataset)
        if split:
            dataset, train_idx, val_idx = split
            return dataset, train_idx, val_idx, "explicit train/ and val/ folders"
    maps: dict[str, list[MapRule]] = {
        name: [parse_rule(f"{src}={dst}") for src, dst in rules.items()]
        for name, rules in config.class_maps.items()}
    combined = combine(make_sources(config.datasets, maps))
    dataset = combined.dataset
    if len(config.datasets) == 1:  # one data set keeps its sources unnamed, as before
        dataset.samples = [replace(s, origin="") for s in dataset.samples]
    train_idx, val_idx = split_by_blocks(dataset, config.val_fraction)
    rule = (f"last {config.val_fraction:.0%} of each class by file number"
            + (" in each data set" if len(config.datasets) > 1 else ""))
    return dataset, train_idx, val_idx, rule
