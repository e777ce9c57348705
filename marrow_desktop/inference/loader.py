"""Choosing and loading a backend: `--backend auto|onnx|torch`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.model_spec import ModelSpec, load_model_spec
from marrow_desktop.core.paths import default_model_path
from marrow_desktop.inference.classifier import Classifier

BACKENDS = ("auto", "onnx", "torch")


def torch_installed() -> bool:
    """True when the [torch] extra is importable (checked without importing torch)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "timm"))


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA GPU (imports torch)."""
    if not torch_installed():
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_backend(backend: str, spec: ModelSpec) -> str:
    """auto: PyTorch on a CUDA GPU when torch is installed and the model has torch weights,
    else ONNX Runtime on the CPU."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if "torch" in spec.files and cuda_available():
        return "torch"
    return "onnx"


def load_classifier(model: str | Path | None = None, backend: str = "auto",
                    threads: int | None = None) -> Classifier:
    """Load a model (default: the bundled one) with the requested backend."""
    spec = load_model_spec(model or default_model_path())
    chosen = resolve_backend(backend, spec)
    if chosen == "torch":
        if not torch_installed():
            raise ModelFileError(
                "the PyTorch backend needs the [torch] extra: pip install 'marrow-desktop[torch]'"
            )
        from marrow_desktop.inference.torch_backend import TorchClassifier

        return TorchClassifier(spec)
    from marrow_desktop.inference.onnx_backend import OnnxClassifier

    return OnnxClassifier(spec, threads=threads)
