"""Check an installed wheel (not the source tree): its model, samples, icons, style and report
template are there, `marrow selftest` passes, a case report is written, a cell is found in each
bundled smear field (`--fields`) and the viewer's window
opens on the bundled samples (offscreen). Run by .ci/run from outside the checkout:

    python packaging/check_wheel.py WORK_DIR
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def main(work: Path) -> int:
    import marrow_desktop
    from marrow_desktop.cli import main as marrow
    from marrow_desktop.core.paths import app_root, default_model_path, fields_dir, samples_dir

    package = Path(marrow_desktop.__file__).resolve().parent
    assert not (package.parent / "pyproject.toml").exists(), f"the source tree: {package}"
    assert app_root() == package / "bundled", app_root()
    model = default_model_path()
    for path in (model, model.with_suffix(".onnx"), model.with_suffix(".domain.npz"),
                 samples_dir() / "CREDITS.md", fields_dir() / "CREDITS.md",
                 app_root() / "resources/style/marrow.qss",
                 app_root() / "resources/icons/marrow.svg",
                 package / "core/templates/report.html.j2"):
        assert path.is_file(), f"missing from the wheel: {path}"
    print(f"wheel data found under {app_root()}")

    os.environ["MARROW_DATA_DIR"] = str(work / "data")
    assert marrow(["selftest"]) == 0, "selftest failed"
    case = work / "case"
    shutil.copytree(samples_dir(), case)
    assert marrow(["report", str(case), "-o", str(work / "report"), "--no-progress"]) == 0
    assert (work / "report" / "report.html").stat().st_size > 5000
    cells = work / "fields.csv"
    assert marrow(["classify", str(fields_dir()), "--fields", "-o", str(cells),
                   "--no-progress"]) == 0
    assert cells.read_text(encoding="utf-8-sig").count("\n") == 4, "a cell per bundled field"

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from marrow_desktop.gui import theme
    from marrow_desktop.gui.main_window import MainWindow
    from marrow_desktop.gui.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app)
    assert app.styleSheet(), "the bundled style sheet was not loaded"
    assert not theme.icon("folder-open").isNull(), "icons missing"
    window = MainWindow(AppSettings.from_file(work / "settings.ini"))
    window.show()
    window.start(str(case))
    ready: list[object] = []
    window.session.modelReady.connect(ready.append)
    window.session.modelFailed.connect(lambda why: ready.append(why))
    for _ in range(600):  # up to 60 s for the model to load
        if ready or window.session.classifier is not None:
            break
        app.processEvents()
        QApplication.instance().thread().msleep(100)
    assert window.session.classifier is not None, f"the viewer has no model: {ready}"
    print("viewer opened the bundled samples with the bundled model")
    window.close()
    print("WHEEL CHECK PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
