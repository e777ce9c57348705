"""How a folder run of the viewer ended (the session's batchFinished signal carries it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchSummary:
    """How a folder run ended."""

    total: int
    done: int
    computed: int  # results not restored from the store
    errors: int
    cancelled: bool
    elapsed: float
    quality_only: bool
    error: str = ""
    fields: int = 0  # images that look like field photographs, classified as one cell
    found: int = 0  # cells found in field photographs (field search on)
    searched: int = 0  # field photographs whose cells were found

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0
