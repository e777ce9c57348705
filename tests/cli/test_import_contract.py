"""Import contract: the core, the CLI and `marrow --help` load neither torch nor Qt, and an ONNX
classify run works where torch cannot be imported at all."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import marrow_desktop.core

HEAVY = ("torch", "timm", "pytorch_grad_cam", "PySide6", "pyqtgraph")
CORE_MODULES = sorted(f"marrow_desktop.core.{m.name}"
                      for m in pkgutil.iter_modules(marrow_desktop.core.__path__))


def _python(code: str, *, block: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in block)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300)


def _loaded_heavy(code: str) -> list[str]:
    report = f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = _python(textwrap.dedent(code) + report)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_core_and_cli_import_neither_torch_nor_qt() -> None:
    assert len(CORE_MODULES) >= 10
    imports = "\n".join(f"import {m}" for m in ["marrow_desktop", *CORE_MODULES,
                                                "marrow_desktop.cli"])
    assert _loaded_heavy(imports) == []


def test_help_imports_neither_torch_nor_qt() -> None:
    for argv in (["--help"], ["classify", "--help"], ["qc", "--help"]):
        code = f"""
            from marrow_desktop.cli import main
            try:
                main({argv!r})
            except SystemExit as exc:
                assert exc.code == 0
        """
        assert _loaded_heavy(code) == [], argv


def test_marrow_script_help() -> None:
    script = Path(sys.executable).with_name("marrow")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "marrow_desktop"]
    proc = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "classify" in proc.stdout and "qc" in proc.stdout


def test_onnx_classify_with_torch_blocked(model_json: Path, sample_dir: Path,
                                          tmp_path: Path) -> None:
    out, cams = tmp_path / "r.csv", tmp_path / "cams"
    code = f"""
        from marrow_desktop.cli import main
        rc = main(["classify", {str(sample_dir)!r}, "-o", {str(out)!r}, "--model",
                   {str(model_json)!r}, "--cam-dir", {str(cams)!r}, "--no-store",
                   "--no-progress"])
        assert "torch" not in [k for k, v in sys.modules.items() if v is not None]
        sys.exit(rc)
    """
    proc = _python(code, block=("torch", "timm", "torchvision", "PySide6"))
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 22 and all(",ok," in line for line in lines[1:])
    assert len(list(cams.glob("*.png"))) == 21
