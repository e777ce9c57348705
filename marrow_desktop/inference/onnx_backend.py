"""ONNX Runtime backend for CPUs: batched inference and CAM computed in numpy, no torch."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from marrow_desktop.core.cam import class_activation_map
from marrow_desktop.core.domain import load_model_domain
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.head import LinearHead
from marrow_desktop.core.metrics import softmax
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.preprocess import preprocess
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
        logits, _, weight = self.session.run(None, {self.input_name: probe})
        if logits.shape[1] != spec.num_classes:
            raise ModelFileError(
                f"{path}: model has {logits.shape[1]} outputs, metadata lists "
                f"{spec.num_classes} classes"
            )
        self.head: LinearHead | None = None
        if "head" in spec.files:
            self.head = LinearHead.load(spec.weight_file("head", verify=verify), spec.num_classes,
                                        weight.shape[1])
        self.fc_weight = self.head.weight if self.head else np.asarray(weight, np.float32)
        self.domain, self.domain_error = load_model_domain(spec)

    @property
    def device_name(self) -> str:
        return f"CPU (ONNX Runtime {ort.__version__}, {self.threads} threads)"

    def run(self, batch: np.ndarray, with_features: bool = False) -> tuple[np.ndarray, ...]:
        """Raw session call on a preprocessed N x 3 x S x S batch: logits (and features)."""
        wanted = list(OUTPUTS[:2]) if with_features else [OUTPUTS[0]]
        return tuple(self.session.run(wanted, {self.input_name: batch}))

    def _logits(self, batch: np.ndarray, pooled: bool) -> tuple[np.ndarray, np.ndarray | None,
                                                                np.ndarray | None]:
        """Logits (of the refitted head where the model has one), and with pooled=True the
        pooled features and the feature map."""
        if self.head is None and not pooled:
            return self.run(batch)[0], None, None
        logits, features = self.run(batch, with_features=True)
        mean = features.mean(axis=(2, 3), dtype=np.float32)
        if self.head is not None:
            logits = self.head.logits(mean)
        return logits, mean, features

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.spec.num_classes), np.float32)
        logits, _, _ = self._logits(preprocess(images, self.spec), pooled=False)
        return softmax(logits, self.spec.temperature)

    def predict_pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if not len(images):
            return (np.zeros((0, self.spec.num_classes), np.float32),
                    np.zeros((0, self.fc_weight.shape[1]), np.float32))
        logits, pooled, _ = self._logits(preprocess(images, self.spec), pooled=True)
        assert pooled is not None
        return softmax(logits, self.spec.temperature), pooled

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        logits, _, features = self._logits(preprocess([image], self.spec), pooled=True)
        assert features is not None
        probs = softmax(logits, self.spec.temperature)[0]
        index = int(np.argmax(probs)) if class_index is None else int(class_index)
        size = (self.spec.input_size, self.spec.input_size)
        cam = class_activation_map(features[0], self.fc_weight, index, size)
        return Explanation(probs, index, cam)
