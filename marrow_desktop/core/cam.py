"""Class activation maps from the last feature map and the linear classifier, and overlays.

ReXNet's head is global-average-pool + linear, so Grad-CAM on the last feature map equals CAM:
cam = ReLU(sum_c w[k, c] * F[c]) (the 1/(h*w) gradient factor cancels in the normalisation).
Normalised and resized like pytorch-grad-cam: subtract min, divide by max + 1e-7, cv2.resize.
"""

from __future__ import annotations

import cv2
import numpy as np


def class_activation_map(features: np.ndarray, fc_weight: np.ndarray, class_index: int,
                         size: tuple[int, int] | None = None) -> np.ndarray:
    """CAM in [0, 1] for one image: features C x h x w, fc_weight K x C; size is (width, height)."""
    weights = fc_weight[class_index].astype(np.float32) / (features.shape[1] * features.shape[2])
    cam = np.maximum(np.tensordot(weights, features.astype(np.float32), axes=(0, 0)), 0)
    return normalize_cam(cam, size)


def normalize_cam(cam: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Min-max scale a raw CAM to [0, 1] and resize it, as pytorch-grad-cam does: scale, resize,
    then scale again (bilinear upsampling can miss an interior extremum)."""
    cam = _min_max(cam.astype(np.float32))
    if size is not None:
        cam = _min_max(cv2.resize(cam, size))
    return cam


def _min_max(cam: np.ndarray) -> np.ndarray:
    cam = cam - cam.min()
    return (cam / (1e-7 + cam.max())).astype(np.float32)


def colorize(cam: np.ndarray, colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """CAM in [0, 1] -> H x W x 3 uint8 RGB heat map."""
    heat = cv2.applyColorMap(np.uint8(np.clip(cam, 0, 1) * 255), colormap)
    return cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)


def overlay(rgb: np.ndarray, cam: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """Blend a heat map over an RGB image; cam is resized to the image if needed."""
    if cam.shape[:2] != rgb.shape[:2]:
        cam = cv2.resize(cam, (rgb.shape[1], rgb.shape[0]))
    heat = colorize(cam)
    return cv2.addWeighted(rgb, 1.0 - opacity, heat, opacity, 0)
