"""marrow-desktop: offline bone-marrow cell classification for haematology labs."""

import os as _os

# One OpenBLAS thread (numpy's and OpenCV's), set before either loads: the matrices here are
# small, and an idle OpenBLAS worker spins at normal priority. During a viewer's batch it took
# a core from the GUI thread and the model (viewer batch 45-47 images/s against 38-40);
# a value set by the user wins.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
