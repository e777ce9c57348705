"""The application's settings: one table of fields from which the stored values, the
Preferences object and the Settings dialog (widgets/settings_dialog.py) are all made.

The application uses the per-user INI file; tests and benchmarks pass their own file, so nothing
leaks between runs. Window layout and other view state go through `ui()` / `set_ui()` with the
keys of UI_STATE (nothing reads QSettings directly).
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from marrow_desktop.core import defaults
from marrow_desktop.core.paths import default_store_path
from marrow_desktop.core.quality import QualityThresholds
from marrow_desktop.core.review import ReviewThresholds, current_user

ORGANIZATION = "marrow-desktop"
APPLICATION = "marrow-desktop"
MAX_RECENT = 8
#: Backend choices shown to the user -> the loader's backend names.
BACKEND_CHOICES = {"auto": "Automatic (GPU when available)", "torch": "GPU (PyTorch)",
                   "onnx": "CPU (ONNX Runtime)"}


@dataclass(frozen=True)
class Setting:
    """One preference: where it is stored, its type, default, range, label and help."""

    name: str
    key: str
    default: Any
    label: str
    help: str
    section: str
    minimum: float | None = None
    maximum: float | None = None
    step: float = 1.0
    decimals: int = 0
    percent: bool = False  # a 0-1 value shown in %
    choices: dict[str, str] | None = None
    widget: str = ""  # a special editor: "model" (the model chooser)

    @property
    def kind(self) -> type:
        return type(self.default)

    def coerce(self, value: Any) -> Any:
        """A stored value as this setting's type, within its range (the default when it
        cannot be read)."""
        try:
            if self.kind is bool:
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true")
            else:
                value = self.kind(value)
        except (TypeError, ValueError):
            return self.default
        if self.choices is not None and value not in self.choices:
            return self.default
        if isinstance(value, str):
            return value.strip()
        if self.minimum is not None and value < self.minimum:
            value = self.kind(self.minimum)
        if self.maximum is not None and value > self.maximum:
            value = self.kind(self.maximum)
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("backend", "model/backend", "auto", "Backend",
            "Automatic uses the GPU (PyTorch) when an NVIDIA GPU and the [torch] extra are "
            "present, else the CPU (ONNX Runtime)", "Model", choices=BACKEND_CHOICES),
    Setting("model_path", "model/path", "", "Model",
            "The bundled model, one of your adapted models, or a model file", "Model",
            widget="model"),
    Setting("batch_size", "batch/size", 16, "Batch size",
            "Images decoded and classified together", "Model", 1, 256),
    Setting("recursive", "browser/recursive", True, "Include sub-folders",
            "Opening a folder also lists the images in its sub-folders", "Folders"),
    Setting("find_cells", "fields/find_cells", True, "Find cells in field photographs",
            "An image much larger than one cell (a photograph of a smear field) is searched "
            "for nucleated cells, and each cell found is classified and counted", "Folders"),
    Setting("um_per_px", "fields/um_per_px", 0.0, "Field scale (µm per pixel)",
            "Your camera's micrometres per pixel; 0 measures the scale from the red cells of "
            "each field", "Folders", 0.0, 10.0, 0.01, 4),
    Setting("blur_threshold", "quality/blur_threshold", defaults.BLUR_THRESHOLD,
            "Blur threshold", "Variance of the Laplacian (at 256 px) below which an image is "
            "blurry", "Review queue", 0.0, 200.0, 0.5, 1),
    Setting("low_confidence", "review/low_confidence", defaults.MIN_CONFIDENCE,
            "Review below confidence", "Cells whose calibrated top-class probability is below "
            "this need review", "Review queue", 0.0, 1.0, 0.05, 2, percent=True),
    Setting("review_margin", "review/margin", defaults.MIN_MARGIN, "Review below margin",
            "Cells whose two most likely classes are closer than this need review",
            "Review queue", 0.0, 1.0, 0.05, 2, percent=True),
    Setting("blast_probability", "review/blast_probability", defaults.BLAST_PROBABILITY,
            "Review blast probability from", "Every predicted blast is queued; so is any cell "
            "whose blast probability reaches this", "Review queue", 0.0, 1.0, 0.05, 2,
            percent=True),
    Setting("verification_share", "review/verification_share", defaults.VERIFICATION_SHARE,
            "Verification sample", "A random share of the confident cells, queued so a person "
            "checks that the model agrees with them", "Review queue", 0.0, 0.5, 0.01, 2,
            percent=True),
    Setting("reviewer", "review/reviewer", "", "Reviewer name",
            "Who the audit trail names for your changes (asked once per run of the app)",
            "Review queue"),
)

#: What the Settings dialog edits: one attribute per Setting (made from the table).
Preferences = make_dataclass(
    "Preferences", [(s.name, s.kind, field(default=s.default)) for s in SETTINGS])

#: View state kept between runs: name -> (key, default).
UI_STATE: dict[str, tuple[str, Any]] = {
    "cam_shown": ("ui/cam_shown", True), "cam_opacity": ("ui/cam_opacity", 0.45),
    "unsharp_amount": ("ui/unsharp_amount", 1.0), "unsharp_mode": ("ui/unsharp_mode", "side"),
    "sort": ("ui/sort", "name"), "sort_descending": ("ui/sort_descending", False),
    "advance": ("review/advance", True), "target": ("review/target", 200),
}


def default_qsettings() -> QSettings:
    """The per-user settings file of the application."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


class AppSettings:
    """Typed access to the settings file: every key the application stores goes through here."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings if qsettings is not None else default_qsettings()
        #: Preferences given on the command line: used, not saved, until the user edits them.
        self.overrides: dict[str, object] = {}
        #: The reviewer's name for this run of the app (asked once, see review_controller).
        self.session_reviewer = ""

    @classmethod
    def from_file(cls, path: str | Path) -> AppSettings:
        """Settings kept in a given INI file (tests, benchmarks, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    # preferences -----------------------------------------------------------------------------
    def preferences(self) -> Any:
        prefs = Preferences(**{s.name: s.coerce(self.qsettings.value(s.key, s.default))
                               for s in SETTINGS})
        return replace(prefs, **self.overrides) if self.overrides else prefs

    def set_preferences(self, prefs: Any) -> None:
        self.overrides.clear()
        for s in SETTINGS:
            self.qsettings.setValue(s.key, s.coerce(getattr(prefs, s.name)))
        self.qsettings.sync()

    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(blur_threshold=self.preferences().blur_threshold)

    def review_thresholds(self) -> ReviewThresholds:
        p = self.preferences()
        return ReviewThresholds(min_confidence=p.low_confidence, min_margin=p.review_margin,
                                blast_probability=p.blast_probability,
                                verification_share=p.verification_share)

    def reviewer(self) -> str:
        """Who the audit trail names for this user's changes."""
        return self.session_reviewer or self.preferences().reviewer or current_user()

    # view state ------------------------------------------------------------------------------
    def ui(self, name: str) -> Any:
        key, default = UI_STATE[name]
        return Setting(name, key, default, "", "", "").coerce(
            self.qsettings.value(key, default))

    def set_ui(self, name: str, value: Any) -> None:
        self.qsettings.setValue(UI_STATE[name][0], value)

    # results store ---------------------------------------------------------------------------
    def store_path(self) -> Path:
        """The results store: a setting when given, else the shared default (MARROW_DATA_DIR)."""
        custom = str(self.qsettings.value("store/path", "") or "")
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
        return str(self.qsettings.value("browser/last_folder", "") or "")

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
