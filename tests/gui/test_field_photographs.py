"""A smear-field photograph classified as one cell (the field search turned off in Settings):
the viewer says so after the run and points to the setting (tests/gui/test_field_view.py has
the search on)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO
from tests.gui.helpers import run_batch, wait_analysis, wait_listed


def test_a_field_photograph_among_cells_is_pointed_out(qtbot, make_window, model_settings,
                                                       tmp_path: Path,
                                                       sample_paths: list[Path]) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in sample_paths[:2]:
        shutil.copy2(path, folder / path.name)
    shutil.copy2(REPO / "resources" / "fields" / "BloodImage_00000.jpg", folder / "field.jpg")
    prefs = model_settings.preferences()
    prefs.find_cells = False
    model_settings.set_preferences(prefs)
    for attempt in ("computed", "from the store"):
        window = make_window(model_settings, folder)
        wait_listed(qtbot, window, 3)
        summary = run_batch(qtbot, window)
        assert summary.done == 3 and summary.fields == 1, attempt
        warning = window.errors.messages[-1]
        assert warning.level == "warning" and "Find cells in field photographs" in \
            warning.text, attempt
        assert "1 image looks like a field photograph" in warning.text
        path = str(folder / "field.jpg")
        assert "field photograph" in window.model.item_for(path).reasons  # queued, says why
        window.browser.select_path(path)
        wait_analysis(qtbot, window, path)  # the selection's own analysis keeps the reason
        assert "field photograph" in window.model.item_for(path).reasons
        assert "field photograph" in window.classification.detail.text()
        window.close()
