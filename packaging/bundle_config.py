"""What goes into each bundle flavour: shared by the .spec files, build.py and the tests.

Pure Python (no PyInstaller import), so tests can check the excludes without building.

Flavours
  cpu  PySide6 + ONNX Runtime + OpenCV + numpy + Pillow + pyqtgraph, the ONNX model.
  gpu  the same plus torch, timm, pytorch-grad-cam and the .safetensors weights.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
from pathlib import Path

from marrow_desktop.core.paths import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
ENTRY_SCRIPT = PACKAGING / "entry.py"
APP_NAME = "marrow-desktop"  # the windowed GUI executable and the bundle folder
CLI_NAME = "marrow"  # the console executable: `marrow selftest`, `marrow classify ...`
FLAVOURS = ("cpu", "gpu")
MODEL_NAME = DEFAULT_MODEL  # the shipped model's file stem (one place: core/paths.py)
#: build.py sets this to bundle a model from another folder (default: REPO/models).
MODELS_ENV = "MARROW_BUILD_MODELS_DIR"

# --- Python modules left out ---------------------------------------------------------------

#: Never imported by the application at run time (tools, notebooks, other GUI toolkits, tests).
EXCLUDES_COMMON = [
    "tkinter", "_tkinter", "turtle", "turtledemo", "idlelib", "lib2to3", "pydoc_data",
    "IPython", "ipykernel", "jupyter", "jupyter_client", "notebook", "nbformat",
    "pytest", "_pytest", "pytestqt", "ruff", "PyInstaller", "pip", "setuptools",
    "pkg_resources", "distutils", "docutils", "sphinx",
    "PyQt5", "PyQt6", "PySide2", "wx", "gi",
    "pyqtgraph.opengl", "pyqtgraph.examples", "pyqtgraph.jupyter", "pyqtgraph.canvas",
    "pyqtgraph.flowchart", "pyqtgraph.console", "OpenGL", "cupy", "h5py", "metaarray",
    "onnxruntime.tools", "onnxruntime.transformers", "onnxruntime.quantization",
    "onnxruntime.training", "onnxruntime.backend",
    "triton",  # torch.compile's GPU compiler; torch works without it (eager mode)
    "tensorboard", "torch.utils.tensorboard", "wandb", "mlflow",
    # Pillow plugins for formats the app does not read (it reads PNG, JPEG, TIFF, BMP)
    "PIL._avif", "PIL.AvifImagePlugin", "PIL._webp", "PIL._imagingtk", "PIL.ImageTk",
]

#: cpu only - no network: TLS is never used (hashlib falls back to its built-in SHA-256). The
#: gpu flavour keeps them: timm imports huggingface_hub, which complains loudly without ssl.
NO_TLS = ["ssl", "_ssl", "_hashlib"]

#: Excluded modules that libraries import inside try/except, so their absence is handled:
#: hashlib falls back to built-in hashes, pyqtgraph wraps QtTest in FailedImport.
GUARDED_IMPORTS = ["ssl", "_ssl", "_hashlib", "PySide6.QtTest", "PIL._avif", "PIL._webp",
                   "PIL.AvifImagePlugin"]

#: Qt bindings the application does not use (QtCore, QtGui, QtWidgets, QtSvg stay).
QT_EXCLUDES = [
    f"PySide6.{m}" for m in (
        "QtWebEngine", "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick",
        "QtWebChannel", "QtWebSockets", "QtWebView", "QtHttpServer",
        "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras",
        "QtQml", "QtQuick", "QtQuick3D", "QtQuickControls2", "QtQuickWidgets", "QtQuickTest",
        "QtMultimedia", "QtMultimediaWidgets", "QtSpatialAudio", "QtTextToSpeech",
        "QtPdf", "QtPdfWidgets", "QtCharts", "QtDataVisualization", "QtGraphs",
        "QtGraphsWidgets", "QtBluetooth", "QtNfc", "QtPositioning", "QtLocation",
        "QtSensors", "QtSerialPort", "QtSerialBus", "QtRemoteObjects", "QtScxml",
        "QtStateMachine", "QtSql", "QtTest", "QtDesigner", "QtHelp", "QtUiTools",
        "QtNetwork", "QtNetworkAuth", "QtDBus", "QtXml", "QtConcurrent", "QtAxContainer",
        "QtVirtualKeyboard",  # QtOpenGL(Widgets) stay: pyqtgraph imports them
    )
]

#: Only the GPU flavour's PyTorch path needs these.
TORCH_STACK = [
    "torch", "torchvision", "torchaudio", "timm", "pytorch_grad_cam", "ttach", "safetensors",
    "huggingface_hub", "sympy", "mpmath", "networkx", "fsspec", "functorch",
    "nvidia", "marrow_desktop.inference.torch_backend", "marrow_desktop.inference.torch_model",
]

#: Training/plotting libraries; the runtime never imports them (pytorch-grad-cam does, GPU only).
SCIENCE_STACK = ["matplotlib", "scipy", "sklearn", "pandas", "onnx", "onnxscript"]


def excludes(flavour: str) -> list[str]:
    """Modules PyInstaller must leave out of a flavour."""
    check_flavour(flavour)
    # the gpu flavour keeps matplotlib, scipy and sklearn: pytorch_grad_cam/__init__ imports them
    extra = (TORCH_STACK + SCIENCE_STACK + NO_TLS if flavour == "cpu"
             else ["pandas", "onnxscript"])
    return sorted(set(EXCLUDES_COMMON + QT_EXCLUDES + extra))


def hiddenimports(flavour: str) -> list[str]:
    """Modules imported dynamically (the CLI's sub-commands, the backends)."""
    check_flavour(flavour)
    mods = [
        "marrow_desktop.cli", "marrow_desktop.commands", "marrow_desktop.selftest",
        "marrow_desktop.gui.app", "marrow_desktop.inference.onnx_backend",
        # the GUI's toolkit, named so the bundle has it even where the GUI imports it lazily
        "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg", "pyqtgraph",
    ]
    if flavour == "gpu":
        mods += ["marrow_desktop.inference.torch_backend", "marrow_desktop.inference.torch_model",
                 "timm", "pytorch_grad_cam", "safetensors.torch"]
    return mods


def dynamic_lib_packages(flavour: str) -> list[str]:
    """Packages whose shared libraries are loaded by path at run time and must be collected
    explicitly: torchvision 0.29 loads `_C_stable.so` (its operators, registered on import)
    by file name, which PyInstaller's torchvision hook does not collect."""
    check_flavour(flavour)
    return ["torchvision"] if flavour == "gpu" else []


def package_libraries(package: str) -> list[tuple[str, str]]:
    """(source, folder in the bundle) for the shared libraries at the top of a package."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = [p for pattern in ("*.so", "*.so.*", "*.pyd", "*.dll", "*.dylib")
             for p in folder.glob(pattern)]
    return sorted({(str(p), package.replace(".", "/")) for p in found})


# --- Files left out after analysis (binaries and data by their path in the bundle) -------------

#: Globs on the destination path inside the bundle (forward slashes, matched case-insensitively).
PRUNE_COMMON = [
    # Qt: translations (the interface is English), QML, and libraries of unused modules
    "PySide6/Qt/translations/*",
    "PySide6/Qt/qml/*",
    "PySide6/Qt/lib/libQt6Quick*", "PySide6/Qt/lib/libQt6Qml*", "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/lib/libQt6Network*", "PySide6/Qt/lib/libQt6VirtualKeyboard*",
    "PySide6/Qt/lib/libQt6Lottie*", "PySide6/Qt/lib/libQt6Labs*", "PySide6/Qt/lib/libQt6Designer*",
    "PySide6/Qt/lib/libQt6WaylandCompositor*", "PySide6/Qt/lib/libQt6Multimedia*",
    "PySide6/Qt/lib/libQt6WebEngine*", "PySide6/Qt/lib/libQt63D*",
    "PySide6/Qt6Quick*", "PySide6/Qt6Qml*", "PySide6/Qt6Pdf*", "PySide6/Qt6Network*",
    "PySide6/Qt6VirtualKeyboard*", "PySide6/Qt6Lottie*", "PySide6/Qt6Multimedia*",
    "PySide6/Qt6WebEngine*", "PySide6/Qt63D*", "PySide6/opengl32sw.dll",
    "PySide6/Qt*/plugins/tls/*", "PySide6/Qt*/plugins/networkinformation/*",
    "PySide6/Qt*/plugins/qmltooling/*", "PySide6/Qt*/plugins/multimedia/*",
    "PySide6/Qt*/plugins/imageformats/*pdf*", "PySide6/Qt*/plugins/platforminputcontexts/*",
    "PySide6/Qt*/plugins/virtualkeyboard/*", "PySide6/Qt*/plugins/sqldrivers/*",
    "PySide6/Qt*/plugins/designer/*", "PySide6/Qt*/plugins/generic/*",
    "PySide6/Qt*/plugins/egldeviceintegrations/*", "PySide6/Qt*/plugins/platforms/*eglfs*",
    "PySide6/Qt*/plugins/platforms/*linuxfb*", "PySide6/Qt*/plugins/platforms/*vnc*",
    "PySide6/Qt*/plugins/platforms/*vkkhrdisplay*",
    "PySide6/translations/*", "PySide6/qml/*",  # Windows wheel layout
    "PySide6/plugins/tls/*", "PySide6/plugins/networkinformation/*",
    "PySide6/plugins/qmltooling/*", "PySide6/plugins/multimedia/*",
    "PySide6/plugins/imageformats/*pdf*", "PySide6/plugins/sqldrivers/*",
    "PySide6/plugins/platforms/qdirect2d*", "PySide6/plugins/generic/*",
    "PySide6/Qt/lib/libQt6EglFS*",
    # the GTK theme plugin drags ~10 MB of the build host's GTK/GLib/cairo/pango into the
    # bundle (and mixing those with the target's own GTK is fragile); Qt's Fusion style stays
    "PySide6/Qt*/plugins/platformthemes/*gtk3*",
    # OpenCV's video I/O plugin (Windows: a separate, dlopen'ed DLL; on Linux ffmpeg is linked)
    "cv2/opencv_videoio_ffmpeg*", "opencv_videoio_ffmpeg*",
    # onnxruntime: only the CPU provider is used (GPU wheels ship others)
    "onnxruntime/capi/*providers_cuda*", "onnxruntime/capi/*providers_tensorrt*",
    "onnxruntime/capi/*providers_openvino*", "onnxruntime/capi/*providers_dnnl*",
    "onnxruntime/capi/*providers_rocm*", "onnxruntime/capi/*providers_migraphx*",
    # pyqtgraph: example data, icons of the flowchart/console, bundled colormaps stay
    "pyqtgraph/examples/*", "pyqtgraph/opengl/*",
    # test data of any package
    "*/tests/*", "*/testing/*",
]

#: The GPU flavour additionally drops torch's build-time files and multi-GPU pieces.
PRUNE_GPU = [
    # (torch/bin stays: `import torch` checks for torch/bin/torch_shm_manager)
    "torch/include/*", "torch/share/*", "torch/test/*", "torch/lib/*.a",
    "torch/_inductor/*", "torch/utils/benchmark/*", "triton/*", "caffe2/*",
    "torchvision/datasets/*", "torch/testing/*",
    "matplotlib/mpl-data/sample_data/*", "matplotlib/mpl-data/fonts/afm/*",
    "matplotlib/mpl-data/fonts/pdfcorefonts/*",
]


#: Bundle folders whose libraries are loaded by name at run time, never removed as orphans.
NEVER_ORPHANS = ["onnxruntime/*", "torch/*", "nvidia/*"]


def prune_patterns(flavour: str) -> list[str]:
    check_flavour(flavour)
    return PRUNE_COMMON + (PRUNE_GPU if flavour == "gpu" else [])


def is_pruned(dest: str, patterns: list[str]) -> bool:
    """True when a bundle path (as in a PyInstaller TOC) matches one of the globs."""
    name = dest.replace("\\", "/").lower()
    return any(fnmatch.fnmatch(name, p.lower()) for p in patterns)


def prune(toc: list, patterns: list[str]) -> tuple[list, list]:
    """Split a PyInstaller TOC (dest, src, typecode) into kept and dropped entries.

    Python sources are always kept: torch, torchvision and timm are collected with their .py
    files because they read their own source at import (TorchScript, inspect.getsource).
    """
    kept, dropped = [], []
    for entry in toc:
        source = entry[0].endswith(".py")
        (dropped if is_pruned(entry[0], patterns) and not source else kept).append(entry)
    return kept, dropped


def elf_needed(path: str | Path) -> list[str]:
    """DT_NEEDED entries of an ELF64 little-endian shared object ([] if not such a file)."""
    import struct

    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    needed = []
    for _name, sh_type, _f, _a, offset, size, link, _i, _al, entsize in sections:
        if sh_type != 6 or not entsize:  # SHT_DYNAMIC
            continue
        strtab = sections[link][4]
        for pos in range(offset, offset + size, entsize):
            tag, val = struct.unpack_from("<qQ", data, pos)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\0", strtab + val)
                needed.append(data[strtab + val:end].decode())
    return needed


def _is_extension_module(name: str) -> bool:
    """A Python extension module (imported, never linked: e.g. cffi's top-level
    `_cffi_backend.cpython-311-x86_64-linux-gnu.so`, which cryptography imports)."""
    base = name.rsplit("/", 1)[-1]
    return ".cpython-" in base or base.endswith((".abi3.so", ".pyd"))


def _orphan_candidate(dest: str) -> bool:
    name = dest.replace("\\", "/")
    return ("/" not in name or name.startswith("PySide6/Qt/lib/")) \
        and not name.startswith("libpython") and not is_pruned(name, NEVER_ORPHANS) \
        and not _is_extension_module(name)


def drop_orphans(binaries: list, datas: list) -> tuple[list, list, list]:
    """Linux: remove dependency-only libraries no kept binary links to any more (the leftovers
    of pruned plugins), and the symlinks pointing at them. Returns (binaries, datas, dropped).

    Only top-level libraries and PySide6/Qt/lib are candidates; extension modules, Qt plugins
    and package folders are roots and always kept.
    """
    if not sys.platform.startswith("linux"):
        return binaries, datas, []
    by_name: dict[str, list] = {}
    for entry in binaries:
        if _orphan_candidate(entry[0]):
            by_name.setdefault(Path(entry[0]).name, []).append(entry)
    # symlinks (in datas) make a library reachable under another name
    for entry in datas:
        if entry[2] == "SYMLINK":
            target = Path(entry[0]).parent / entry[1]
            for lib in binaries:
                if Path(lib[0]) == target and _orphan_candidate(lib[0]):
                    by_name.setdefault(Path(entry[0]).name, []).append(lib)
    keep: set[str] = set()
    todo = [e for e in binaries if not _orphan_candidate(e[0])]
    while todo:
        entry = todo.pop()
        for name in elf_needed(entry[1]):
            for lib in by_name.get(name, []):
                if lib[0] not in keep:
                    keep.add(lib[0])
                    todo.append(lib)
    kept = [e for e in binaries if not _orphan_candidate(e[0]) or e[0] in keep]
    dropped = [e for e in binaries if _orphan_candidate(e[0]) and e[0] not in keep]
    present = {e[0].replace("\\", "/") for e in kept} | {
        e[0].replace("\\", "/") for e in datas if e[2] != "SYMLINK"}
    kept_datas = []
    for entry in datas:
        if entry[2] == "SYMLINK":
            target = (Path(entry[0]).parent / entry[1]).as_posix()
            if target not in present:
                dropped.append(entry)
                continue
        kept_datas.append(entry)
    return kept, kept_datas, dropped


def strip_python_runtime(binaries: list, workdir: Path) -> tuple[list, int]:
    """Linux: strip debug symbols from the interpreter's own libraries (libpython, lib-dynload),
    which source-built Pythons (pyenv) ship unstripped; wheels' libraries are left alone (many
    are patched by auditwheel, and strip can break those). Returns (binaries, bytes saved)."""
    import shutil
    import subprocess
    import sysconfig

    tool = shutil.which("strip")
    if not sys.platform.startswith("linux") or not tool:
        return binaries, 0
    base = Path(sys.base_prefix).resolve()
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    out, saved = [], 0
    for dest, src, kind in binaries:
        real = Path(src).resolve()
        ours = base in real.parents and not any(s in real.parents for s in site)
        if ours and real.is_file():
            target = workdir / "stripped" / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(real, target)
            if subprocess.run([tool, "--strip-unneeded", str(target)],
                              capture_output=True).returncode == 0:
                saved += real.stat().st_size - target.stat().st_size
                src = str(target)
        out.append((dest, src, kind))
    return out, saved


# --- Data files ----------------------------------------------------------------------------------

def models_source() -> Path:
    return Path(os.environ.get(MODELS_ENV) or REPO / "models")


def model_files(flavour: str, folder: Path | None = None) -> list[Path]:
    """The model files a flavour ships: sidecar JSON, ONNX, the lab-shift statistics the JSON
    names (+ safetensors for gpu), model card.

    Raises SystemExit with a clear message when the model is not there to bundle.
    """
    check_flavour(flavour)
    folder = folder or models_source()
    sidecar = folder / f"{MODEL_NAME}.json"
    if not sidecar.is_file():
        raise SystemExit(f"no model to bundle: {sidecar} is missing (put the shipped model in "
                         f"models/ or point ${MODELS_ENV} at a folder holding it)")
    spec = json.loads(sidecar.read_text(encoding="utf-8"))
    roles = ["onnx"] + (["torch"] if flavour == "gpu" else [])
    files = [sidecar]
    for role in roles:
        name = (spec.get("files") or {}).get(role)
        if not name or not (folder / name).is_file():
            raise SystemExit(f"no model to bundle: {sidecar.name} names no {role} file or "
                             f"{folder / str(name)} is missing")
        files.append(folder / name)
    domain = (spec.get("files") or {}).get("domain")
    if domain:  # named in the JSON: the model's identity expects it (checked by its hash)
        if not (folder / domain).is_file():
            raise SystemExit(f"no model to bundle: {folder / domain} (its lab-shift "
                             "statistics) is missing")
        files.append(folder / domain)
    card = folder / "MODEL_CARD.md"
    if card.is_file():
        files.append(card)
    return files


def datas(flavour: str) -> list[tuple[str, str]]:
    """(source, folder in the bundle) pairs for PyInstaller's `datas`."""
    out = [(str(REPO / "resources"), "resources"),
           # the case report's Jinja2 templates (read by PackageLoader from the package)
           (str(REPO / "marrow_desktop" / "core" / "templates"), "marrow_desktop/core/templates")]
    out += [(str(f), "models") for f in model_files(flavour)]
    for name in ("LICENSE", "README.md"):
        if (REPO / name).is_file():
            out.append((str(REPO / name), "."))
    return out


