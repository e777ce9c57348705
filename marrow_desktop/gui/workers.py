"""Work off the GUI thread: QRunnable workers on a QThreadPool, reporting through a signals QObject.

Every job gets a Ticket. Jobs submitted on a *channel* (say "analysis") make the channel's older
jobs stale: a stale job that has not started is skipped, a running one may check `ticket.stale`
and stop early, and whatever a stale job returns is dropped, so the GUI only ever shows the answer
to the newest request (napari's habit). Generator jobs (superqt's habit) yield results that are
sent to the GUI in chunks and stop between yields when cancelled.

Callbacks always run on the GUI thread: workers emit a signal of the runner, which lives there.
Failures reach `on_error` as the exception object itself (gui/errors.py decides how to show it:
expected errors on the status line and in the message log, unexpected ones in a dialog and in
the log file, with their traceback).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from marrow_desktop.core.errors import MarrowError

log = logging.getLogger(__name__)

_RESULT, _ERROR, _DROPPED, _CHUNK, _FINISHED = range(5)


def describe_error(exc: BaseException) -> str:
    """A one-line message for the status bar (user-facing errors verbatim, others with type)."""
    if isinstance(exc, MarrowError):
        return str(exc)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if str(exc) else text


#: How much nicer than the GUI thread background work runs (Linux nice steps). At 5, the GUI
#: thread waited 1.1-1.2 s for a core in a 20 s batch on 2 cores; at 10, 0.8 s
#: (benchmarks/bench_gui.py).
BACKGROUND_NICE = 10


def lower_thread_priority() -> None:
    """Run the calling worker thread below the GUI thread.

    Linux: a per-thread nice value, BACKGROUND_NICE above the main thread's (threads this one
    starts, such as ONNX Runtime's pool or the batch decoder, inherit it). An absolute value,
    so a pool thread that runs many jobs is not lowered again with each. Windows/macOS: QThread
    priorities. The GUI thread keeps its priority, so the window stays responsive while every
    core is busy with a folder run.
    """
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + BACKGROUND_NICE)
            if os.getpriority(os.PRIO_PROCESS, tid) < target:
                os.setpriority(os.PRIO_PROCESS, tid, target)
        else:
            thread = QThread.currentThread()
            if thread is not None and thread.priority() != QThread.Priority.LowPriority:
                thread.setPriority(QThread.Priority.LowPriority)
    except (OSError, AttributeError, RuntimeError):
        log.debug("could not lower the priority of a worker thread", exc_info=True)


class Ticket:
    """Identity of one job; `stale` turns true when cancelled or superseded on its channel."""

    __slots__ = ("_latest", "cancelled", "channel", "job_id")

    def __init__(self, job_id: int, channel: str | None, latest: dict[str, int]) -> None:
        self.job_id = job_id
        self.channel = channel
        self.cancelled = False
        self._latest = latest

    @property
    def stale(self) -> bool:
        if self.cancelled:
            return True
        return self.channel is not None and self._latest.get(self.channel) != self.job_id

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class _Job:
    ticket: Ticket
    on_result: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None
    on_chunk: Callable[[list], None] | None = None
    on_finished: Callable[[bool], None] | None = None


class _Signals(QObject):
    """Emitted from worker threads, delivered (queued) to the runner on the GUI thread."""

    event = Signal(int, int, object)  # job id, kind, payload


class _FunctionWorker(QRunnable):
    def __init__(self, signals: _Signals, ticket: Ticket, fn: Callable, args: tuple,
                 kwargs: dict, background: bool = False) -> None:
        super().__init__()
        self.signals, self.ticket, self.fn, self.args, self.kwargs = (
            signals, ticket, fn, args, kwargs)
        self.background = background

    def run(self) -> None:
        if self.background:
            lower_thread_priority()
        job = self.ticket.job_id
        if self.ticket.stale:
            self._emit(job, _DROPPED, None)
            return
        try:
            value = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            self._emit(job, _ERROR, exc)
        else:
            self._emit(job, _RESULT, value)

    def _emit(self, job: int, kind: int, payload: object) -> None:
        # RuntimeError: the runner was deleted while we worked, nobody is listening
        with contextlib.suppress(RuntimeError):
            self.signals.event.emit(job, kind, payload)


class _GeneratorWorker(_FunctionWorker):
    """Iterates a generator; sends what it yields in chunks (every `interval` s or `max_chunk`)."""

    def __init__(self, signals: _Signals, ticket: Ticket, fn: Callable[..., Iterator], args: tuple,
                 kwargs: dict, interval: float, max_chunk: int, background: bool = False,
                 min_chunk: int = 1) -> None:
        super().__init__(signals, ticket, fn, args, kwargs, background)
        self.interval = interval
        self.max_chunk = max_chunk
        self.min_chunk = min_chunk

    def run(self) -> None:
        if self.background:
            lower_thread_priority()
        job = self.ticket.job_id
        cancelled = self.ticket.stale
        generator = None
        buffer: list = []
        try:
            if not cancelled:
                generator = self.fn(*self.args, **self.kwargs)
                last = time.monotonic()
                for item in generator:
                    buffer.append(item)
                    if self.ticket.stale:
                        cancelled = True
                        break
                    now = time.monotonic()
                    waited = now - last
                    if len(buffer) >= self.max_chunk or waited >= 10 * self.interval or (
                            waited >= self.interval and len(buffer) >= self.min_chunk):
                        self._emit(job, _CHUNK, buffer)
                        buffer, last = [], now
        except Exception as exc:
            if buffer:
                self._emit(job, _CHUNK, buffer)
                buffer = []
            self._emit(job, _ERROR, exc)
        finally:
            if generator is not None:
                try:
                    generator.close()  # runs the generator's clean-up (threads, files)
                except Exception:
                    log.warning("closing a generator failed", exc_info=True)
            if buffer:
                self._emit(job, _CHUNK, buffer)
            self._emit(job, _FINISHED, cancelled)


class TaskRunner(QObject):
    """A thread pool plus the bookkeeping that routes results to GUI-thread callbacks."""

    def __init__(self, threads: int, name: str = "worker", parent: QObject | None = None,
                 background: bool = False) -> None:
        """background: run this pool's threads below the GUI thread's priority."""
        super().__init__(parent)
        self.background = background
        self.setObjectName(name)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self.pool.setObjectName(name)
        self._signals = _Signals()  # lives on the GUI thread, outlives every job
        self._signals.event.connect(self._on_event)
        self._ids = itertools.count(1)
        self._jobs: dict[int, _Job] = {}
        self._latest: dict[str, int] = {}
        self._closed = False

    # submitting ------------------------------------------------------------------------------
    def _ticket(self, channel: str | None) -> Ticket:
        job_id = next(self._ids)
        if channel is not None:
            self._latest[channel] = job_id
        return Ticket(job_id, channel, self._latest)

    def submit(self, fn: Callable, *args: Any, channel: str | None = None,
               on_result: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None,
               pass_ticket: bool = False, priority: int = 0, **kwargs: Any) -> Ticket:
        """Run fn(*args, **kwargs) on the pool; on_result(value) / on_error(exception) follow
        on the GUI thread unless the job went stale. pass_ticket adds ticket=... to the call."""
        ticket = self._ticket(channel)
        if self._closed:
            ticket.cancel()
            return ticket
        if pass_ticket:
            kwargs["ticket"] = ticket
        self._jobs[ticket.job_id] = _Job(ticket, on_result, on_error)
        self.pool.start(_FunctionWorker(self._signals, ticket, fn, args, kwargs, self.background),
                        priority)
        return ticket

    def stream(self, fn: Callable[..., Iterator], *args: Any, channel: str | None = None,
               on_chunk: Callable[[list], None] | None = None,
               on_finished: Callable[[bool], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None,
               interval: float = 0.1,
               max_chunk: int = 500, min_chunk: int = 1, pass_ticket: bool = False,
               **kwargs: Any) -> Ticket:
        """Drive the generator fn(*args, **kwargs) on the pool: on_chunk(list of yielded items)
        arrives at most every `interval` seconds (with at least min_chunk items, unless ten
        intervals passed); on_finished(cancelled) always comes last."""
        ticket = self._ticket(channel)
        if self._closed:
            ticket.cancel()
            return ticket
        if pass_ticket:
            kwargs["ticket"] = ticket
        self._jobs[ticket.job_id] = _Job(ticket, None, on_error, on_chunk, on_finished)
        self.pool.start(_GeneratorWorker(self._signals, ticket, fn, args, kwargs, interval,
                                         max_chunk, self.background, min_chunk))
        return ticket

    def invalidate(self, channel: str) -> None:
        """Make the channel's current job stale (its result will be dropped)."""
        self._latest[channel] = next(self._ids)

    def pending(self) -> int:
        """Jobs submitted whose outcome has not yet reached the GUI thread."""
        return len(self._jobs)

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Cancel everything, drop queued jobs and wait for running ones (window close)."""
        self._closed = True
        for job in self._jobs.values():
            job.ticket.cancel()
        self.pool.clear()
        done = self.pool.waitForDone(timeout_ms)
        self._jobs.clear()
        return done

    # delivering ------------------------------------------------------------------------------
    @Slot(int, int, object)
    def _on_event(self, job_id: int, kind: int, payload: object) -> None:
        job = self._jobs.get(job_id)
        if job is None or self._closed:
            return
        if kind == _CHUNK:
            if job.on_chunk is not None:
                job.on_chunk(payload)  # type: ignore[arg-type]
            return
        if kind == _ERROR and job.on_finished is not None:  # generator: finished still follows
            if job.on_error is not None:
                job.on_error(payload)  # type: ignore[arg-type]
            return
        self._jobs.pop(job_id, None)
        if kind == _FINISHED:
            if job.on_finished is not None:
                job.on_finished(bool(payload))
            return
        if kind == _DROPPED or job.ticket.stale:
            return
        if kind == _RESULT and job.on_result is not None:
            job.on_result(payload)
        elif kind == _ERROR and job.on_error is not None:
            job.on_error(payload)  # type: ignore[arg-type]
