"""`marrow train`: train a timm classifier on one or more class-folder data sets or packs.

Validation is the last block of each class of each data set (split_by_blocks), cut in halves:
the *tune* half picks the best checkpoint, the *report* half is never used to choose anything.
Metrics are printed and written per data set as well as overall.
"""

from __future__ import annotations

import csv
import math
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from marrow_desktop import __version__
from marrow_desktop.core.errors import ImageLoadError, MarrowError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.imageio import decode_image, load_image
from marrow_desktop.core.metrics import class_report
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.preprocess import resize_to_input
from marrow_desktop.inference.torch_model import create_model, load_weights, save_weights
from marrow_desktop.training import distributed
from marrow_desktop.training.augment import (
    PRESETS,
    augment,
    jpeg_recode,
    normalize_tensor,
    to_float,
)
from marrow_desktop.training.config import TrainConfig
from marrow_desktop.training.dataset import Dataset, DatasetError, split_halves, write_split
from marrow_desktop.training.sources import load_run_data

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MarrowError("--device cuda was asked for but no CUDA GPU is available")
    return device


def hardware_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def decode_all(dataset: Dataset, indices: list[int], size: int, max_gb: float,
               show: bool = True) -> tuple[np.ndarray, np.ndarray, list[int], list[str]]:
    """Decode and resize (the shared preprocessing) every image once; unreadable ones skipped."""
    need_gb = len(indices) * size * size * 3 / 1e9
    if need_gb > max_gb:
        raise DatasetError(
            f"{len(indices)} images at {size} px need {need_gb:.1f} GB of memory "
            f"(limit --max-cache-gb {max_gb}); pack the data set smaller or raise the limit"
        )
    images = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    labels = np.empty(len(indices), dtype=np.int64)
    kept: list[int] = []
    skipped: list[str] = []
    for index in tqdm(indices, desc="decoding", unit="img", leave=False, file=sys.stderr,
                      disable=not show):
        sample = dataset.samples[index]
        try:
            rgb = (decode_image(sample.data, sample.source) if sample.data is not None
                   else load_image(sample.source)).rgb
        except ImageLoadError as exc:
            skipped.append(str(exc))
            continue
        images[len(kept)] = resize_to_input(rgb, size)
        labels[len(kept)] = sample.label
        kept.append(index)
    return images[: len(kept)], labels[: len(kept)], kept, skipped


def epoch_size(config: TrainConfig, epoch: int) -> int:
    """Training resolution of an epoch: ramps from start_size to input_size over 75% of epochs."""
    if config.start_size <= 0 or config.start_size >= config.input_size:
        return config.input_size
    ramp = max(1, int(config.epochs * 0.75) - 1)
    t = min(1.0, epoch / ramp)
    size = config.start_size + t * (config.input_size - config.start_size)
    return int(round(size / 8) * 8)


