"""A Linux desktop without Qt's X11 libraries gets one line naming them, not Qt's abort."""

from __future__ import annotations

import ctypes
import sys

import pytest

from marrow_desktop.gui import app, qt_compat


@pytest.fixture()
def no_xcb_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ctypes.CDLL

    def cdll(name: str, *args, **kwargs):
        if name == "libxcb-cursor.so.0":
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def test_missing_xcb_libraries_are_named(no_xcb_cursor, monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    problem = qt_compat.display_problem()
    assert "libxcb-cursor0" in problem and "sudo apt install libxcb-cursor0" in problem
    assert app.main([]) == 3
    assert "marrow-desktop: the viewer needs X11 libraries" in capsys.readouterr().err


def test_other_platforms_are_not_checked(no_xcb_cursor, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_compat.display_problem() == ""
