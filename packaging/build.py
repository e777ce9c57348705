"""Build an offline bundle of marrow-desktop with PyInstaller, measure it and smoke-test it.

    python packaging/build.py --flavour cpu            # dist/cpu/marrow-desktop/ (one folder)
    python packaging/build.py --flavour gpu            # dist/gpu/marrow-desktop/
    python packaging/build.py --flavour cpu --onefile  # dist/cpu-onefile/marrow-desktop[.exe]

Run it with the Python of a build environment holding the runtime dependencies and PyInstaller
(for cpu: no torch, see packaging/README.md). After building it prints the bundle's size and its
15 largest parts, checks (Linux) that every bundled library finds its dependencies, then runs the
built executables: `--version` (and the flavour it reports) and `--selftest` (exit code 0).
Exit code: 0 when the build and every check passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bundle_config as cfg

TOP_PARTS = 15
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""


def human(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def version() -> str:
    return cfg.app_version()


# --- measuring -----------------------------------------------------------------------------------

def tree_sizes(root: Path) -> dict[Path, int]:
    """Bytes under every file and folder below root (files counted once, links not followed)."""
    sizes: dict[Path, int] = {}
    for folder, dirs, files in os.walk(root, topdown=False):
        here = Path(folder)
        total = 0
        for name in files:
            path = here / name
            size = path.lstat().st_size
            sizes[path] = size
            total += size
        for name in dirs:
            total += sizes.get(here / name, 0)
        sizes[here] = total
    return sizes


def largest_parts(root: Path, count: int = TOP_PARTS, split_above: float = 0.08
                  ) -> list[tuple[Path, int]]:
    """A non-overlapping breakdown: folders bigger than split_above of the total are opened up
    (repeatedly) into their children; the `count` largest parts are returned."""
    if root.is_file():
        return [(root, root.stat().st_size)]
    sizes = tree_sizes(root)
    total = sizes[root] or 1
    parts = [p for p in root.iterdir()]
    while True:
        big = [p for p in parts if p.is_dir() and not p.is_symlink()
               and sizes.get(p, 0) > split_above * total and any(p.iterdir())]
        if not big:
            break
        for folder in big:
            parts.remove(folder)
            parts.extend(folder.iterdir())
    ranked = sorted(((p, sizes.get(p, 0)) for p in parts), key=lambda t: -t[1])
    return ranked[:count]


def report_size(bundle: Path) -> int:
    total = bundle.stat().st_size if bundle.is_file() else tree_sizes(bundle)[bundle]
    nfiles = 1 if bundle.is_file() else sum(1 for p in bundle.rglob("*") if p.is_file())
    print(f"\nbundle   {bundle}")
    print(f"size     {human(total)} ({total / 2**20:,.1f} MiB) in {nfiles} files")
    if bundle.is_dir():
        print(f"largest {TOP_PARTS} parts (folders above 8% of the total are opened up):")
        for path, size in largest_parts(bundle):
            kind = "/" if path.is_dir() else ""
            print(f"  {human(size):>11}  {100 * size / total:5.1f}%  "
                  f"{path.relative_to(bundle).as_posix()}{kind}")
    return total


def check_linked_libraries(bundle: Path, python: str) -> tuple[list[str], list[str]]:
    """Linux: bundled libraries whose dependencies ldd cannot resolve.

    Returns (errors, system): errors name libraries the build environment has (so pruning
    removed something needed); system lists ones this machine lacks too, which the target
    system must provide (e.g. GTK for a theme plugin) - reported, not failed.
    """
    if not sys.platform.startswith("linux") or not bundle.is_dir() or not shutil.which("ldd"):
        return [], []
    internal = bundle / "_internal"
    lib_dirs = {str(p.parent) for p in internal.rglob("*.so*")} | {str(internal)}
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(sorted(lib_dirs)))
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                            capture_output=True, text=True, check=True).stdout.split()
    errors, system = [], []
    for lib in sorted(internal.rglob("*.so*")):
        if not lib.is_file() or lib.is_symlink():
            continue
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, env=env).stdout
        for name in sorted({line.split()[0] for line in out.splitlines() if "not found" in line}):
            ours = any(next(Path(p).rglob(name), None) for p in prefix)
            (errors if ours else system).append(f"{lib.relative_to(bundle)} needs {name}")
    return errors, system


# --- smoke test ----------------------------------------------------------------------------------

def run_exe(args: list[str], timeout: int = 600) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MARROW_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"  # --selftest must not need a screen anyway
    with tempfile.TemporaryDirectory(prefix="marrow-smoke-") as tmp:
        env["MARROW_DATA_DIR"] = tmp
        t0 = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp, env=env,
                              timeout=timeout)
    return proc.returncode, (proc.stdout + proc.stderr).strip(), time.perf_counter() - t0


def gui_starts(exe: Path, seconds: float = 10.0) -> tuple[bool, str]:
    """Start the GUI on Qt's offscreen platform with the samples folder; it must still be
    running after `seconds` (then it is terminated). Returns (ok, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARROW_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    samples = exe.parent / "_internal" / "resources" / "samples"
    with tempfile.TemporaryDirectory(prefix="marrow-smoke-") as tmp:
        env.update(MARROW_DATA_DIR=tmp, HOME=tmp, XDG_CONFIG_HOME=tmp, APPDATA=tmp,
                   LOCALAPPDATA=tmp)
        args = [str(exe)] + ([str(samples)] if samples.is_dir() else [])
        with open(Path(tmp) / "out.txt", "w+", encoding="utf-8", errors="replace") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=env)
            try:
                proc.wait(timeout=seconds)
                ok = False
            except subprocess.TimeoutExpired:
                ok = True
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            out.seek(0)
            text = out.read().strip()
    return ok, text