def lr_at(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up then cosine decay to 1% of the peak."""
    total = config.epochs * steps_per_epoch
    warm = config.warmup_epochs * steps_per_epoch
    if step < warm:
        return config.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: np.ndarray, mean, std, device: torch.device,
                   amp: bool, batch: int = 128) -> np.ndarray:
    """Logits for uint8 N x S x S x 3 images (already resized by the shared preprocessing)."""
    model.eval()
    out = []
    for start in range(0, len(images), batch):
        x = to_float(torch.from_numpy(images[start:start + batch]).to(device))
        x = normalize_tensor(x, mean, std).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out.append(model(x).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def _write_metrics(path: Path, history: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def plot_curves(history: list[dict], path: Path) -> None:
    """The original project's learning curves: loss, accuracy, F1; train vs validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, key, title in zip(axes, ("loss", "acc", "f1"), ("Loss", "Accuracy", "Macro-F1")):
        ax.plot(epochs, [h[f"train_{key}"] for h in history], label="train")
        ax.plot(epochs, [h[f"val_{key}"] for h in history], label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _spec_for(config: TrainConfig, classes: list[str], weights: Path, info: dict) -> ModelSpec:
    return ModelSpec(
        name=config.name or f"{config.architecture}_{Path(config.dataset).stem}",
        architecture=config.architecture,
        classes=tuple(classes),
        input_size=config.input_size,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        version=__version__,
        files={"torch": weights.name},
        sha256={"torch": sha256_file(weights)},
        info=info,
    )


def zero_init_classifier(model: torch.nn.Module) -> None:
    """Start from-scratch runs with a zero classifier: uniform predictions, loss log(K)."""
    head = model.get_classifier()
    if isinstance(head, torch.nn.Linear):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)


def init_from(model: torch.nn.Module, init: str, classes: list[str]) -> list[str]:
    """Load starting weights. With a model .json whose classes differ from the run's, the
    classifier rows are carried over by class code and new classes start at zero; returns the
    classes that started from zero."""
    from marrow_desktop.core.model_spec import load_model_spec
    from marrow_desktop.inference.torch_model import read_state_dict

    path = Path(init)
    if path.suffix.lower() != ".json":
        load_weights(model, path, strict=False)
        return []
    spec = load_model_spec(path)
    state = read_state_dict(spec.weight_file("torch"))
    head = model.get_classifier()
    prefix = next(n for n, m in model.named_modules() if m is head)
    new: list[str] = []
    if list(spec.classes) != classes:
        weight, bias = state.pop(f"{prefix}.weight"), state.pop(f"{prefix}.bias")
        rows = torch.zeros(len(classes), weight.shape[1], dtype=weight.dtype)
        biases = torch.zeros(len(classes), dtype=bias.dtype)
        for i, code in enumerate(classes):
            if code in spec.classes:
                j = spec.classes.index(code)
                rows[i], biases[i] = weight[j], bias[j]
            else:
                new.append(code)
                biases[i] = bias.mean()
        state[f"{prefix}.weight"], state[f"{prefix}.bias"] = rows, biases
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items() if k in own},
                          strict=True)
    return new


def _report(y: np.ndarray, logits: np.ndarray, k: int) -> dict[str, float]:
    r = class_report(y, logits.argmax(1), k)
    return {"acc": r.accuracy, "f1": r.macro_f1}


def validation_row(dataset: Dataset, val_idx: list[int], tune: set[int], y_val: np.ndarray,
                   logits: np.ndarray) -> dict[str, float]:
    """Accuracy/macro-F1 on the tune half, the report half and per data set."""
    k = len(dataset.classes)
    is_tune = np.array([i in tune for i in val_idx])
    row: dict[str, float] = {}
    for name, mask in (("tune", is_tune), ("report", ~is_tune)):
        if mask.any():
            for key, value in _report(y_val[mask], logits[mask], k).items():
                row[f"{name}_{key}"] = value
    origins = [dataset.samples[i].origin for i in val_idx]
    for origin in dict.fromkeys(origins):
        if origin:
            mask = np.array([o == origin for o in origins])
            row[f"val_acc_{origin}"] = _report(y_val[mask], logits[mask], k)["acc"]
    return row


