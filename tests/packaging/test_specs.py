"""The PyInstaller specs and bundle rules, checked without running PyInstaller (too slow)."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from marrow_desktop.core.paths import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))

import bundle_config as cfg  # noqa: E402


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_marrow_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flavour", cfg.FLAVOURS)
def test_spec_file_parses_and_names_its_flavour(flavour: str) -> None:
    tree = ast.parse((PACKAGING / f"marrow-{flavour}.spec").read_text(encoding="utf-8"))
    assigned = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    assert assigned["FLAVOUR"] == flavour
    calls = [n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "make_bundle" in calls
    ast.parse((PACKAGING / "spec_common.py").read_text(encoding="utf-8"))


def test_spec_common_builds_two_executables_gui_windowed() -> None:
    text = (PACKAGING / "spec_common.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    exes = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == "EXE"]
    consoles = {}
    for call in exes:
        kw = {k.arg: k.value for k in call.keywords}
        consoles[ast.unparse(kw["name"])] = ast.unparse(kw["console"])
    assert consoles["cfg.APP_NAME"] == "False"  # no console window for the GUI on Windows
    assert consoles["cfg.CLI_NAME"] == "True"
    assert "icon=icon" in text and "excludes=cfg.excludes(flavour)" in text


def test_cpu_excludes_the_heavy_and_unused() -> None:
    ex = set(cfg.excludes("cpu"))
    for name in ("torch", "torchvision", "timm", "pytorch_grad_cam", "matplotlib", "scipy",
                 "sklearn", "tkinter", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore",
                 "PySide6.QtQuick", "PySide6.QtQml", "PySide6.QtMultimedia", "PySide6.QtPdf",
                 "PySide6.QtNetwork", "pyqtgraph.opengl", "pyqtgraph.examples",
                 "pyqtgraph.jupyter", "marrow_desktop.inference.torch_backend"):
        assert name in ex, name
    for name in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg",
                 "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "onnxruntime", "cv2", "numpy",
                 "PIL", "pyqtgraph", "tqdm", "sqlite3", "marrow_desktop"):
        assert name not in ex, name


def test_gpu_keeps_the_torch_stack() -> None:
    ex = set(cfg.excludes("gpu"))
    for name in ("torch", "torchvision", "timm", "pytorch_grad_cam", "safetensors",
                 "matplotlib", "scipy", "sklearn", "ttach", "tqdm", "ssl", "huggingface_hub"):
        assert name not in ex, name
    assert {"tkinter", "PySide6.QtWebEngineCore", "PySide6.QtQuick", "triton"} <= ex
    assert cfg.dynamic_lib_packages("gpu") == ["torchvision"]
    assert not cfg.dynamic_lib_packages("cpu")
    hidden = cfg.hiddenimports("gpu")
    assert "marrow_desktop.inference.torch_backend" in hidden and "pytorch_grad_cam" in hidden
    assert not any(h.startswith(("torch", "timm", "pytorch_grad_cam", "marrow_desktop.inference"
                                 ".torch")) for h in cfg.hiddenimports("cpu"))


def test_unknown_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="flavour"):
        cfg.excludes("tpu")


def test_runtime_imports_nothing_the_cpu_bundle_excludes() -> None:
    """Import what the CPU bundle runs (GUI modules, CLI, selftest, ONNX backend) and check
    that no module the cpu spec excludes gets imported (it would be missing when frozen)."""
    pytest.importorskip("PySide6")
    code = """
import importlib, json, pkgutil, sys
import marrow_desktop, marrow_desktop.core, marrow_desktop.commands, marrow_desktop.gui
import marrow_desktop.gui.widgets
mods = ["marrow_desktop.cli", "marrow_desktop.selftest", "marrow_desktop.inference.onnx_backend",
        "marrow_desktop.inference.loader", "pyqtgraph", "PIL.Image"]
for pkg in (marrow_desktop.core, marrow_desktop.commands, marrow_desktop.gui,
            marrow_desktop.gui.widgets):
    mods += [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]
for m in mods:
    importlib.import_module(m)
