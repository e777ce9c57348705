"""Entry script of both bundled executables; which one ran decides what it does.

  marrow-desktop[.exe]   the GUI (windowed on Windows); `--selftest` and `--version` are
                         answered before Qt is imported, so they work without a screen.
  marrow[.exe]           the command line (`marrow selftest`, `marrow classify ...`), a console
                         program on Windows too, where a windowed exe has no stdout.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

CLI_NAMES = {"marrow"}


def _ensure_streams() -> None:
    """A windowed Windows exe has sys.stdout = None: send output to a log file instead."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    from marrow_desktop.core.paths import user_data_dir

    try:
        folder = user_data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "marrow-desktop.log", "a", encoding="utf-8")  # noqa: SIM115
    except OSError:
        log = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stdout is None:
        sys.stdout = log
    if sys.stderr is None:
        sys.stderr = log


def main() -> int:
    multiprocessing.freeze_support()
    argv = sys.argv[1:]
    if Path(sys.executable).stem.lower() in CLI_NAMES:
        from marrow_desktop.cli import main as cli_main

        return cli_main(argv)
    _ensure_streams()
    if argv[:1] == ["--version"]:
        from marrow_desktop import __version__
        from marrow_desktop.core.paths import bundle_flavour

        print(f"marrow-desktop {__version__} ({bundle_flavour()})")
        return 0
    if "--selftest" in argv:
        from marrow_desktop.selftest import main as selftest_main

        return selftest_main(argv)
    from marrow_desktop.gui.app import main as gui_main

    return int(gui_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