def train(config: TrainConfig, resume: bool = False, epochs: int | None = None) -> Path:
    """Run (or resume) a training run; returns the run directory."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "last.pt"
    if resume:
        if not state_path.is_file():
            raise MarrowError(f"{state_path}: nothing to resume")
        config = TrainConfig.from_json(out / "config.json")
        if epochs:
            config.epochs = epochs  # extend (or shorten) a run when resuming
    if config.augment not in PRESETS:
        raise MarrowError(f"unknown augmentation {config.augment!r}; choose "
                          f"{', '.join(PRESETS)}")
    device = resolve_device(config.device)
    ranks = distributed.start(device)  # one process of several under torchrun
    device = distributed.local_device(device, ranks)
    if ranks.main:  # replaced whole: the other processes may be reading it
        (out / "config.json.tmp").write_text(config.to_json())
        (out / "config.json.tmp").replace(out / "config.json")

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    rng = np.random.default_rng(config.seed)
    amp = config.amp == "bf16" or (config.amp == "auto" and device.type == "cuda")
    settings = PRESETS[config.augment]

    dataset, train_idx, val_idx, split_rule = load_run_data(config)
    if not train_idx or not val_idx:
        raise DatasetError(f"{config.dataset}: too few images to split into train and validation")
    if ranks.main:
        write_split(out / "split.csv", dataset, train_idx, val_idx)
        for warning in dataset.warnings:
            print(f"warning: {warning}", file=sys.stderr)

    x_train, y_train, _, skipped = decode_all(dataset, train_idx, config.input_size,
                                              config.max_cache_gb, ranks.main)
    x_val, y_val, kept_val, skipped_val = decode_all(dataset, val_idx, config.input_size,
                                                     config.max_cache_gb, ranks.main)
    val_idx = kept_val  # readable ones, in order
    tune = set(split_halves(dataset, val_idx)[0])
    skipped += skipped_val
    if ranks.main:
        (out / "skipped.txt").write_text("".join(f"{s}\n" for s in skipped), encoding="utf-8")
    if skipped and ranks.main:
        print(f"warning: skipped {len(skipped)} unreadable images (see skipped.txt)",
              file=sys.stderr)
    num_classes = len(dataset.classes)

    model = create_model(config.architecture, num_classes)
    if config.init:
        started_at_zero = init_from(model, config.init, dataset.classes)
        if started_at_zero and not resume and ranks.main:
            print(f"classes new to {config.init} start from zero: "
                  f"{', '.join(started_at_zero)}", file=sys.stderr)
    else:
        zero_init_classifier(model)
    model = model.to(device).to(memory_format=torch.channels_last)
    ema = None
    if config.ema_decay > 0:
        from timm.utils import ModelEmaV3

        ema = ModelEmaV3(model, decay=config.ema_decay, use_warmup=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict] = []
    start_epoch, best_f1 = 0, -1.0
    if resume:
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and "ema" in state:
            ema.module.load_state_dict(state["ema"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "numpy_rng" in state:
            rng.bit_generator.state = state["numpy_rng"]
        history = state["history_rows"] if "history_rows" in state else [
            {k: int(v) if k in ("epoch", "size") else v
             for k, v in zip(state["history_keys"], row)}
            for row in state["history"].tolist()
        ]
        start_epoch, best_f1 = int(state["epoch"]) + 1, float(state["best_f1"])
        if ranks.main:
            print(f"resuming at epoch {start_epoch + 1}", file=sys.stderr)
    net = distributed.wrap(model, ranks, device)  # what the training steps run

    train_images = torch.from_numpy(x_train)
    train_labels = torch.from_numpy(y_train)
    if device.type == "cuda":
        train_images, train_labels = train_images.to(device), train_labels.to(device)
    steps_per_epoch = max(1, len(x_train) // (config.batch_size * ranks.world))
    counts = np.bincount(y_train, minlength=num_classes)
    started = time.time() - (history[-1]["seconds"] if history else 0.0)
    origins = {name: per for name, per in dataset.counts_by_origin().items() if name}

    for epoch in range(start_epoch, config.epochs):
        size = epoch_size(config, epoch)
        model.train()
        if ranks.active:  # each process its share; augmentation seeded by epoch and rank
            order = distributed.epoch_order(len(x_train), epoch, config.seed, ranks)
            generator.manual_seed(config.seed + 7919 * (epoch + 1) + ranks.rank)
            rng = np.random.default_rng([config.seed, epoch, ranks.rank])
        else:
            order = torch.randperm(len(x_train), generator=generator)
        losses, preds, truth = [], [], []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs} @{size}px",
                   unit="batch", file=sys.stderr, leave=False, disable=not ranks.main)
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(config, epoch * steps_per_epoch + step, steps_per_epoch)
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            batch = train_images[idx.to(train_images.device)]
            if settings.jpeg_p > 0:
                batch = torch.from_numpy(jpeg_recode(batch.cpu().numpy(), settings, rng))
            x = to_float(batch.to(device))
            y = train_labels[idx.to(train_labels.device)].to(device)
            x = augment(x, size, generator, settings)
            x = normalize_tensor(x, IMAGENET_MEAN, IMAGENET_STD)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = net(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model, step=epoch * steps_per_epoch + step)
            losses.append(loss.item())
            preds.append(logits.argmax(1).cpu())
            truth.append(y.cpu())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        bar.close()
        if not ranks.main:  # rank 0 validates and writes; the others wait for it
            distributed.barrier(ranks)
            continue
        train_report = class_report(torch.cat(truth).numpy(), torch.cat(preds).numpy(),
                                    num_classes)
        eval_model = ema.module if ema is not None else model
        val_logits = predict_logits(eval_model, x_val, IMAGENET_MEAN, IMAGENET_STD, device, amp)
        val_loss = float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(y_val)))
        val_report = class_report(y_val, val_logits.argmax(1), num_classes)
        row = {
            "epoch": epoch + 1, "size": size, "lr": optimizer.param_groups[0]["lr"],
            "train_loss": float(np.mean(losses)), "train_acc": train_report.accuracy,
            "train_f1": train_report.macro_f1, "val_loss": val_loss,
            "val_acc": val_report.accuracy, "val_f1": val_report.macro_f1,
            **validation_row(dataset, val_idx, tune, y_val, val_logits),
            "seconds": time.time() - started,
        }
        history.append(row)
        per_set = "  ".join(f"{k[8:]} {v:.3f}" for k, v in row.items()
                            if k.startswith("val_acc_"))
        print(
            f"epoch {epoch + 1}/{config.epochs} @{size}px  train loss {row['train_loss']:.3f} "
            f"acc {row['train_acc']:.3f}  val loss {val_loss:.3f} acc {row['val_acc']:.3f} "
            f"F1 {row['val_f1']:.3f} (tune F1 {row.get('tune_f1', float('nan')):.3f})"
            + (f"  [{per_set}]" if per_set else "")
            + f"  [{row['seconds'] / 60:.1f} min]",
            file=sys.stderr, flush=True,
        )
        _write_metrics(out / "metrics.csv", history)
        plot_curves(history, out / "learning_curves.png")
        info = {
            "training": {
                "dataset": str(config.dataset) if len(config.datasets) == 1
                else list(config.datasets),
                "dataset_digest": dataset.digest(),
                **({"class_maps": config.class_maps} if config.class_maps else {}),
                **({"counts_by_dataset": origins} if origins else {}),
                "classes_counts_train": {c: int(n) for c, n in zip(dataset.classes, counts)},
                "train_images": len(x_train), "val_images": len(x_val), "split": split_rule,
                "checkpoint": "best macro-F1 on the tune half of the validation blocks",
                "epochs": epoch + 1, "epochs_planned": config.epochs,
                "input_size": config.input_size, "processes": ranks.world,
                "hardware": (f"{ranks.world} x " if ranks.active else "")
                + hardware_name(device),
                "seconds": round(row["seconds"], 1), "marrow_version": __version__,
                "torch_version": torch.__version__, "config": asdict(config),
            },
            "validation": {"accuracy": val_report.accuracy, "macro_f1": val_report.macro_f1,
                           "balanced_accuracy": val_report.balanced_accuracy,
                           "loss": val_loss, "epoch": epoch + 1,
                           **{k: v for k, v in row.items()
                              if k.startswith(("tune_", "report_", "val_acc_"))}},
        }
        weights = save_weights(eval_model, out / "last.safetensors")
        _spec_for(config, dataset.classes, weights, info).save(out / "last.json")
        chosen_f1 = row.get("tune_f1", val_report.macro_f1)
        if chosen_f1 > best_f1:
            best_f1 = chosen_f1
            weights = save_weights(eval_model, out / "best.safetensors")
            _spec_for(config, dataset.classes, weights, info).save(out / "best.json")
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
            "numpy_rng": rng.bit_generator.state, "epoch": epoch, "best_f1": best_f1,
            "history_rows": history,
        }
        if ema is not None:
            state["ema"] = ema.module.state_dict()
        torch.save(state, out / "last.pt.tmp")
        (out / "last.pt.tmp").replace(state_path)
        distributed.barrier(ranks)
    distributed.stop(ranks)
    return out