def cli_classify(exe: Path) -> list[str]:
    """`marrow classify <bundled samples> -o CSV --no-store`: one ok row per sample."""
    samples = exe.parent / "_internal" / "resources" / "samples"
    n = sum(1 for p in samples.glob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="marrow-smoke-csv-") as tmp:
        csv_path = Path(tmp) / "samples.csv"
        cmd = ["classify", str(samples), "-o", str(csv_path), "--no-store", "--no-progress"]
        rc, out, secs = run_exe([str(exe), *cmd])
        print(f"\n$ {exe.name} classify <samples> -o samples.csv --no-store   "
              f"(exit {rc}, {secs:.1f} s)\n{out[-1500:]}")
        rows = csv_path.read_text(encoding="utf-8-sig").splitlines() if csv_path.is_file() else []
        ok_rows = sum(1 for r in rows[1:] if ",ok," in r)
    if rc != 0 or ok_rows != n:
        return [f"{exe.name} classify: exit {rc}, {ok_rows} ok rows for {n} samples"]
    print(f"  -> {ok_rows} ok rows for {n} samples")
    return []


def cli_report(exe: Path) -> list[str]:
    """`marrow report <bundled samples> -o DIR`: the case report's CSV and HTML page."""
    samples = exe.parent / "_internal" / "resources" / "samples"
    with tempfile.TemporaryDirectory(prefix="marrow-smoke-report-") as tmp:
        out_dir = Path(tmp) / "report"
        rc, out, secs = run_exe([str(exe), "report", str(samples), "-o", str(out_dir),
                                 "--no-progress"])
        print(f"\n$ {exe.name} report <samples> -o report/   (exit {rc}, {secs:.1f} s)\n"
              f"{out[-1500:]}")
        page = out_dir / "report.html"
        html = page.read_text(encoding="utf-8") if page.is_file() else ""
        written = (out_dir / "cells.csv").is_file() and 'id="blast-percent"' in html
    if rc != 0 or not written:
        return [f"{exe.name} report: exit {rc}, report files {'written' if written else 'missing'}"]
    return []


