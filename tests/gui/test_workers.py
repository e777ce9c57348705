"""Workers: results on the GUI thread, stale requests dropped, errors reported, runs cancelled."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.gui.workers import BACKGROUND_NICE, TaskRunner


def test_result_arrives_on_gui_thread(qtbot):
    runner = TaskRunner(2)
    got = []
    runner.submit(lambda: threading.get_ident(),
                  on_result=lambda worker_thread: got.append((worker_thread,
                                                              threading.get_ident())))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    worker_thread, callback_thread = got[0]
    assert worker_thread != threading.get_ident()
    assert callback_thread == threading.get_ident()
    runner.shutdown()


def test_newer_request_makes_older_one_stale(qtbot):
    runner = TaskRunner(2)
    got = []

    def slow(value, ticket):
        time.sleep(0.3)
        return value, ticket.stale

    runner.submit(slow, "old", channel="analysis", pass_ticket=True, on_result=got.append)
    runner.submit(slow, "new", channel="analysis", pass_ticket=True, on_result=got.append)
    qtbot.waitUntil(lambda: runner.pending() == 0, timeout=5000)
    assert got == [("new", False)]  # the old result was dropped, the worker could see it
    runner.shutdown()


def test_errors_reach_the_error_callback(qtbot):
    runner = TaskRunner(1)
    errors = []

    def fail():
        raise ImageLoadError("cell.jpg: corrupt or truncated image")

    def crash():
        raise ZeroDivisionError("division by zero")

    runner.submit(fail, on_error=errors.append)
    runner.submit(crash, on_error=errors.append)
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=5000)
    assert isinstance(errors[0], ImageLoadError)  # the exception itself (gui/errors.py)
    assert str(errors[0]) == "cell.jpg: corrupt or truncated image"
    assert isinstance(errors[1], ZeroDivisionError) and errors[1].__traceback__ is not None
    runner.shutdown()


def test_stream_sends_chunks_and_stops_when_cancelled(qtbot):
    runner = TaskRunner(1)
    chunks, finished, closed = [], [], []

    def numbers():
        try:
            for i in range(10_000):
                time.sleep(0.001)
                yield i
        finally:
            closed.append(True)

    ticket = runner.stream(numbers, on_chunk=chunks.append, on_finished=finished.append,
                           interval=0.05)
    qtbot.waitUntil(lambda: len(chunks) >= 2, timeout=5000)
    ticket.cancel()
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    received = [n for chunk in chunks for n in chunk]
    assert finished == [True]
    assert closed == [True]  # the generator's clean-up ran
    assert received == list(range(len(received))) and len(received) < 10_000
    runner.shutdown()


def test_stream_error_is_reported_and_finishes(qtbot):
    runner = TaskRunner(1)
    chunks, finished, errors = [], [], []

    def broken():
        yield 1
        raise RuntimeError("disk gone")

    runner.stream(broken, on_chunk=chunks.append, on_finished=finished.append,
                  on_error=errors.append)
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    assert chunks == [[1]] and [str(e) for e in errors] == ["disk gone"] and finished == [False]
    runner.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux")
def test_background_threads_run_nicer_than_the_gui_by_a_fixed_step(qtbot):
    """A pool thread that runs many jobs is lowered once: it ends BACKGROUND_NICE above the
    GUI thread, not 5 more per job (which left thumbnail threads at 19, where a thread holding
    the GIL waited behind the batch)."""
    runner = TaskRunner(1, background=True)
    seen = []

    def nice():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    for _ in range(4):
        runner.submit(nice, on_result=seen.append)
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=5000)
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(19, gui + BACKGROUND_NICE)] * 4
    runner.shutdown()
