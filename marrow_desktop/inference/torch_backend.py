"""PyTorch backend (GPU when available): timm model + pytorch-grad-cam's GradCAM."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from marrow_desktop.core.domain import colour_features, load_model_domain
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.head import LabHeads
from marrow_desktop.core.metrics import softmax
from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.preprocess import preprocess, resize_to_input
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
        self.heads: LabHeads | None = None
        if "head" in spec.files:  # an adapted model: a head per lab, cells routed to labs
            self.heads = LabHeads.load(spec.weight_file("head", verify=verify), spec.num_classes,
                                       model.get_classifier().weight.shape[1])
        self.model = model.to(self.device).eval()
        self.domain, self.domain_error = load_model_domain(spec)

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return f"GPU ({torch.cuda.get_device_name(self.device)}, PyTorch {torch.__version__})"
        return f"CPU (PyTorch {torch.__version__}, {torch.get_num_threads()} threads)"

    def _tensor(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(preprocess(images, self.spec)).to(self.device)

    def _colours(self, images: Sequence[np.ndarray]) -> np.ndarray:
        s = self.spec
        return colour_features([resize_to_input(i, s.input_size, s.interpolation) for i in images])

    @torch.inference_mode()
    def _pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logits (routed lab heads for an adapted model) and pooled features."""
        features = self.model.forward_features(self._tensor(images))
        pooled = self.model.forward_head(features, pre_logits=True)
        if self.heads is not None:
            flat = pooled.float().cpu().numpy()
            return self.heads.logits(flat, self._colours(images)), flat
        logits = self.model.get_classifier()(pooled)
        return logits.float().cpu().numpy(), pooled.float().cpu().numpy()

    @torch.inference_mode()
    def logits(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if self.heads is not None:
            return self._pooled(images)[0]
        return self.model(self._tensor(images)).float().cpu().numpy()

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.spec.num_classes), np.float32)
        return softmax(self.logits(images), self.spec.temperature)

    def predict_pooled(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if not len(images):
            width = self.model.get_classifier().weight.shape[1]
            return (np.zeros((0, self.spec.num_classes), np.float32),
                    np.zeros((0, width), np.float32))
        logits, pooled = self._pooled(images)
        return softmax(logits, self.spec.temperature), pooled

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        probs = self.predict([image])[0]
        index = int(np.argmax(probs)) if class_index is None else int(class_index)
        if self.heads is not None:  # the routed lab's head in the linear layer for this map
            _, pooled = self._pooled([image])
            lab = int(self.heads.routes(pooled, self._colours([image]))[0])
            fc = self.model.get_classifier()
            with torch.no_grad():
                fc.weight.copy_(torch.from_numpy(self.heads.weight[lab]).to(fc.weight))
                fc.bias.copy_(torch.from_numpy(self.heads.bias[lab]).to(fc.bias))
        # a GradCAM per call, as a context manager: its hooks are removed on exit (a cached
        # one kept copying the activations of every later predict() batch)
        with GradCAM(model=self.model, target_layers=[cam_target_layer(self.model)]) as grad_cam:
            cam = grad_cam(input_tensor=self._tensor([image]),
                           targets=[ClassifierOutputTarget(index)])[0]
        return Explanation(probs, index, np.asarray(cam, dtype=np.float32))
