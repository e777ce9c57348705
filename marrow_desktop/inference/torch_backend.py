"""PyTorch backend (GPU when available): timm model + pytorch-grad-cam's GradCAM."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from marrow_desktop.core.domain import load_model_domain
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.head import LinearHead
from marrow_desktop.core.metrics import softmax
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.preprocess import preprocess
from marrow_desktop.inference.classifier import Explanation
from marrow_desktop.inference.torch_model import create_model, load_weights


def cam_target_layer(model: torch.nn.Module) -> torch.nn.Module:
    """The last feature block (its output is what the pooled classifier sees)."""
    features = getattr(model, "features", None)
    if isinstance(features, torch.nn.Sequential) and len(features):
        return features[-1]
    raise ModelFileError(f"{type(model).__name__}: no 'features' block to compute Grad-CAM on")


class TorchClassifier:
    """Classifier running a timm model in fp32 on CUDA (or the CPU when asked)."""

    backend = "torch"

    def __init__(self, spec: ModelSpec, device: str = "auto", verify: bool = True) -> None:
        self.spec = spec
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        model = create_model(spec.architecture, spec.num_classes)
        load_weights(model, spec.weight_file("torch", verify=verify))
        if "head" in spec.files:  # a head refitted to a lab's cells replaces the linear layer
            fc = model.get_classifier()
            head = LinearHead.load(spec.weight_file("head", verify=verify), spec.num_classes,
                                   fc.weight.shape[1])
            with torch.no_grad():
                fc.weight.copy_(torch.from_numpy(head.weight))
                fc.bias.copy_(torch.from_numpy(head.bias))
        self.model = model.to(self.device).eval()
        self.domain, self.domain_error = load_model_domain(spec)

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return f"GPU ({torch.cuda.get_device_name(self.device)}, PyTorch {torch.__version__})"
        return f"CPU (PyTorch {torch.__version__}, {torch.get_num_threads()} threads)"

    def _tensor(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(preprocess(images, self.spec)).to(self.device)

    @torch.inference_mode()
    def logits(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.model(self._tensor(images)).float().cpu().numpy()

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.spec.num_classes), np.float32)
        return softmax(self.logits(images), self.spec.temperature)

    @torch.inference_mode()
    def predict_pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if not len(images):
            width = self.model.get_classifier().weight.shape[1]
            return (np.zeros((0, self.spec.num_classes), np.float32),
                    np.zeros((0, width), np.float32))
        features = self.model.forward_features(self._tensor(images))
        pooled = self.model.forward_head(features, pre_logits=True)
        logits = self.model.get_classifier()(pooled)
        return (softmax(logits.float().cpu().numpy(), self.spec.temperature),
                pooled.float().cpu().numpy())

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        probs = self.predict([image])[0]
        index = int(np.argmax(probs)) if class_index is None else int(class_index)
        # a GradCAM per call, as a context manager: its hooks are removed on exit (a cached
        # one kept copying the activations of every later predict() batch)
        with GradCAM(model=self.model, target_layers=[cam_target_layer(self.model)]) as grad_cam:
            cam = grad_cam(input_tensor=self._tensor([image]),
                           targets=[ClassifierOutputTarget(index)])[0]
        return Explanation(probs, index, np.asarray(cam, dtype=np.float32))
