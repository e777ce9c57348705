"""The blast percentage at the top of the differential dock: value, 95% interval, how many
cells it rests on, and a WHO-threshold chip coloured only when enough cells were counted
(core.differential.blast_level holds the rule)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from marrow_desktop.core.defaults import AML_BLASTS, ELEVATED_BLASTS, MIN_BLAST_COUNT
from marrow_desktop.core.differential import Differential, blast_level
from marrow_desktop.core.review import BLAST
from marrow_desktop.gui import theme


class BlastBox(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blastBox")
        self._level: str | None = None
        self.caption = QLabel("BLASTS")
        self.caption.setStyleSheet(
            f"color: {theme.MUTED}; font-size: 11px; font-weight: 600; letter-spacing: 1px;")
        self.value = QLabel("–")
        self.interval = QLabel(objectName="muted", wordWrap=True)
        self.chip = QLabel(objectName="chip")
        self.chip.hide()
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.caption)
        head.addStretch(1)
        head.addWidget(self.chip)
        value_row = QHBoxLayout()
        value_row.setContentsMargins(0, 0, 0, 0)
        value_row.setSpacing(10)
        value_row.addWidget(self.value)
        value_row.addWidget(self.interval, 1, Qt.AlignmentFlag.AlignBottom)
        box = QVBoxLayout(self)
        box.setContentsMargins(12, 8, 12, 8)
        box.setSpacing(0)
        box.addLayout(head)
        box.addLayout(value_row)
        self._style("")

    def _style(self, level: str) -> None:
        if level == self._level:  # a new style sheet re-polishes the box: only on a change
            return
        self._level = level
        edge = {"aml": theme.BAD, "elevated": theme.WARN}.get(level, "#e2e8f0")
        fill = {"aml": "#fef2f2", "elevated": "#fffbeb"}.get(level, "#ffffff")
        self.setStyleSheet(f"QFrame#blastBox {{ background: {fill}; border: 1px solid #e2e8f0; "
                           f"border-left: 4px solid {edge}; border-radius: 8px; }}")
        color = {"aml": theme.BAD, "elevated": theme.WARN}.get(level, "#0f172a")
        self.value.setStyleSheet(f"font-size: 30px; font-weight: 700; color: {color};")

    def show_share(self, d: Differential | None) -> None:
        """The blast share of a differential (the same computation as the table's BLA row)."""
        share = d.blast if d is not None else None
        level = blast_level(share)
        self._style(level)
        if share is None or not share.total:
            self.value.setText("–")
            self.interval.setText("no blast count yet" if d is None or BLAST not in
                                  [r.code for r in d.rows] else "no counted cells yet")
            self.chip.hide()
            self.setToolTip("")
            return
        lo, hi = share.interval
        self.value.setText(f"{100 * share.fraction:.1f}%")
        few = (f"<br><span style='color:{theme.WARN}'>only {share.total} of the "
               f"{MIN_BLAST_COUNT} cells needed to judge</span>"
               if share.total < MIN_BLAST_COUNT else "")
        self.interval.setText(f"95% CI {100 * lo:.1f}–{100 * hi:.1f}%<br>"
                              f"{share.count:,} of {share.total:,} counted cells{few}")
        if level in ("normal", ""):
            self.chip.hide()
        else:
            self.chip.setText("≥ 20% · WHO AML threshold" if level == "aml"
                              else "≥ 5% · elevated")
            self.chip.setProperty("verdict", "bad" if level == "aml" else "warn")
            self.chip.style().unpolish(self.chip)
            self.chip.style().polish(self.chip)
            self.chip.show()
        self.setToolTip(_tooltip(lo, hi))


def _tooltip(lo: float, hi: float) -> str:
    lines = ["Blasts as a share of the counted (nucleated) cells, final labels.",
             "WHO: ≥ 20% blasts in the marrow is the threshold for acute myeloid "
             "leukaemia; ≥ 5% is above the normal range (elevated)."]
    for threshold in (AML_BLASTS, ELEVATED_BLASTS):
        if lo < threshold <= hi:
            lines.append(f"The 95% interval ({100 * lo:.1f}–{100 * hi:.1f}%) includes "
                         f"{threshold:.0%}: count or review more cells before relying on "
                         "which side of it the case lies.")
            break
    lines.append("An aid to counting, not a diagnosis.")
    return "\n".join(lines)