def smoke_test(exes: list[Path], flavour: str) -> list[str]:
    """--version (must name this version and flavour) and --selftest of each executable."""
    failures = []
    want = f"marrow-desktop {version()}"
    backend = ["--backend", "all"] if flavour == "gpu" else []
    for exe in exes:
        is_cli = exe.stem == cfg.CLI_NAME
        rc, out, secs = run_exe([str(exe), "--version"])
        print(f"\n$ {exe.name} --version   (exit {rc}, {secs:.1f} s)\n{out}")
        if rc != 0 or want not in out:
            failures.append(f"{exe.name} --version: exit {rc}, expected {want!r} in the output")
        if not is_cli and f"({flavour})" not in out:
            failures.append(f"{exe.name} --version does not report the {flavour} flavour")
        cmd = ["selftest", *backend] if is_cli else ["--selftest", *backend]
        rc, out, secs = run_exe([str(exe), *cmd])
        print(f"\n$ {exe.name} {' '.join(cmd)}   (exit {rc}, {secs:.1f} s)\n{out}")
        if rc != 0 or "SELFTEST PASSED" not in out:
            failures.append(f"{exe.name} {' '.join(cmd)}: exit {rc}")
        if f"({flavour} bundle)" not in out:
            failures.append(f"{exe.name} selftest does not report the {flavour} bundle")
        if is_cli:
            failures += cli_classify(exe)
            failures += cli_report(exe)
        if not is_cli:
            ok, out = gui_starts(exe)
            print(f"\n$ QT_QPA_PLATFORM=offscreen {exe.name} <samples>   "
                  f"({'still running after 10 s: ok' if ok else 'EXITED'})"
                  + (f"\n{out[-3000:]}" if out else ""))
            if not ok:
                failures.append(f"{exe.name}: the GUI exited within 10 s (see its output)")
    return failures


# --- building ------------------------------------------------------------------------------------

def pinned_versions() -> dict[str, str]:
    """name -> version from packaging/constraints.txt (what the bundles were tested with)."""
    pins = {}
    for line in (cfg.PACKAGING / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, ver = line.split("==", 1)
            pins[name.strip().lower()] = ver.strip()
    return pins


def preflight(flavour: str, python: str) -> None:
    """Fail early on a build environment that would give a wrong or bloated bundle."""
    code = ("import importlib.util as u, importlib.metadata as md, json, sys\n"
            "mods = ('PyInstaller','torch','timm','PySide6','onnxruntime','cv2','pyqtgraph',"
            "'PIL','numpy','pytorch_grad_cam')\n"
            "def ver(d):\n"
            "    try: return md.version(d)\n"
            "    except Exception: return None\n"
            "print(json.dumps({'found': [m for m in mods if u.find_spec(m)], 'py': "
            "list(sys.version_info[:2]), 'versions': {d: ver(d) for d in sys.argv[1:]}}))")
    import json

    pins = pinned_versions()
    info = json.loads(subprocess.run([python, "-c", code, *pins], capture_output=True,
                                     text=True, check=True).stdout)
    found = set(info["found"])
    need = {"PyInstaller", "PySide6", "onnxruntime", "cv2", "pyqtgraph", "PIL", "numpy"}
    if flavour == "gpu":
        need |= {"torch", "timm", "pytorch_grad_cam"}
    missing = sorted(need - found)
    if missing:
        raise SystemExit(f"{python} lacks {', '.join(missing)}: install the build environment "
                         "first (packaging/README.md)")
    pyside = info["versions"].get("pyside6-essentials") or ""
    if pyside.startswith("6.12.0") and tuple(info["py"]) < (3, 12):
        raise SystemExit("PySide6-Essentials 6.12.0 crashes on Python < 3.12 (see "
                         "marrow_desktop/gui/qt_compat.py): pip install -c "
                         "packaging/constraints.txt PySide6-Essentials")
    for name, want in pins.items():
        have = info["versions"].get(name)
        if have and have != want:
            print(f"note: {name} {have} is installed; the bundles were tested with {want} "
                  "(packaging/constraints.txt)")
    if flavour == "cpu" and "torch" in found:
        print("note: torch is installed in this environment; the cpu spec excludes it, but a "
              "separate build venv without torch is safer (packaging/README.md)")


def build(flavour: str, onefile: bool, python: str, clean: bool,
          out: Path = cfg.REPO) -> tuple[Path, float]:
    name = f"{flavour}-onefile" if onefile else flavour
    dist = out / "dist" / name
    work = out / "build" / name
    spec = cfg.PACKAGING / f"marrow-{flavour}.spec"
    cmd = [python, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist),
           "--workpath", str(work), "--log-level", "WARN", str(spec)]
    if clean:
        cmd.insert(4, "--clean")
    if dist.exists():  # PyInstaller's own removal of a multi-GB bundle has failed here once
        shutil.rmtree(dist)
    env = dict(os.environ, MARROW_BUILD_ONEFILE="1" if onefile else "0")
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cfg.REPO, env=env)
    seconds = time.perf_counter() - t0
    bundle = dist / (cfg.APP_NAME + EXE_SUFFIX if onefile else cfg.APP_NAME)
    return bundle, seconds


