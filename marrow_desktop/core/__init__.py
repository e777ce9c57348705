"""Pure Python + numpy/OpenCV/Pillow layer: no Qt, no torch."""
