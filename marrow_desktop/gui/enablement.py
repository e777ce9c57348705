"""Which actions are enabled: one pure function of the window's state (no Qt, testable)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UiState:
    """What the enabled state of the window's actions depends on."""

    images: int = 0
    listing: bool = False
    running: bool = False
    model_ready: bool = False
    model_loading: bool = False
    current: bool = False  # a cell is current
    current_classified: bool = False  # it has a prediction and no error
    current_has_id: bool = False  # its content hash is known (history)
    selected: int = 0
    case_open: bool = False  # the case's id is known (the listing is complete)
    signed: bool = False
    classified: int = 0
    reviewed: int = 0
    can_undo: bool = False
    can_redo: bool = False


#: Actions that change labels. They stay enabled on a signed-off case, so that a key press is
#: answered with why it is refused (the review bar's buttons are disabled there).
LABEL_ACTIONS = ("confirm", "exclude", "clear_review", "pick_class", "correct_to")


def enabled_actions(s: UiState) -> dict[str, bool]:
    """Action name (gui/actions.py) -> enabled."""
    idle = not s.running and not s.listing
    can_label = s.current and s.current_classified and s.model_ready and s.case_open
    out = {
        "classify": s.images > 0 and idle and (s.model_ready or s.model_loading),
        "check_quality": s.images > 0 and idle,
        "cancel": s.running,
        "export_csv": s.images > 0,
        "export_report": s.classified > 0 and s.case_open,
        "export_training": s.reviewed > 0 and s.case_open,
        "sign_off": s.case_open and not s.signed and s.classified > 0,
        "reopen": s.case_open and s.signed,
        "audit_trail": s.case_open,
        "cell_history": s.case_open and s.current_has_id,
        "case_details": s.case_open,
        "undo": s.can_undo and not s.signed,
        "redo": s.can_redo and not s.signed,
        "adapt": s.reviewed > 0 and s.model_ready and s.case_open,
        "next_in_queue": s.classified > 0,
    }
    out.update(dict.fromkeys(LABEL_ACTIONS, can_label))
    return out
