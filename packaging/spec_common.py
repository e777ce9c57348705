"""The body shared by marrow-cpu.spec and marrow-gpu.spec (PyInstaller runs the .spec files).

One Analysis of packaging/entry.py feeds two executables in one folder: `marrow-desktop`
(the GUI, windowed on Windows) and `marrow` (the console CLI). With MARROW_BUILD_ONEFILE=1 only
the GUI executable is built, as a single self-extracting file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import bundle_config as cfg
from PyInstaller.config import CONF


def make_bundle(flavour: str, Analysis, PYZ, EXE, COLLECT):
    onefile = os.environ.get("MARROW_BUILD_ONEFILE") == "1"
    binaries = []
    for package in cfg.dynamic_lib_packages(flavour):
        binaries += cfg.package_libraries(package)
    a = Analysis(
        [str(cfg.ENTRY_SCRIPT)],
        pathex=[str(cfg.REPO)],
        binaries=binaries,
        datas=cfg.datas(flavour),
        hiddenimports=cfg.hiddenimports(flavour),
        hookspath=[],
        runtime_hooks=[],
        excludes=cfg.excludes(flavour),
        noarchive=False,
        optimize=0,  # keep docstrings and asserts: argparse help and numpy need them
    )
    patterns = cfg.prune_patterns(flavour)
    a.binaries, dropped_bin = cfg.prune(a.binaries, patterns)
    a.datas, dropped_dat = cfg.prune(a.datas, patterns)
    a.binaries, a.datas, orphans = cfg.drop_orphans(a.binaries, a.datas)
    a.binaries, saved = cfg.strip_python_runtime(a.binaries, Path(CONF["workpath"]))
    print(f"[marrow] {flavour}: pruned {len(dropped_bin)} binaries and {len(dropped_dat)} data "
          f"files by pattern, {len(orphans)} orphaned libraries/links "
          f"({', '.join(Path(e[0]).name for e in orphans) or 'none'}); stripping the Python "
          f"runtime saved {saved / 1e6:.1f} MB (see packaging/bundle_config.py)")
    pyz = PYZ(a.pure)
    icon = cfg.icon_file()
    version = None
    if sys.platform == "win32":  # file/product version in the .exe's Properties > Details
        version = str(cfg.windows_version_file(Path(CONF["workpath"]), cfg.app_version()))
    common = dict(debug=False, bootloader_ignore_signals=False, strip=False, upx=False,
                  disable_windowed_traceback=False, argv_emulation=False, target_arch=None,
                  codesign_identity=None, entitlements_file=None, icon=icon, version=version)
    if onefile:
        return EXE(pyz, a.scripts, a.binaries, a.datas, [], name=cfg.APP_NAME,
                   console=False, runtime_tmpdir=None, **common)
    gui = EXE(pyz, a.scripts, [], exclude_binaries=True, name=cfg.APP_NAME,
              console=False, **common)
    cli = EXE(pyz, a.scripts, [], exclude_binaries=True, name=cfg.CLI_NAME,
              console=True, **common)
    return COLLECT(gui, cli, a.binaries, a.datas, strip=False, upx=False, name=cfg.APP_NAME)