print(json.dumps(sorted(sys.modules)))
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    excluded = set(cfg.excludes("cpu")) - set(cfg.GUARDED_IMPORTS)
    bad = sorted(m for m in loaded if m in excluded or any(m.startswith(e + ".") for e in excluded))
    assert not bad, f"imported at run time but excluded from the cpu bundle: {bad}"


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/translations/qtbase_de.qm", "PySide6/Qt/qml/QtQuick/qmldir",
    "PySide6/Qt/lib/libQt6Pdf.so.6", "PySide6/Qt/lib/libQt6Quick.so.6",
    "PySide6/Qt6Network.dll", "PySide6/opengl32sw.dll", "cv2/opencv_videoio_ffmpeg4100_64.dll",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so", "PySide6/plugins/tls/qopensslbackend.dll",
    "PySide6\\Qt6Quick.dll",
])
def test_pruned(dest: str) -> None:
    assert cfg.is_pruned(dest, cfg.prune_patterns("cpu"))


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt/lib/libQt6Svg.so.6",
    "PySide6/Qt/lib/libQt6OpenGL.so.6", "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/Qt/plugins/imageformats/libqsvg.so", "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "onnxruntime/capi/onnxruntime_pybind11_state.pyd", "cv2/cv2.abi3.so",
    "numpy.libs/libscipy_openblas64_.so", f"models/{DEFAULT_MODEL}.onnx",
    "resources/samples/BLA_00851.jpg", "resources/icons/marrow.svg",
])
def test_kept(dest: str) -> None:
    assert not cfg.is_pruned(dest, cfg.prune_patterns("cpu"))
    assert not cfg.is_pruned(dest, cfg.prune_patterns("gpu"))


def test_gpu_prunes_torch_build_files() -> None:
    patterns = cfg.prune_patterns("gpu")
    assert cfg.is_pruned("torch/include/ATen/ATen.h", patterns)
    assert cfg.is_pruned("torch/lib/libc10.a", patterns)
    assert not cfg.is_pruned("torch/lib/libtorch_cuda.so", patterns)
    assert not cfg.is_pruned("torch/bin/torch_shm_manager", patterns)  # import torch needs it


def test_package_libraries_finds_extension_files() -> None:
    libs = cfg.package_libraries("numpy._core")
    assert libs and all(dest == "numpy/_core" for _, dest in libs)
    assert any("_multiarray_umath" in src for src, _ in libs)
    assert cfg.package_libraries("no_such_package_here") == []


def test_prune_keeps_python_sources() -> None:
    toc = [("torch/testing/_internal/common.py", "x", "DATA"),
           ("torch/include/ATen/ATen.h", "x", "DATA"),
           ("PySide6/Qt/translations/qt_de.qm", "x", "DATA")]
    kept, dropped = cfg.prune(toc, cfg.prune_patterns("gpu"))
    assert [e[0] for e in kept] == ["torch/testing/_internal/common.py"]
    assert len(dropped) == 2


def _extension_with_needs() -> Path:
    import numpy

    for path in sorted(Path(numpy.__file__).parent.rglob("*.so")):
        if cfg.elf_needed(path):
            return path
    pytest.skip("no ELF extension module with dependencies found")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF/Linux only")
def test_elf_needed_reads_dependencies(tmp_path: Path) -> None:
    ext = _extension_with_needs()
    needed = cfg.elf_needed(ext)
    assert all(isinstance(n, str) and ".so" in n for n in needed)
    (tmp_path / "text.so").write_text("not an ELF file")
    assert cfg.elf_needed(tmp_path / "text.so") == []
    assert cfg.elf_needed(tmp_path / "missing.so") == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF/Linux only")
def test_drop_orphans_keeps_linked_and_drops_unlinked() -> None:
    ext = _extension_with_needs()
    needed = cfg.elf_needed(ext)[0]
    binaries = [
        ("numpy/_core/ext.so", str(ext), "EXTENSION"),
        (needed, str(ext), "BINARY"),  # the file does not matter, only its name is linked
        ("libnobodyneedsme.so.1", str(ext), "BINARY"),
        ("onnxruntime/capi/libonnxruntime_providers_shared.so", str(ext), "BINARY"),
        # a top-level extension module is imported, never linked: not an orphan
        ("_cffi_backend.cpython-311-x86_64-linux-gnu.so", str(ext), "EXTENSION"),
    ]
    datas = [("libalias.so.1", "libnobodyneedsme.so.1", "SYMLINK"),
             ("resources/x.txt", "/dev/null", "DATA")]
    kept, kept_datas, dropped = cfg.drop_orphans(binaries, datas)
    names = [e[0] for e in kept]
    assert needed in names and "numpy/_core/ext.so" in names
    assert "onnxruntime/capi/libonnxruntime_providers_shared.so" in names  # never an orphan
    assert "_cffi_backend.cpython-311-x86_64-linux-gnu.so" in names
    assert "libnobodyneedsme.so.1" not in names
    assert [e[0] for e in kept_datas] == ["resources/x.txt"]
    assert {e[0] for e in dropped} == {"libnobodyneedsme.so.1", "libalias.so.1"}


