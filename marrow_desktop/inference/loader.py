"""Choosing and loading a backend: `--backend auto|onnx|torch`, one resolver for the CLI and the
GUI. Deciding never imports torch (which costs seconds and hundreds of MB on a PC without GPU).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import sys
from pathlib import Path

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.model_spec import ModelSpec, load_model_spec
from marrow_desktop.core.paths import default_model_path
from marrow_desktop.inference.classifier import Classifier

BACKENDS = ("auto", "onnx", "torch")
log = logging.getLogger(__name__)


def torch_installed() -> bool:
    """True when the [torch] extra is importable (checked without importing torch)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "timm"))


def nvidia_driver_present() -> bool:
    """A CUDA-capable NVIDIA driver is installed (checked without importing torch)."""
    if sys.platform.startswith("linux"):
        return Path("/proc/driver/nvidia/version").exists()
    if sys.platform == "win32":
        system = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        return (system / "nvcuda.dll").exists()
    return shutil.which("nvidia-smi") is not None


def torch_build_has_cuda() -> bool:
    """The installed torch was built with CUDA (read from torch/version.py, not imported)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return False
    try:
        text = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
    except OSError:
        return False
    match = re.search(r"^cuda\b[^=]*=\s*(.+)$", text, re.MULTILINE)
    return bool(match) and match.group(1).strip() not in ("None", "''", '""')


def gpu_usable() -> bool:
    """torch + timm installed, a CUDA build of torch, and an NVIDIA driver."""
    return torch_installed() and torch_build_has_cuda() and nvidia_driver_present()


def resolve_backend(backend: str, spec: ModelSpec) -> str:
    """auto: PyTorch when the model has PyTorch weights and a usable NVIDIA GPU is present (see
    gpu_usable), else ONNX Runtime on the CPU; onnx/torch as asked."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if spec.has_weights("torch") and gpu_usable():
        return "torch"
    return "onnx"


def load_classifier(model: str | Path | None = None, backend: str = "auto",
                    threads: int | None = None) -> Classifier:
    """Load a model (default: the bundled one) with the requested backend.

    With auto, a GPU that torch then cannot use (an old driver, say) falls back to the CPU.
    """
    spec = load_model_spec(model or default_model_path())
    chosen = resolve_backend(backend, spec)
    if chosen == "torch":
        if not torch_installed():
            raise ModelFileError(
                "the PyTorch backend needs the [torch] extra: pip install 'marrow-desktop[torch]'"
            )
        from marrow_desktop.inference.torch_backend import TorchClassifier

        classifier = TorchClassifier(spec)
        if backend == "auto" and classifier.device.type != "cuda" and spec.has_weights("onnx"):
            log.info("torch sees no CUDA device; using ONNX Runtime on the CPU")
        else:
            return classifier
    from marrow_desktop.inference.onnx_backend import OnnxClassifier

    return OnnxClassifier(spec, threads=threads)
