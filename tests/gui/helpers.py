"""Waiting helpers for the GUI tests."""

from __future__ import annotations


def wait_listed(qtbot, window, count: int) -> None:
    qtbot.waitUntil(lambda: window.model.total() == count, timeout=15000)


def wait_analysis(qtbot, window, path: str | None = None) -> None:
    """Until the panels show the analysis of the current (or given) image."""
    def ready() -> bool:
        a = window.selection.analysis
        return a is not None and a.path == (path or window.selection.path)
    qtbot.waitUntil(ready, timeout=20000)


def run_batch(qtbot, window, quality_only: bool = False, timeout: int = 60000):
    """Start a folder run and wait for its summary."""
    with qtbot.waitSignal(window.session.batchFinished, timeout=timeout) as blocker:
        if quality_only:
            window.session.classify(quality_only=True)
        else:
            window.folders.classify()
    return blocker.args[0]
