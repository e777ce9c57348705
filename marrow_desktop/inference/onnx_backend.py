"""ONNX Runtime backend for CPUs: batched inference and CAM computed in numpy, no torch."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from marrow_desktop.core.cam import class_activation_map
from marrow_desktop.core.domain import colour_features, load_model_domain
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.head import LabHeads
from marrow_desktop.core.metrics import softmax
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.preprocess import normalize, resize_to_input
from marrow_desktop.inference.classifier import Explanation

OUTPUTS = ("logits", "features", "classifier_weight")


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """CPU session settings: all graph optimisations, intra-op threads = cores, sequential,
    no spin-waiting."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Memory patterns are planned per input shape (batch N, batch 1 for CAM, the last partial
    # batch) and kept: off, a session holds ~100 MB less at no measurable speed cost.
    options.enable_mem_pattern = False
    # idle worker threads sleep instead of spinning: the decode thread, the GUI and other work
    # get the cores between runs (measured on a busy 2-core machine: 1.6x the images/s)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxClassifier:
    """Classifier backed by an exported two-output (logits, features) ONNX graph."""

    backend = "onnx"

    def __init__(self, spec: ModelSpec, threads: int | None = None, verify: bool = True) -> None:
        self.spec = spec
        path = spec.weight_file("onnx", verify=verify)
        self.threads = threads or os.cpu_count() or 1
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=session_options(self.threads),
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelFileError(f"{path}: ONNX Runtime cannot load the model ({exc})") from exc
        names = [o.name for o in self.session.get_outputs()]
        if names[:3] != list(OUTPUTS):
            raise ModelFileError(f"{path}: expected outputs {OUTPUTS}, found {names}")
        self.input_name = self.session.get_inputs()[0].name
        probe = np.zeros((1, 3, spec.input_size, spec.input_size), np.float32)
        try:
            logits, _, weight = self.session.run(None, {self.input_name: probe})
        except Exception as exc:  # onnxruntime's own exception types
            shape = self.session.get_inputs()[0].shape
            raise ModelFileError(
                f"{path}: the graph takes input {shape}, the metadata says input_size "
                f"{spec.input_size} ({type(exc).__name__})") from exc
        if logits.shape[1] != spec.num_classes:
            raise ModelFileError(
                f"{path}: model has {logits.shape[1]} outputs, metadata lists "
                f"{spec.num_classes} classes"
            )
        self.fc_weight = np.asarray(weight, np.float32)
        self.heads: LabHeads | None = None
        if "head" in spec.files:  # an adapted model: a head per lab, cells routed to labs
            self.heads = LabHeads.load(spec.weight_file("head", verify=verify),
                                       spec.num_classes, self.fc_weight.shape[1])
        self.domain, self.domain_error = load_model_domain(spec)

    @property
    def device_name(self) -> str:
        return f"CPU (ONNX Runtime {ort.__version__}, {self.threads} threads)"

    def run(self, batch: np.ndarray, with_features: bool = False) -> tuple[np.ndarray, ...]:
        """Raw session call on a preprocessed N x 3 x S x S batch: logits (and features)."""
        wanted = list(OUTPUTS[:2]) if with_features else [OUTPUTS[0]]
        return tuple(self.session.run(wanted, {self.input_name: batch}))

    def _forward(self, images: Sequence[np.ndarray], pooled: bool,
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Logits (through the routed lab heads of an adapted model), and when asked the pooled
        features, the feature map and the images' colours (core.domain)."""
        spec = self.spec
        resized = [resize_to_input(img, spec.input_size, spec.interpolation) for img in images]
        batch = normalize(np.stack(resized), spec.mean, spec.std)
        if self.heads is None and not pooled:
            return self.run(batch)[0], None, None, None
        logits, features = self.run(batch, with_features=True)
        mean = features.mean(axis=(2, 3), dtype=np.float32)
        colours = colour_features(resized)
        if self.heads is not None:
            logits = self.heads.logits(mean, colours)
        return logits, mean, features, colours

    def logits(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Logits before the temperature."""
        return self._forward(images, pooled=False)[0]

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.spec.num_classes), np.float32)
        return softmax(self.logits(images), self.spec.temperature)

    def predict_pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if not len(images):
            return (np.zeros((0, self.spec.num_classes), np.float32),
                    np.zeros((0, self.fc_weight.shape[1]), np.float32))
        logits, pooled, _, _ = self._forward(images, pooled=True)
        assert pooled is not None
        return softmax(logits, self.spec.temperature), pooled

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        logits, pooled, features, colours = self._forward([image], pooled=True)
        assert features is not None and pooled is not None and colours is not None
        probs = softmax(logits, self.spec.temperature)[0]
        weight = self.fc_weight
        if self.heads is not None:
            weight = self.heads.weight_for(int(self.heads.routes(pooled, colours)[0]))
        index = int(np.argmax(probs)) if class_index is None else int(class_index)
        size = (self.spec.input_size, self.spec.input_size)
        cam = class_activation_map(features[0], weight, index, size)
        return Explanation(probs, index, cam)
