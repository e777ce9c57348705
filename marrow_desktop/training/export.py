"""`marrow export`: checkpoint -> ONNX graph (logits, features, classifier weight) + sidecar.

Weights are stored in fp16 in both the ONNX graph and the safetensors file (half the size) and
cast to fp32 at load, so both backends compute in fp32 with identical weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import ModelSpec, load_model_spec
from marrow_desktop.inference.onnx_backend import OUTPUTS
from marrow_desktop.inference.torch_model import create_model, load_weights, save_weights

PARITY_TOLERANCE = 1e-4


class _CamGraph(torch.nn.Module):
    """Wraps a timm classifier to also output its last feature map and classifier weight."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(x)
        logits = self.model.forward_head(features)
        return logits, features, self.model.get_classifier().weight * 1.0


def _finish_graph(path: Path) -> None:
    """Name the classifier-weight output and store float32 weights as float16 initializers
    followed by a Cast back to float32 (ONNX Runtime folds the casts at load)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weight_output = graph.output[2]
    if weight_output.name != OUTPUTS[2]:  # the exporter folds the weight into a constant
        graph.node.append(helper.make_node("Identity", [weight_output.name], [OUTPUTS[2]]))
        weight_output.name = OUTPUTS[2]
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or len(init.dims) == 0:
            continue
        values = numpy_helper.to_array(init)
        if values.size < 16:
            continue
        half = numpy_helper.from_array(values.astype(np.float16), init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "_to_fp32"))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _embed_metadata(path: Path, spec: ModelSpec) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "marrow_model_spec", json.dumps(spec.to_dict())
    model.doc_string = f"{spec.name}: {spec.architecture}, classes {','.join(spec.classes)}"
    onnx.save(model, str(path))


def export_onnx(checkpoint: str | Path, out: str | Path, parity_images: list[np.ndarray],
                name: str | None = None, opset: int = 17) -> tuple[ModelSpec, float]:
    """Export a training checkpoint (best.json/.safetensors) as NAME.onnx + NAME.safetensors +
    NAME.json beside `out`; returns the new spec and the max probability difference to PyTorch."""
    source = load_model_spec(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    model = create_model(source.architecture, source.num_classes)
    load_weights(model, source.weight_file("torch"))
    model = model.half().float().eval()  # the shipped values: fp16-rounded, computed in fp32
    weights_path = save_weights(model, stem.with_suffix(".safetensors"), half=True)

    onnx_path = stem.with_suffix(".onnx")
    dummy = torch.zeros(1, 3, source.input_size, source.input_size)
    # PRESERVE (model in eval mode) keeps BatchNorm unfused: folding it into the convolutions
    # here and then rounding the fused weights to fp16 moved logits by ~4e-3 on a trained model;
    # ONNX Runtime fuses Conv+BN itself, in fp32, when it loads the graph.
    torch.onnx.export(
        _CamGraph(model).eval(), (dummy,), str(onnx_path), input_names=["image"],
        output_names=list(OUTPUTS), opset_version=opset, dynamo=False,
        do_constant_folding=False,  # keep BN separate: folded weights would not be fp16-exact
        training=torch.onnx.TrainingMode.PRESERVE,
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
    )
    _finish_graph(onnx_path)
    spec = source.with_updates(name=name or stem.name, files={}, sha256={}, path=None)
    _embed_metadata(onnx_path, spec)
    spec = spec.with_updates(
        files={"onnx": onnx_path.name, "torch": weights_path.name},
        sha256={"onnx": sha256_file(onnx_path), "torch": sha256_file(weights_path)},
    )
    sidecar = spec.save(stem.with_suffix(".json"))
    spec = load_model_spec(sidecar)
    diff = parity(spec, parity_images)
    if diff > PARITY_TOLERANCE:
        raise MarrowError(f"export parity failed: max probability difference {diff:.2e} "
                          f"between ONNX Runtime and PyTorch (limit {PARITY_TOLERANCE:.0e})")
    return spec, diff


def parity(spec: ModelSpec, images: list[np.ndarray]) -> float:
    """Max absolute probability difference between the ONNX and PyTorch backends."""
    from marrow_desktop.inference.onnx_backend import OnnxClassifier
    from marrow_desktop.inference.torch_backend import TorchClassifier

    if not images:
        raise MarrowError("parity check needs at least one image")
    onnx_probs = OnnxClassifier(spec).predict(images)
    torch_probs = TorchClassifier(spec, device="cpu").predict(images)
    return float(np.abs(onnx_probs - torch_probs).max())


def copy_model(spec: ModelSpec, folder: str | Path) -> Path:
    """Copy a model's sidecar and weight files into another folder; returns the new sidecar."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    assert spec.path is not None
    for file in spec.files.values():
        shutil.copy2(spec.path.parent / file, folder / file)
    return Path(shutil.copy2(spec.path, folder / spec.path.name))
