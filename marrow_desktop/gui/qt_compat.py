"""Refuse Qt for Python builds that corrupt the interpreter, with a clear message.

PySide6(-Essentials) 6.12.0 on Python < 3.12 returns `None` from every void call and `True` from
every `Signal.emit()` without taking a reference. Before Python 3.12 these objects are not
immortal, so after a few hundred calls the interpreter aborts ("Fatal Python error: none_dealloc"
or "bool_dealloc"). 6.11.x is fine. The probe below measures the defect instead of trusting a
version number, so a fixed 6.12.x passes.
"""

from __future__ import annotations

import sys

_checked: str | None = None


def runtime_problem() -> str:
    """'' when this PySide6 is safe to use, else a message saying what to install."""
    global _checked
    if _checked is not None:
        return _checked
    _checked = ""
    if sys.version_info >= (3, 12):  # None and True are immortal: the defect cannot crash
        return _checked
    import PySide6
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(32):
        probe.setObjectName("probe")
        probe.ping.emit()
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    if lost_none >= 32 or lost_true >= 32:
        _checked = (
            f"PySide6 {PySide6.__version__} does not work with Python "
            f"{sys.version_info.major}.{sys.version_info.minor} (it releases references to "
            "None/True it does not hold and the program would crash). Install another "
            "version, e.g. pip install 'PySide6-Essentials>=6.6,<6.12', or use Python 3.12+.")
    return _checked


#: Libraries Qt's X11 platform plugin loads that PySide6 wheels (and PyInstaller) do not carry:
#: (shared object, Debian/Ubuntu package).
XCB_LIBRARIES = (("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxcb-icccm.so.4", "libxcb-icccm4"),
                 ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
                 ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"))


def display_problem() -> str:
    """'' when Qt can open its window here, else the line to print instead of Qt's abort
    ("Could not load the Qt platform plugin xcb"): Linux with X11 only, where the missing
    system libraries are named with the command that installs them."""
    import ctypes
    import os

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb") \
            or (not platform and os.environ.get("WAYLAND_DISPLAY")):
        return ""
    missing = []
    for library, package in XCB_LIBRARIES:
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(package)
    if not missing:
        return ""
    return ("the viewer needs X11 libraries this system lacks: " + ", ".join(missing)
            + f". Install them (Debian/Ubuntu: sudo apt install {' '.join(missing)}; "
            "Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms "
            "libxkbcommon-x11) and start it again.")
