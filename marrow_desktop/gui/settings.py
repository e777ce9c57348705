"""Typed access to the application's QSettings (preferences, recent folders, window layout).

The application uses the per-user INI file; tests and benchmarks pass their own file, so nothing
leaks between runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from marrow_desktop.core.paths import default_store_path
from marrow_desktop.core.quality import QualityThresholds
from marrow_desktop.core.review import ReviewThresholds, current_user

ORGANIZATION = "marrow-desktop"
APPLICATION = "marrow-desktop"
MAX_RECENT = 8
#: Backend choices shown to the user -> the loader's backend names.
BACKEND_CHOICES = {"auto": "Automatic (GPU when available)", "torch": "GPU (PyTorch)",
                   "onnx": "CPU (ONNX Runtime)"}


@dataclass
class Preferences:
    """What the Settings dialog edits."""

    backend: str = "auto"
    model_path: str = ""  # "" = the bundled model
    batch_size: int = 16
    blur_threshold: float = QualityThresholds.blur_threshold
    low_confidence: float = ReviewThresholds.min_confidence  # below: "needs review"
    review_margin: float = ReviewThresholds.min_margin  # top-2 margin below: "needs review"
    recursive: bool = True  # include sub-folders when opening a folder
    reviewer: str = ""  # name the audit trail records ('' = the operating-system user)


def default_qsettings() -> QSettings:
    """The per-user settings file of the application."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


class AppSettings:
    """A thin typed wrapper: every key the application stores goes through here."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings if qsettings is not None else default_qsettings()
        #: Preferences given on the command line: used, not saved, until the user edits them.
        self.overrides: dict[str, object] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> AppSettings:
        """Settings kept in a given INI file (tests, benchmarks, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    # generic typed values --------------------------------------------------------------------
    def _get(self, key: str, default: object, kind: type) -> object:
        value = self.qsettings.value(key, default)
        if value is None:
            return default
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
            return kind(value)
        except (TypeError, ValueError):
            return default

    def value(self, key: str, default: object = None, kind: type = str) -> object:
        return self._get(key, default, kind)

    def set_value(self, key: str, value: object) -> None:
        self.qsettings.setValue(key, value)

    # preferences -----------------------------------------------------------------------------
    def preferences(self) -> Preferences:
        d = Preferences()
        backend = str(self._get("model/backend", d.backend, str))
        prefs = Preferences(
            backend=backend if backend in BACKEND_CHOICES else d.backend,
            model_path=str(self._get("model/path", d.model_path, str)),
            batch_size=max(1, min(256, int(self._get("batch/size", d.batch_size, int)))),
            blur_threshold=max(0.0, float(self._get("quality/blur_threshold",
                                                    d.blur_threshold, float))),
            low_confidence=min(1.0, max(0.0, float(self._get("review/low_confidence",
                                                             d.low_confidence, float)))),
            review_margin=min(1.0, max(0.0, float(self._get("review/margin", d.review_margin,
                                                            float)))),
            recursive=bool(self._get("browser/recursive", d.recursive, bool)),
            reviewer=str(self._get("review/reviewer", d.reviewer, str)).strip(),
        )
        return replace(prefs, **self.overrides) if self.overrides else prefs

    def set_preferences(self, prefs: Preferences) -> None:
        self.overrides.clear()
        s = self.qsettings
        s.setValue("model/backend", prefs.backend)
        s.setValue("model/path", prefs.model_path)
        s.setValue("batch/size", int(prefs.batch_size))
        s.setValue("quality/blur_threshold", float(prefs.blur_threshold))
        s.setValue("review/low_confidence", float(prefs.low_confidence))
        s.setValue("review/margin", float(prefs.review_margin))
        s.setValue("browser/recursive", bool(prefs.recursive))
        s.setValue("review/reviewer", prefs.reviewer.strip())
        s.sync()

    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(blur_threshold=self.preferences().blur_threshold)

    def review_thresholds(self) -> ReviewThresholds:
        prefs = self.preferences()
        return ReviewThresholds(min_confidence=prefs.low_confidence,
                                min_margin=prefs.review_margin)

    def reviewer(self) -> str:
        """Who the audit trail names for this user's changes."""
        return self.preferences().reviewer or current_user()

    # results store ---------------------------------------------------------------------------
    def store_path(self) -> Path:
        """The results store: a setting when given, else the shared default (MARROW_DATA_DIR)."""
        custom = str(self._get("store/path", "", str))
        return Path(custom) if custom else default_store_path()

    def set_store_path(self, path: str | Path) -> None:
        self.qsettings.setValue("store/path", str(path))

    # folders ---------------------------------------------------------------------------------
    def recent_folders(self) -> list[str]:
        raw = self.qsettings.value("browser/recent", [])
        if isinstance(raw, str):
            raw = [raw] if raw else []
        return [str(p) for p in (raw or [])][:MAX_RECENT]

    def add_recent_folder(self, folder: str) -> list[str]:
        recent = [folder] + [p for p in self.recent_folders() if p != folder]
        self.qsettings.setValue("browser/recent", recent[:MAX_RECENT])
        self.qsettings.setValue("browser/last_folder", folder)
        return recent[:MAX_RECENT]

    def clear_recent_folders(self) -> None:
        self.qsettings.setValue("browser/recent", [])

    def last_folder(self) -> str:
        return str(self._get("browser/last_folder", "", str))

    # window ----------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()
