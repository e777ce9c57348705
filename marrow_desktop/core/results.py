"""Per-image results: what the batch runner yields, the store keeps and the reports write."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from marrow_desktop.core.cells import cell_id
from marrow_desktop.core.quality import QualityMetrics


@dataclass
class ImageResult:
    """Outcome for one image: quality metrics and class probabilities, or an error."""

    path: str  # the image file (for a cell found in a field image: that image)
    status: str = "ok"  # "ok" or "error"
    error: str = ""
    content_sha256: str = ""
    model_sha256: str = ""
    classes: tuple[str, ...] = ()
    probabilities: np.ndarray | None = None  # K float32, calibrated
    quality: QualityMetrics | None = None
    from_store: bool = False  # restored instead of computed
    region: str = ""  # the cell's box in the image (core.cells); '' = the whole image
    domain_score: float | None = None  # how unlike the training images (core.domain)
    domain_sha256: str = ""  # the domain statistics the score was computed with
    in_domain: bool | None = None  # score within the statistics' threshold (None: no check)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cell(self) -> str:
        """The cell id (core.cells): content hash, plus the region for part of an image."""
        return cell_id(self.content_sha256, self.region) if self.content_sha256 else ""

    @property
    def classified(self) -> bool:
        return self.ok and self.probabilities is not None

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The k most probable (class code, probability) pairs, best first."""
        if self.probabilities is None:
            return []
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(self.classes[i], float(self.probabilities[i])) for i in order]

    @property
    def predicted_class(self) -> str:
        top = self.top(1)
        return top[0][0] if top else ""

    @property
    def confidence(self) -> float:
        top = self.top(1)
        return top[0][1] if top else float("nan")

    @classmethod
    def failed(cls, path: str, error: str, content_sha256: str = "") -> ImageResult:
        return cls(path=path, status="error", error=error, content_sha256=content_sha256)
