"""Thumbnails made on worker threads, on demand, newest request first, kept in an LRU cache.

The view asks only for the items it paints, so a folder of 10,000 images costs one decode per
visible cell. Requests form a bounded stack (last in, first out): while the user scrolls, the
cells now on screen are decoded first and requests for cells scrolled past fall off the bottom.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections import OrderedDict, deque
from io import BytesIO

import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from marrow_desktop.core.cells import box_of, split_cell_path
from marrow_desktop.core.fields import cell_image
from marrow_desktop.core.imageio import MAX_PIXELS, decode_image, read_bytes
from marrow_desktop.gui.workers import lower_thread_priority

THUMB_SIZE = 104


def make_thumbnail(path: str, size: int = THUMB_SIZE) -> QImage:
    """Decode a file to a QImage no larger than size x size with rounded corners.

    JPEGs are decoded at a fraction of their size (DCT scaling). Everything here is Pillow and
    numpy (which release the GIL or are brief), never QPainter, so thumbnail threads do not hold
    up the GUI thread. A cell of a field ('field.jpg#cell=x,y,w,h') is cut from the field as
    the model sees it (core.fields.cell_image).
    """
    source, region = split_cell_path(path)
    if region:
        stat = os.stat(source)
        field = _decoded_field(source, stat.st_size, stat.st_mtime_ns)
        rgb = cell_image(field, box_of(region))  # type: ignore[arg-type]
        image = Image.fromarray(rgb)
        image.thumbnail((size, size), Image.Resampling.BILINEAR)
        return _rounded(np.asarray(image))
    data = read_bytes(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = Image.open(BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ValueError("image too large")
        image.draft("RGB", (size * 2, size * 2))
        image.load()
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            values = np.asarray(image, dtype=np.float64)
            peak = 65535.0 if values.max(initial=0) > 255 else 255.0
            image = Image.fromarray(np.clip(values / peak * 255.0, 0, 255).astype(np.uint8))
        if image.mode != "RGB":
            image = image.convert("RGBA").convert("RGB") if "A" in image.mode else \
                image.convert("RGB")
        image.thumbnail((size, size), Image.Resampling.BILINEAR)
        image = ImageOps.exif_transpose(image) or image  # on the small image: cheap
    return _rounded(np.asarray(image))


@functools.lru_cache(maxsize=2)
def _decoded_field(path: str, size: int, mtime_ns: int) -> np.ndarray:
    """A field photograph decoded once for the thumbnails of all its cells (the two latest
    fields are kept; a changed file is decoded again)."""
    return decode_image(read_bytes(path), path).rgb


@functools.lru_cache(maxsize=16)
def _corner_alpha(height: int, width: int, radius: float = 5.0) -> np.ndarray:
    """H x W x 1 float32 coverage of a rounded rectangle (anti-aliased edges)."""
    y = np.arange(height, dtype=np.float32)[:, None] + 0.5
    x = np.arange(width, dtype=np.float32)[None, :] + 0.5
    dx = np.maximum(np.maximum(radius - x, x - (width - radius)), 0)
    dy = np.maximum(np.maximum(radius - y, y - (height - radius)), 0)
    alpha = np.clip(radius + 0.5 - np.sqrt(dx * dx + dy * dy), 0, 1)
    return alpha[:, :, None].astype(np.float32)


def _rounded(rgb: np.ndarray) -> QImage:
    """Premultiplied RGBA QImage with transparent rounded corners."""
    h, w = rgb.shape[:2]
    alpha = _corner_alpha(h, w)
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[:, :, :3] = (rgb[:, :, :3] * alpha + 0.5).astype(np.uint8)
    rgba[:, :, 3] = (alpha[:, :, 0] * 255 + 0.5).astype(np.uint8)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied).copy()


class _Signals(QObject):
    loaded = Signal(str, QImage)


class _DrainWorker(QRunnable):
    """Decodes requests from the shared stack until it is empty."""

    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader
        self.signals = loader._signals
        self.size = loader.size

    def run(self) -> None:
        lower_thread_priority()
        try:
            while True:
                path = self.loader._pop()
                if path is None:
                    return
                try:
                    image = make_thumbnail(path, self.size)
                except Exception:
                    image = QImage()  # null image: the delegate draws a "cannot read" cell
                try:
                    self.signals.loaded.emit(path, image)
                except RuntimeError:
                    return
        finally:
            self.loader._worker_done()


class ThumbnailLoader(QObject):
    """get(path) returns a cached thumbnail or schedules one; `ready(path)` says it arrived."""

    ready = Signal(str)

    def __init__(self, size: int = THUMB_SIZE, cache_size: int = 1500, threads: int = 2,
                 max_pending: int = 400, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.cache_size = cache_size
        self.max_pending = max_pending
        self.threads = threads
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._signals = _Signals()
        self._signals.loaded.connect(self._on_loaded)
        self._cache: OrderedDict[str, QImage] = OrderedDict()
        self._stack: deque[str] = deque()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._active = 0
        self._closed = False
        self.decoded = 0  # thumbnails made so far (benchmarks and tests)

    def get(self, path: str) -> QImage | None:
        """The thumbnail if cached (a null QImage marks an unreadable file), else None."""
        image = self._cache.get(path)
        if image is not None:
            self._cache.move_to_end(path)
            return image
        self.request(path)
        return None

    def request(self, path: str) -> None:
        if self._closed:
            return
        start = False
        with self._lock:
            if path in self._pending:
                return
            self._pending.add(path)
            self._stack.append(path)
            while len(self._stack) > self.max_pending:
                self._pending.discard(self._stack.popleft())
            if self._active < self.threads:
                self._active += 1
                start = True
        if start:
            self.pool.start(_DrainWorker(self))

    def clear_pending(self) -> None:
        """Forget requests not yet started (the view scrolled; visible cells ask again)."""
        with self._lock:
            self._stack.clear()
            self._pending.clear()

    def clear(self) -> None:
        """Drop the cache and the queue (another folder was opened)."""
        self.clear_pending()
        self._cache.clear()

    def cached(self) -> int:
        return len(self._cache)

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self._closed = True
        self.clear_pending()
        self.pool.waitForDone(timeout_ms)

    # worker side -----------------------------------------------------------------------------
    def _pop(self) -> str | None:
        with self._lock:
            return self._stack.pop() if self._stack else None

    def _worker_done(self) -> None:
        with self._lock:
            self._active -= 1
            restart = bool(self._stack) and not self._closed
            if restart:
                self._active += 1
        if restart:  # a request slipped in between the last pop and this exit
            self.pool.start(_DrainWorker(self))

    @Slot(str, QImage)
    def _on_loaded(self, path: str, image: QImage) -> None:
        with self._lock:
            self._pending.discard(path)
        if self._closed:
            return
        self.decoded += 1
        self._cache[path] = image
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        self.ready.emit(path)