def executables(bundle: Path) -> list[Path]:
    if bundle.is_file():
        return [bundle]
    return [p for p in (bundle / (cfg.APP_NAME + EXE_SUFFIX), bundle / (cfg.CLI_NAME + EXE_SUFFIX))
            if p.is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flavour", choices=cfg.FLAVOURS, required=True)
    parser.add_argument("--onefile", action="store_true",
                        help="one self-extracting GUI executable instead of a folder "
                        "(slower start; no separate console `marrow` executable)")
    parser.add_argument("--models", type=Path, metavar="DIR",
                        help=f"bundle the model from DIR (default: models/; sets "
                        f"${cfg.MODELS_ENV})")
    parser.add_argument("--python", default=sys.executable,
                        help="Python of the build environment (default: this one)")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--no-build", action="store_true",
                        help="measure and smoke-test an existing bundle only")
    parser.add_argument("--no-smoke", action="store_true", help="skip running the executables")
    parser.add_argument("--out", type=Path, default=cfg.REPO, metavar="DIR",
                        help="put dist/ and build/ under DIR (default: the repository)")
    args = parser.parse_args(argv)

    if args.models:
        os.environ[cfg.MODELS_ENV] = str(args.models.resolve())
    cfg.model_files(args.flavour)  # a clear message now rather than deep in PyInstaller
    seconds = 0.0
    if args.no_build:
        name = f"{args.flavour}-onefile" if args.onefile else args.flavour
        bundle = args.out / "dist" / name / (cfg.APP_NAME + (EXE_SUFFIX if args.onefile else ""))
        if not bundle.exists():
            raise SystemExit(f"{bundle} does not exist: build it first")
    else:
        preflight(args.flavour, args.python)
        bundle, seconds = build(args.flavour, args.onefile, args.python, args.clean,
                                args.out.resolve())
    total = report_size(bundle)
    if seconds:
        print(f"build    {seconds / 60:.1f} min")

    errors, system = check_linked_libraries(bundle, args.python)
    failures = [f"pruned a needed library: {p}" for p in errors]
    if bundle.is_dir() and sys.platform.startswith("linux"):
        print(f"ldd      {'all bundled libraries resolve' if not errors else 'PROBLEMS'}"
              + (f"; {len(system)} links to libraries the target system must provide:"
                 if system else ""))
        for line in system:
            print(f"           {line}")
    if not args.no_smoke:
        exes = executables(bundle)
        if not exes:
            failures.append(f"no executable found in {bundle}")
        failures += smoke_test(exes, args.flavour)

    print(f"\n{args.flavour} bundle: {human(total)}"
          + (f", built in {seconds / 60:.1f} min" if seconds else ""))
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed" if not args.no_smoke else "built (smoke test skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