def icon_file() -> str | None:
    """The executable icon: .ico on Windows, none elsewhere (Linux uses the window icon)."""
    if sys.platform == "win32":
        return str(REPO / "resources" / "icons" / "marrow.ico")
    if sys.platform == "darwin":  # PyInstaller converts a .png with Pillow
        return str(REPO / "resources" / "icons" / "marrow.png")
    return None


def windows_version_file(workdir: Path, version: str) -> Path:
    """A PyInstaller version resource (the Details tab of the .exe's Properties)."""
    nums = [int(p) for p in re.findall(r"\d+", version)[:4]]
    nums += [0] * (4 - len(nums))
    four = tuple(nums)
    text = f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={four}, prodvers={four}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
      StringStruct('CompanyName', 'marrow-desktop'),
      StringStruct('FileDescription', 'Marrow Desktop - bone-marrow cell classification'),
      StringStruct('FileVersion', '{version}'),
      StringStruct('InternalName', '{APP_NAME}'),
      StringStruct('OriginalFilename', '{APP_NAME}.exe'),
      StringStruct('ProductName', 'Marrow Desktop'),
      StringStruct('ProductVersion', '{version}')])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "version_info.txt"
    path.write_text(text, encoding="utf-8")
    return path


def app_version() -> str:
    """marrow_desktop.__version__, read without importing the package."""
    text = (REPO / "marrow_desktop" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'__version__\s*=\s*["\']([^"\']+)["\']', text)
    return match.group(1) if match else "0.0.0"


def check_flavour(flavour: str) -> None:
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; choose one of {', '.join(FLAVOURS)}")
