"""Another lab's cells: the case's lab-shift verdict as a banner that stays until the reviewer
acts, acknowledging it (recorded in the trail), and Review ▸ Adapt Model to This Lab…."""

from __future__ import annotations

import os
from typing import Protocol

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QInputDialog, QWidget

from marrow_desktop.core import audit
from marrow_desktop.core.domain import CaseVerdict
from marrow_desktop.core.model_registry import user_models_dir
from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.gui.actions import Actions
from marrow_desktop.gui.errors import describe
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.widgets.adapt_dialog import AdaptDialog


class LabView(Protocol):
    def show_lab_warning(self, text: str) -> None: ...  # '' hides it
    def show_message(self, text: str, timeout: int = 8000) -> None: ...
    def dialog_parent(self) -> QWidget: ...


class LabController(QObject):
    def __init__(self, session: Session, actions: Actions, view: LabView,
                 settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.view, self.settings = session, view, settings
        self.dialog: QObject | None = None
        self._switch_note = ""  # the trail note of a model switch waiting for the model
        self._timer = QTimer(self, singleShot=True, interval=500)
        self._timer.timeout.connect(self.refresh)
        actions.adapt.triggered.connect(self.adapt)
        session.case.subscribe(lambda change: self._timer.start()
                               if change.kind in ("results", "rules", "reset") else None)
        session.caseChanged.connect(lambda _info: self.refresh())
        session.modelReady.connect(self._model_ready)

    # the warning -----------------------------------------------------------------------------
    def verdict(self) -> CaseVerdict | None:
        return self.session.case.verdict()

    def warning_open(self) -> bool:
        """The case is flagged and nobody acknowledged it for this model."""
        v, spec = self.verdict(), self.session.spec
        return bool(v is not None and v.flagged and spec is not None
                    and spec.identity not in self.session.acknowledged)

    def refresh(self) -> None:
        v = self.verdict()
        self.view.show_lab_warning(v.text() if v is not None and self.warning_open() else "")

    def acknowledge(self) -> QInputDialog | None:
        """Record that the reviewer saw the warning and goes on with this model."""
        v = self.verdict()
        if v is None:
            return None
        dialog = QInputDialog(self.view.dialog_parent())
        dialog.setWindowTitle("Acknowledge the lab-shift warning")
        dialog.setLabelText(f"{v.text()}.\n\nWhy go on with this model (kept in the audit "
                            "trail)?")

        def done(reason: str) -> None:
            reason = reason.strip() or "acknowledged"
            self.session.record(audit.ACKNOWLEDGE, self.settings.reviewer(),
                                f"lab-shift warning ({v.out_of_range} of {v.scored} cells "
                                f"unlike the training images): {reason}")
            self.refresh()
        dialog.textValueSelected.connect(done)
        self.dialog = dialog
        dialog.open()
        return dialog

    # adapting --------------------------------------------------------------------------------
    def reviewed_cells(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(path, class) of the case's reviewed cells the model knows; what is left out."""
        spec = self.session.spec
        cells, other = [], {}
        for c in self.session.case.cells:
            if not c.review or c.review == EXCLUDED or c.region:
                continue
            if spec is not None and c.review in spec.classes:
                cells.append((c.path, c.review))
            else:
                other[c.review] = other.get(c.review, 0) + 1
        return cells, [f"{code} ({n}, not a class of the model)" for code, n in other.items()]

    def adapt(self) -> AdaptDialog | None:
        s = self.session
        if s.classifier is None or s.handle is None:
            return None
        cells, left_out = self.reviewed_cells()
        counts: dict[str, int] = {}
        for _, code in cells:
            counts[code] = counts.get(code, 0) + 1
        lab = os.path.basename(s.handle.folder.rstrip("/\\")) or "lab"
        intro = (f"Uses the {len(cells)} reviewed cells of this case ("
                 + ", ".join(f"{c} {n}" for c, n in sorted(counts.items())) + "). The network "
                 "is not retrained: the lab gets a head of its own, and cells that look like "
                 "the model's training lab keep the current behaviour.")
        dialog = AdaptDialog(intro, self.view.dialog_parent())
        self.dialog = dialog
        dialog.open()
        name = f"{s.spec.name}-{lab}"
        from marrow_desktop.training.adapt import preview

        s.tasks.submit(preview, s.classifier, cells, lab, name, left_out, channel="adapt",
                       on_result=lambda p: self._previewed(dialog, p),
                       on_error=lambda exc: dialog.show_error(describe(exc)))
        return dialog

    def _previewed(self, dialog: AdaptDialog, p) -> None:
        from marrow_desktop.training.adapt import describe as describe_adaptation

        a = p.adaptation
        dialog.show_result(describe_adaptation(a), a.accuracy_after > a.accuracy_before)
        dialog.accepted.connect(lambda: self._write(p))

    def _write(self, p) -> None:
        from marrow_desktop.training.adapt import write_preview

        self.session.tasks.submit(write_preview, p, user_models_dir(),
                                  on_result=self._switch,
                                  on_error=lambda exc: self.session.errors.report(
                                      exc, "Adapted model not written"))

    def _switch(self, spec) -> None:
        """Use the adapted model from now on (Settings can switch back); the switch goes into
        the trail once the model is loaded."""
        prefs = self.settings.preferences()
        prefs.model_path = spec.name
        self.settings.set_preferences(prefs)
        self._switch_note = (f"switched to {spec.name}, adapted from "
                             f"{spec.base.get('name', '?')} with this lab's reviewed cells")
        self.session.load_model(spec.name)
        self.view.show_message(f"Adapted model {spec.name} written to your model folder; "
                               "loading it…")

    def _model_ready(self, _classifier) -> None:
        if self._switch_note:
            self.session.record(audit.MODEL, self.settings.reviewer(), self._switch_note)
            self._switch_note = ""
        self.refresh()
