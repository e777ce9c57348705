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
    fields: int = 0  # images that look like smear-field photographs (core.fields)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0
