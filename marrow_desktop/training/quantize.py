"""int8 static quantisation (QDQ, per-channel) of an exported model, kept only if it stays accurate.

The exported fp32 graph is pre-processed (shape inference, Conv+BN fusion, fp16 initializers
folded back to fp32), calibrated with min/max ranges on real images, and quantised with uint8
activations and int8 per-channel weights. The classifier (Gemm) stays in fp32, so the logits and
the classifier_weight output used for CAM are unchanged; all three outputs keep their names.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from marrow_desktop.core.errors import ImageLoadError, MarrowError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import ModelSpec, load_model_spec
from marrow_desktop.core.preprocess import preprocess
from marrow_desktop.inference.onnx_backend import OUTPUTS
from marrow_desktop.training.dataset import Dataset, Sample
from marrow_desktop.training.loading import evenly_spaced, load_sample

#: int8 is kept only when its accuracy is at most this many points below fp32.
MAX_ACCURACY_DROP = 0.5


@dataclass(frozen=True)
class QuantizeResult:
    """Outcome of one quantisation attempt."""

    spec: ModelSpec | None  # the int8 model, None when it was discarded
    fp32_accuracy: float
    int8_accuracy: float
    images: int
    size_mb: float

    @property
    def kept(self) -> bool:
        return self.spec is not None


def calibration_samples(dataset: Dataset, count: int, exclude: set[str] = frozenset()
                        ) -> list[Sample]:
    """About `count` samples spread evenly over every class (skipping `exclude` file names)."""
    per_class = max(1, count // max(1, len(dataset.classes)))
    out: list[Sample] = []
    for label in range(len(dataset.classes)):
        mine = [s for s in dataset.samples
                if s.label == label and Path(s.source).name not in exclude]
        out += evenly_spaced(mine, per_class)
    return out


def _images(samples: Sequence[Sample]) -> list[np.ndarray]:
    images = []
    for sample in samples:
        try:
            images.append(load_sample(sample).rgb)
        except ImageLoadError:
            continue
    if not images:
        raise MarrowError("no readable calibration images")
    return images


class _Reader(CalibrationDataReader):
    """Preprocessed batches for ORT's strided min/max calibration (one batch per stride, so
    the calibrator never holds more than one batch of intermediate tensors)."""

    def __init__(self, images: list[np.ndarray], spec: ModelSpec, input_name: str,
                 batch: int = 8) -> None:
        self.batches = [images[i:i + batch] for i in range(0, len(images), batch)]
        self.spec, self.input_name = spec, input_name
        self.position, self.end = 0, len(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.position, self.end = start_index, min(end_index, len(self.batches))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= self.end:
            return None
        batch = self.batches[self.position]
        self.position += 1
        return {self.input_name: preprocess(batch, self.spec)}


def _fp32_graph(onnx_path: Path, work: Path) -> Path:
    """The export with its fp16 initializers folded back to fp32 and Conv+BN fused."""
    import onnx
    from onnxruntime.quantization import quant_pre_process

    model = onnx.load(str(onnx_path))
    out = work / "pre.onnx"
    quant_pre_process(model, str(out), skip_symbolic_shape=True)
    return out


def quantize_model(spec: ModelSpec, out: str | Path, calibration: Sequence[Sample],
                   validation: Sequence[Sample], labels: np.ndarray,
                   max_drop: float = MAX_ACCURACY_DROP) -> QuantizeResult:
    """Write OUT.onnx + OUT.json (int8) when its accuracy on `validation` (model class indices
    `labels`) stays within `max_drop` points of the fp32 model; otherwise write nothing."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from marrow_desktop.inference.onnx_backend import OnnxClassifier
    from marrow_desktop.training.evaluate import collect_logits
    from marrow_desktop.training.export import _embed_metadata

    out = Path(out).with_suffix(".onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    source = spec.weight_file("onnx")
    images = _images(calibration)
    with tempfile.TemporaryDirectory() as tmp:
        pre = _fp32_graph(source, Path(tmp))
        graph = onnx.load(str(pre)).graph
        head = [n.name for n in graph.node if OUTPUTS[0] in n.output]
        quantize_static(
            str(pre), str(out), _Reader(images, spec, graph.input[0].name),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=head,
            extra_options={"CalibStridedMinMax": 1},
        )
    draft = spec.with_updates(files={"onnx": out.name}, sha256={"onnx": sha256_file(out)},
                              path=out.with_suffix(".json"))
    accuracies = []
    for model in (spec, draft):
        logits, kept, _ = collect_logits(OnnxClassifier(model), validation, show_progress=False)
        accuracies.append(float((logits[0].argmax(1) == labels[kept]).mean()))
    fp32_acc, int8_acc = accuracies
    size_mb = out.stat().st_size / 1e6
    if (fp32_acc - int8_acc) * 100 > max_drop:
        out.unlink()
        return QuantizeResult(None, fp32_acc, int8_acc, len(validation), size_mb)
    int8 = spec.with_updates(name=f"{spec.name}-int8", files={}, sha256={}, path=None,
                             info={**spec.info, "quantization": {
                                 "method": "onnxruntime static QDQ, per-channel int8 weights, "
                                 "uint8 activations, min/max calibration",
                                 "source": source.name, "calibration_images": len(images),
                                 "validation_images": len(validation),
                                 "fp32_accuracy": fp32_acc, "int8_accuracy": int8_acc}})
    _embed_metadata(out, int8)
    int8 = int8.with_updates(files={"onnx": out.name}, sha256={"onnx": sha256_file(out)})
    sidecar = int8.save(out.with_suffix(".json"))
    return QuantizeResult(load_model_spec(sidecar), fp32_acc, int8_acc, len(validation), size_mb)
