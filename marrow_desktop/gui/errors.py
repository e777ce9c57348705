"""One error path for the viewer.

Workers deliver exception objects (gui/workers.py). Expected errors (MarrowError: a file that
cannot be read, a signed case, a model file that does not match) go to the status line and to a
persistent message log (View ▸ Messages). Unexpected ones are written with their traceback to a
rotating log file in the app data folder (the bundle's too) and shown in a dialog with "Copy
details". Exceptions escaping a slot take the same path (install_excepthook).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.paths import user_data_dir

log = logging.getLogger("marrow_desktop")
LOG_NAME = "marrow-desktop.log"
MAX_MESSAGES = 500


def log_path() -> Path:
    return user_data_dir() / "logs" / LOG_NAME


def setup_logging(path: Path | None = None) -> Path | None:
    """Log warnings and errors (with tracebacks) to a rotating file: 1 MB x 3. Returns the file,
    or None when it cannot be written (the application runs on without it)."""
    path = path or log_path()
    root = logging.getLogger("marrow_desktop")
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                       encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def describe(exc: BaseException) -> str:
    """One line for the person at the screen."""
    if isinstance(exc, MarrowError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def details(exc: BaseException) -> str:
    """The full traceback (for the log file and "Copy details")."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


@dataclass(frozen=True)
class Message:
    """One entry of the message log."""

    at: str  # local time, HH:MM:SS
    level: str  # "info", "warning", "error"
    text: str


class ErrorChannel(QObject):
    """Where every failure goes; the window binds its signals to the status line, the message
    log and the error dialog."""

    status = Signal(str, int)  # text, milliseconds on the status line
    logged = Signal(object)  # Message
    unexpected = Signal(str, str)  # one line, details (traceback)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []

    def note(self, text: str, level: str = "info", timeout: int = 8000) -> None:
        """A status-line message that the message log keeps too."""
        entry = Message(datetime.now().strftime("%H:%M:%S"), level, text)
        self.messages = [*self.messages[-(MAX_MESSAGES - 1):], entry]
        self.logged.emit(entry)
        self.status.emit(text, timeout)
        if level != "info":
            log.log(logging.WARNING if level == "warning" else logging.ERROR, text)

    def report(self, exc: BaseException, context: str = "") -> None:
        """An exception from a worker or a slot: expected ones as a message, others logged with
        their traceback and shown in the dialog."""
        line = describe(exc)
        if context:
            line = f"{context}: {line}"
        if isinstance(exc, MarrowError):
            self.note(line, "warning", 15000)
            return
        text = details(exc)
        log.error("%s\n%s", line, text)
        self.note(line, "error", 15000)
        self.unexpected.emit(line, text)


def install_excepthook(channel: ErrorChannel) -> None:
    """Exceptions escaping a Qt slot go through the channel; the window lives on."""
    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        if value is None or not isinstance(value, Exception):
            previous(kind, value, tb)
            return
        value.__traceback__ = tb
        try:
            channel.report(value, "Internal error")
        except RuntimeError:  # the channel is gone with the window
            previous(kind, value, tb)

    sys.excepthook = hook
