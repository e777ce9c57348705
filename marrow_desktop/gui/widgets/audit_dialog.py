"""The audit trail of a case (or of one cell): who changed which label when, with which model,
and whether the hash chain is intact. Shows data it is given; reads no store."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from html import escape

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.audit import (
    ACKNOWLEDGE,
    ADD_CELL,
    DETAILS,
    MODEL,
    REMOVE_CELL,
    REOPEN,
    REVIEW,
    SIGN_OFF,
    AuditCheck,
    AuditEntry,
)
from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.core.text import counted
from marrow_desktop.gui import theme

HEADERS = ("#", "When", "Who", "Action", "Cell", "Change", "Model", "Note")
ACTIONS = {REVIEW: "Review", SIGN_OFF: "Sign-off", REOPEN: "Reopen", DETAILS: "Details",
           MODEL: "Model", ACKNOWLEDGE: "Acknowledged", ADD_CELL: "Cell added",
           REMOVE_CELL: "Cell removed"}
_ACTION_COLORS = {SIGN_OFF: theme.GOOD, REOPEN: theme.WARN}


def local_time(iso: str) -> str:
    """ISO 8601 (UTC) as local 'YYYY-MM-DD HH:MM:SS'; the text itself when it does not parse."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def label_text(label: str) -> str:
    return "—" if not label else "excluded" if label == EXCLUDED else label


def ai_label(entry: AuditEntry) -> str:
    """The model's label recorded with a review ('AI MON 97%' in the note), '' if none."""
    return entry.note[3:].split(" ")[0] if entry.note.startswith("AI ") else ""


def change_text(entry: AuditEntry) -> str:
    """Previous label → new one; a first review shows the model's label it confirmed or
    overrode (AI MON → BLA)."""
    if entry.action != REVIEW:
        return ""
    ai = ai_label(entry)
    before = label_text(entry.previous) if entry.previous or not ai else f"AI {ai}"
    if not entry.new:
        return f"{before} → — (cleared)"
    return f"{before} → {label_text(entry.new)}"


def model_text(entry: AuditEntry) -> str:
    short = entry.model_sha256[:8]
    return " · ".join(t for t in (entry.model_name, short) if t)


def row_texts(entry: AuditEntry) -> tuple[str, ...]:
    """The cells of an entry's table row, in HEADERS order."""
    return (str(entry.seq), local_time(entry.at), entry.who,
            ACTIONS.get(entry.action, entry.action), os.path.basename(entry.path),
            change_text(entry), model_text(entry), entry.note)


class AuditDialog(QDialog):
    """AuditDialog(entries, check, cell=''): cell = a path or content hash shows that cell's
    review entries only."""

    def __init__(self, entries: Sequence[AuditEntry], check: AuditCheck, cell: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = check
        if cell:
            entries = [e for e in entries if e.action == REVIEW
                       and cell in (e.path, e.sha256, e.cell)]
        self.entries = list(entries)
        name = next((os.path.basename(e.path) for e in self.entries if e.path), "")
        name = name or os.path.basename(cell) or cell[:12]
        self.setWindowTitle(f"Audit trail – {name}" if cell else "Audit trail of this case")
        self.resize(980, 480)

        self.status = QLabel(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._show_status(check)
        n = counted(len(self.entries), "entry", "entries")
        scope = (f"Label changes of <b>{name}</b> ({n})" if cell else
                 f"Every label change, sign-off, reopening and case change of this case "
                 f"({n}), oldest first. Times are local.")
        self.scope = QLabel(scope, objectName="muted", wordWrap=True)
        self.table = self._build_table()
        self.copy_button = QPushButton("Copy", toolTip="Copy the rows as tab-separated text")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self.copy)
        buttons.button(QDialogButtonBox.StandardButton.Close).setFocus()

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.status)
        layout.addWidget(self.scope)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def _show_status(self, check: AuditCheck) -> None:
        if check.ok:
            text = (f"✓ Audit trail intact: {counted(check.entries, 'entry', 'entries')}, head "
                    f"<code>{check.head[:12]}…</code>")
            lines = [f"✓ {escape(line)}" for line in check.signed]
            lines += [f"⚠ {escape(line)}" for line in check.notes]
            if lines:
                text += "<br><span style='font-weight: 400'>" + "<br>".join(lines) + "</span>"
            fill, edge, color = ("#f0fdf4", "#86efac", theme.GOOD) if not check.notes else (
                "#fffbeb", "#fcd34d", theme.WARN)
        else:
            problems = "".join(f"<li>{escape(p)}</li>" for p in check.problems)
            text = (f"<b>✗ Audit trail BROKEN</b> – the store was changed outside the "
                    f"application:<ul style='margin:2px 0 0 -20px'>{problems}</ul>")
            fill, edge, color = "#fef2f2", "#fca5a5", theme.BAD
        self.status.setText(text)
        self.status.setToolTip(f"Head hash {check.head}")
        self.status.setStyleSheet(f"background: {fill}; border: 1px solid {edge}; "
                                  f"border-radius: 8px; padding: 8px 10px; color: {color};")

    def _build_table(self) -> QTableWidget:
        table = QTableWidget(len(self.entries), len(HEADERS))
        table.setHorizontalHeaderLabels(HEADERS)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().setDefaultSectionSize(24)
        table.setStyleSheet("QTableWidget { border: 1px solid #e2e8f0; border-radius: 6px; } "
                            "QTableWidget::item { padding: 0 6px; } "
                            "QHeaderView::section { background: #f1f5f9; border: none; "
                            "border-bottom: 1px solid #e2e8f0; padding: 4px 6px; "
                            "font-weight: 600; color: #475569; }")
        for r, entry in enumerate(self.entries):
            for c, text in enumerate(row_texts(entry)):
                item = QTableWidgetItem(text)
                item.setToolTip(self._tooltip(entry, c))
                if c == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if c == 3 and entry.action in _ACTION_COLORS:
                    item.setForeground(QBrush(QColor(_ACTION_COLORS[entry.action])))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(r, c, item)
        header = table.horizontalHeader()
        for c in range(len(HEADERS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(HEADERS) - 1, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        table.setCurrentCell(-1, -1)  # no focus frame on the first cell
        if self.entries:
            table.scrollToBottom()
        return table

    @staticmethod
    def _tooltip(entry: AuditEntry, column: int) -> str:
        if column == 1:
            return f"{entry.at} (UTC)"
        if column == 4:
            return f"{entry.path}\ncontent SHA-256 {entry.sha256}" if entry.path else ""
        if column == 6:
            return f"{entry.model_name}\nSHA-256 {entry.model_sha256}" if entry.model_sha256 \
                else ""
        if column == 7:
            return entry.note
        return f"entry {entry.seq} · row hash {entry.row_hash}"

    def as_tsv(self) -> str:
        """The rows (full times, paths and hashes) as tab-separated text with a header."""
        lines = ["\t".join(("seq", "at_utc", "who", "action", "path", "previous", "new",
                            "model", "model_sha256", "note", "row_hash"))]
        for e in self.entries:
            fields = (str(e.seq), e.at, e.who, e.action, e.path, e.previous, e.new,
                      e.model_name, e.model_sha256, e.note, e.row_hash)
            lines.append("\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields))
        return "\n".join(lines) + "\n"

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.as_tsv())

    def sizeHint(self) -> QSize:
        return QSize(980, 480)
