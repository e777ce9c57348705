"""Build the cpu bundle with PyInstaller and run it (CI's torch-free venv has the [build] extra).

packaging/build.py builds into a temporary folder and smoke-tests the executables itself
(--version, --selftest, `marrow selftest`, `marrow classify`, `marrow report`, the GUI
offscreen); this test then runs the bundled self-test again with no network at all.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _no_network_prefix() -> list[str] | None:
    """A command prefix that runs a program in a new network namespace (loopback only)."""
    unshare = shutil.which("unshare")
    if unshare is None or sys.platform != "linux":
        return None
    for prefix in ([unshare, "-n"], [unshare, "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                    reason="PyInstaller is not installed (pip install -e '.[build]')")
def test_cpu_bundle_builds_and_passes_its_selftest(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "packaging" / "build.py"), "--flavour", "cpu",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=1800, cwd=REPO)
    out = proc.stdout + proc.stderr
    print(out[-6000:])
    assert proc.returncode == 0, out[-3000:]
    assert "all checks passed" in out and "SELFTEST PASSED" in out
    size = float(re.search(r"cpu bundle: ([\d.]+) MB", out).group(1))
    assert size < 450, f"the cpu bundle grew to {size} MB (torch or an unpruned library?)"

    bundle = tmp_path / "dist" / "cpu" / "marrow-desktop"
    assert not list(bundle.rglob("libtorch*")), "torch must not be in the cpu bundle"
    prefix = _no_network_prefix()
    if prefix is None:
        pytest.skip("no network namespace here (unshare); the in-process offline test covers it")
    cli = bundle / ("marrow.exe" if sys.platform == "win32" else "marrow")
    offline = subprocess.run([*prefix, str(cli), "selftest"], capture_output=True, text=True,
                             timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                               "MARROW_DATA_DIR": str(tmp_path / "data"),
                                               "QT_QPA_PLATFORM": "offscreen"})
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "SELFTEST PASSED" in offline.stdout
