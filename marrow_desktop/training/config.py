"""What defines a training run: one dataclass, from which `marrow train`'s flags are made.

No torch here, so `marrow --help` stays light.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

AUGMENT_PRESETS = ("basic", "lab")


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as config.json in the run directory."""

    datasets: list[str]
    out: str
    class_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    architecture: str = _opt("rexnet_150", "timm architecture", flag="--arch")
    epochs: int = _opt(60, "epochs (with --resume: extend or shorten the run to this many)")
    batch_size: int = _opt(32, "images per step")
    lr: float = _opt(2e-3, "peak AdamW learning rate")
    weight_decay: float = _opt(0.05, "AdamW weight decay")
    warmup_epochs: int = _opt(2, "epochs of linear learning-rate warm-up")
    input_size: int = _opt(224, "model input size in pixels")
    start_size: int = _opt(0, "progressive resizing: start at this size, reach --input-size "
                              "at 75%% of the epochs (0: off)")
    val_fraction: float = _opt(0.1, "last fraction of each class of each data set (by file "
                                    "number) held out for validation")
    label_smoothing: float = _opt(0.1, "label smoothing of the cross-entropy")
    ema_decay: float = _opt(0.999, "weight moving average (0: off)")
    augment: str = _opt("lab", "augmentation: basic (rotation, flip, scale, small colour "
                               "jitter) or lab (adds stain, gamma, hue, blur, JPEG 60-100, "
                               "scale ±20%%, for other labs)", choices=AUGMENT_PRESETS)
    seed: int = _opt(0, "random seed")
    device: str = _opt("auto", "auto, cpu, cuda or cuda:N")
    amp: str = _opt("auto", "mixed precision (auto: bf16 on CUDA, off on CPU)",
                    choices=("auto", "bf16", "off"))
    threads: int = _opt(0, "CPU threads for torch (0: torch's default)")
    init: str = _opt("", "weights to start from (.safetensors, or a model .json whose class "
                         "list maps the classifier rows by class code)")
    name: str = _opt("", "model name written into the metadata")
    max_cache_gb: float = _opt(12.0, "largest decoded image cache in memory (GB)")

    @property
    def dataset(self) -> str:
        """The first data set (names the model by default)."""
        return self.datasets[0]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, path: Path) -> TrainConfig:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "datasets" not in data and "dataset" in data:  # runs from before several data sets
            data["datasets"] = [data.pop("dataset")]
            data.setdefault("augment", "basic")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def option_fields() -> list[Any]:
    """The fields that become `--flags` (all but data sets, output and class maps)."""
    return [f for f in fields(TrainConfig) if "help" in f.metadata]


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One `--flag` per TrainConfig option, its default and help from the field."""
    for f in option_fields():
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        kind = type(f.default) if f.default is not MISSING else str
        shown = "" if f.default == "" else f" (default {f.default!r})"
        parser.add_argument(flag, dest=f.name, type=kind, default=argparse.SUPPRESS,
                            choices=f.metadata.get("choices"),
                            help=f"{f.metadata['help']}{shown}")


def config_from_args(args: argparse.Namespace, datasets: list[str],
                     class_maps: dict[str, dict[str, str]]) -> TrainConfig:
    """A config from parsed flags (flags not given keep the field's default)."""
    given = {f.name: getattr(args, f.name) for f in option_fields() if hasattr(args, f.name)}
    return TrainConfig(datasets=datasets, out=args.out, class_maps=class_maps, **given)
