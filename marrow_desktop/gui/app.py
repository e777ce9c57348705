"""`marrow-desktop [FOLDER]`: the desktop viewer's entry point.

`--selftest` is answered before Qt is imported, so a bundle can be checked on a machine without
a display.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from marrow_desktop import __version__

    parser = argparse.ArgumentParser(
        prog="marrow-desktop",
        description="Browse, classify and quality-check bone-marrow cell images offline.")
    parser.add_argument("path", nargs="?", help="folder (or image) to open")
    parser.add_argument("--model", help="model metadata (.json) or .onnx to use this session")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"),
                        help="inference backend for this session")
    parser.add_argument("--settings", metavar="INI",
                        help="settings file to use instead of the per-user one")
    parser.add_argument("--selftest", action="store_true",
                        help="check the installation without opening a window")
    parser.add_argument("--version", action="version", version=f"marrow-desktop {__version__}")
    return parser


def _selftest(argv: list[str]) -> int:
    try:
        from marrow_desktop.selftest import main as selftest_main
    except ImportError as exc:
        print(f"marrow-desktop: the self-test is not available in this build ({exc})",
              file=sys.stderr)
        return 3
    rest = [a for a in argv if a != "--selftest"]
    return int(selftest_main(rest) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--selftest" in argv:  # before PySide6 is imported: works without a display
        return _selftest(argv)
    args = build_parser().parse_args(argv)

    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from marrow_desktop.gui import qt_compat, theme

    problem = qt_compat.display_problem() or qt_compat.runtime_problem()
    if problem:
        print(f"marrow-desktop: {problem}", file=sys.stderr)
        return 3
    from marrow_desktop.gui.settings import APPLICATION, ORGANIZATION, AppSettings

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationDisplayName("Marrow Desktop")
    theme.apply_theme(app)

    from marrow_desktop.gui.errors import install_excepthook, setup_logging
    from marrow_desktop.gui.main_window import MainWindow

    setup_logging()
    settings = AppSettings.from_file(args.settings) if args.settings else AppSettings()
    if args.model:  # this session only; the Settings dialog saves choices
        settings.overrides["model_path"] = os.path.abspath(args.model)
    if args.backend:
        settings.overrides["backend"] = args.backend
    window = MainWindow(settings)
    install_excepthook(window.errors)
    window.show()
    window.start(os.path.abspath(args.path) if args.path else None)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
