"""Building timm models and loading their weights safely (imports torch: [torch] extra only)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from marrow_desktop.core.errors import ModelFileError


def create_model(architecture: str, num_classes: int) -> torch.nn.Module:
    """A timm model with random weights (nothing is downloaded)."""
    import timm

    try:
        return timm.create_model(architecture, pretrained=False, num_classes=num_classes)
    except RuntimeError as exc:  # timm raises RuntimeError for unknown names
        raise ModelFileError(f"unknown architecture {architecture!r} ({exc})") from exc


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors file, or of a torch checkpoint read with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
                state = state["model"]
    except (SafetensorError, RuntimeError, OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{path}: cannot read weights ({exc})") from exc
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: not a weights file")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_weights(model: torch.nn.Module, path: str | Path, strict: bool = True) -> None:
    """Load weights into model (fp16-stored weights are cast to the model's dtype)."""
    state = read_state_dict(path)
    own = model.state_dict()
    mismatched = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items() if k in own and own[k].shape != v.shape
    ]
    if mismatched:
        raise ModelFileError(
            f"{path}: weights do not fit this model (another architecture or class count?): "
            + "; ".join(mismatched[:3])
        )
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if strict and (missing or unexpected):
        raise ModelFileError(
            f"{path}: weights do not fit this model: {len(missing)} missing, "
            f"{len(unexpected)} unexpected tensors (e.g. {(missing or unexpected)[0]})"
        )
    cast = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    model.load_state_dict(cast, strict=strict)


def save_weights(model: torch.nn.Module, path: str | Path, half: bool = False) -> Path:
    """Save a state dict as safetensors (optionally floating tensors stored as fp16)."""
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu().contiguous()
        if half and value.is_floating_point():
            value = value.half()
        state[key] = value
    save_file(state, str(path))
    Path(path).chmod(0o644)  # safetensors writes owner-only files; models are shared read-only
    return Path(path)
