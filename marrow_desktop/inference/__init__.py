"""Classifier protocol and its backends (ONNX Runtime on CPU, PyTorch on GPU)."""