def test_model_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cfg.MODELS_ENV, str(tmp_path))
    with pytest.raises(SystemExit, match="no model to bundle"):
        cfg.model_files("cpu")
    name = cfg.MODEL_NAME
    (tmp_path / f"{name}.json").write_text(json.dumps(
        {"files": {"onnx": f"{name}.onnx", "torch": f"{name}.safetensors"}}), encoding="utf-8")
    (tmp_path / f"{name}.onnx").write_bytes(b"x")
    (tmp_path / "MODEL_CARD.md").write_text("card", encoding="utf-8")
    assert [p.name for p in cfg.model_files("cpu")] == [f"{name}.json", f"{name}.onnx",
                                                         "MODEL_CARD.md"]
    with pytest.raises(SystemExit, match="torch"):
        cfg.model_files("gpu")
    (tmp_path / f"{name}.safetensors").write_bytes(b"x")
    assert f"{name}.safetensors" in [p.name for p in cfg.model_files("gpu")]
    dests = {dest for _, dest in cfg.datas("gpu")}
    assert {"resources", "models", "marrow_desktop/core/templates"} <= dests
    # the lab-shift statistics the JSON names travel with the model, or the build stops
    (tmp_path / f"{name}.json").write_text(json.dumps(
        {"files": {"onnx": f"{name}.onnx", "domain": f"{name}.domain.npz"}}), encoding="utf-8")
    with pytest.raises(SystemExit, match="lab-shift statistics"):
        cfg.model_files("cpu")
    (tmp_path / f"{name}.domain.npz").write_bytes(b"x")
    assert f"{name}.domain.npz" in [p.name for p in cfg.model_files("cpu")]


def test_icons_exist() -> None:
    icons = REPO / "resources" / "icons"
    assert (icons / "marrow.png").is_file()
    ico = (icons / "marrow.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00" and int.from_bytes(ico[4:6], "little") >= 4


def test_largest_parts_is_a_breakdown(tmp_path: Path) -> None:
    build = _load("build")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "a.bin").write_bytes(b"x" * 6000)
    (tmp_path / "big" / "b.bin").write_bytes(b"x" * 3000)
    (tmp_path / "small.bin").write_bytes(b"x" * 1000)
    parts = build.largest_parts(tmp_path, count=15)
    assert [p.name for p, _ in parts] == ["a.bin", "b.bin", "small.bin"]  # "big" opened up
    assert sum(size for _, size in parts) == 10000


def test_constraints_pin_a_safe_pyside() -> None:
    pins = _load("build").pinned_versions()
    wanted = {"pyside6-essentials", "opencv-python-headless", "onnxruntime", "pyinstaller"}
    assert wanted <= set(pins)
    assert not pins["pyside6-essentials"].startswith("6.12.0")  # see gui/qt_compat.py


def test_entry_dispatches_by_executable_name(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    entry = _load("entry")
    monkeypatch.setattr(sys, "executable", "/opt/marrow-desktop/marrow-desktop")
    monkeypatch.setattr(sys, "argv", ["marrow-desktop", "--version"])
    assert entry.main() == 0
    assert "marrow-desktop" in capsys.readouterr().out

    calls = []
    import marrow_desktop.selftest as st

    monkeypatch.setattr(st, "main", lambda argv: calls.append(list(argv)) or 0)
    monkeypatch.setattr(sys, "argv", ["marrow-desktop", "--selftest", "--backend", "onnx"])
    assert entry.main() == 0
    assert calls == [["--selftest", "--backend", "onnx"]]

    monkeypatch.setattr(sys, "executable", "C:\\Program Files\\marrow-desktop\\marrow.exe"
                        if sys.platform == "win32" else "/opt/marrow-desktop/marrow")
    monkeypatch.setattr(sys, "argv", ["marrow", "--version"])
    with pytest.raises(SystemExit) as exc:
        entry.main()
    assert exc.value.code == 0


def test_windows_version_resource_is_a_python_expression(tmp_path: Path) -> None:
    """PyInstaller evals this file on Windows; here we check it parses and carries the version."""
    path = cfg.windows_version_file(tmp_path, "1.2.3")
    text = path.read_text(encoding="utf-8")
    ast.parse(text, mode="eval")
    assert "filevers=(1, 2, 3, 0)" in text and "'ProductVersion', '1.2.3'" in text
    import marrow_desktop

    assert cfg.app_version() == marrow_desktop.__version__
