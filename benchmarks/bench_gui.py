"""Desktop viewer on a big folder: time to first thumbnails, GUI-thread stalls during a run, memory.

    python benchmarks/bench_gui.py                      # 10,000 images, 20 s of batch
    python benchmarks/bench_gui.py --images 2000 --batch-seconds 10
    python benchmarks/bench_gui.py --screenshots docs   # also save docs/screenshot*.png

The folder is generated: symbolic links to real cell images (../shared/data/matek7 when present,
else the bundled samples), so it costs no disk space. Qt runs offscreen. Targets: first
thumbnails < 1 s, no GUI stall > 100 ms while a batch runs, < 600 MB resident for 10,000 images.
The model is the bundled one (or $MARROW_MODELS_DIR, or --model).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory in MB (Linux /proc; psutil-free)."""
    values = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount = line.split(":")
                values[key] = int(amount.split()[0]) / 1024
    except OSError:
        return float("nan"), float("nan")
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def source_images() -> list[Path]:
    shared = Path(os.environ.get("MARROW_SHARED_DATA", REPO.parent / "shared" / "data")) / "matek7"
    images = sorted(shared.glob("*/*.jpg")) if shared.is_dir() else []
    return images or sorted((REPO / "resources" / "samples").glob("*.jpg"))


def make_folder(root: Path, count: int) -> Path:
    folder = root / f"cells_{count}"
    folder.mkdir()
    sources = source_images()
    for i in range(count):
        src = sources[i % len(sources)]
        os.symlink(src, folder / f"{src.stem[:3]}_{i:05d}.jpg")
    return folder


class Probe:
    """A 5 ms QTimer on the GUI thread: the largest gap between its ticks is the worst stall."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def worst_stall_ms(self) -> float:
        return max(0.0, (max(self.gaps, default=0.0) - self.interval) * 1000)

    def p99_stall_ms(self) -> float:
        if len(self.gaps) < 2:
            return 0.0
        return max(0.0, (statistics.quantiles(self.gaps, n=100)[98] - self.interval) * 1000)


def _sleep_in_loop(ms: int) -> None:
    """Run the event loop for `ms` milliseconds, sleeping when there is nothing to do (as the
    application's own loop does). A processEvents() loop would keep the GUI thread busy and take
    a whole core from the batch: on 2 cores that alone halved the batch's throughput."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(max(1, ms), loop.quit)
    loop.exec()


def spin(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        _sleep_in_loop(int(min(left, 0.05) * 1000))


def wait(app, condition, timeout: float) -> float:
    """Seconds until condition() held (running the event loop), or raise TimeoutError."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError
        _sleep_in_loop(5)
    return time.perf_counter() - start


def visible_rows(window) -> list[int]:
    grid = window.browser.grid
    rect = grid.viewport().rect()
    rows = set()
    step = 20
    for y in range(0, rect.height(), step):
        for x in range(0, rect.width(), step):
            index = grid.indexAt(rect.topLeft().__class__(x, y))
            if index.isValid():
                rows.add(index.row())
    return sorted(rows)


def thumbnails_ready(window, rows: list[int]) -> bool:
    model = window.model
    return bool(rows) and all(model.item(r) is not None
                              and window.loader._cache.get(model.item(r).path) is not None
                              for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch-seconds", type=float, default=20.0)
    parser.add_argument("--model", help="model .json (default: bundled / $MARROW_MODELS_DIR)")
    parser.add_argument("--screenshots", metavar="DIR", help="save screenshots of the samples")
    parser.add_argument("--window-size", default="1280x800", metavar="WxH",
                        help="window size of the screenshots (e.g. 1366x768)")
    parser.add_argument("--idle", action="store_true",
                        help="no scrolling or selecting while the batch runs")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="marrow-bench-gui-"))
    os.environ["MARROW_DATA_DIR"] = str(work / "data")
    rss0, _ = rss_mb()

    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from marrow_desktop.gui import qt_compat, theme

    problem = qt_compat.runtime_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 3
    theme.apply_theme(app)
    from marrow_desktop.gui.main_window import MainWindow
    from marrow_desktop.gui.settings import AppSettings

    settings = AppSettings.from_file(work / "settings.ini")
    if args.model:
        settings.overrides["model_path"] = os.path.abspath(args.model)
    settings.overrides["backend"] = "onnx"

    if args.screenshots:
        width, height = (int(v) for v in args.window_size.lower().split("x"))
        return screenshots(app, settings, Path(args.screenshots), (width, height))

    t = time.perf_counter()
    folder = make_folder(work, args.images)
    print(f"folder: {args.images:,} symlinks to {len(source_images()):,} real images "
          f"({time.perf_counter() - t:.2f} s to create)")

    t_window = time.perf_counter()
    window = MainWindow(settings)
    window.show()
    window.session.load_model()
    app.processEvents()
    print(f"window shown: {time.perf_counter() - t_window:.2f} s after construction started")
    wait(app, lambda: not window.session.model_loading, 60)
    spec = window.session.spec
    print(f"model: {spec.name if spec else window.session.model_error}"
          f" ({time.perf_counter() - t_window:.2f} s)")

    t_open = time.perf_counter()
    window.folders.open_folder(str(folder))
    rows: list[int] = []
    times: dict[str, float] = {}

    def opened() -> bool:
        nonlocal rows
        now = time.perf_counter() - t_open
        if "first" not in times:
            rows = visible_rows(window)
            if len(rows) >= min(12, args.images) and thumbnails_ready(window, rows):
                times["first"] = now
        if "listed" not in times and window.model.total() == args.images \
                and not window.session.listing:
            times["listed"] = now
        return len(times) == 2

    wait(app, opened, 60)
    print(f"open: first screen of {len(rows)} thumbnails after {times['first']:.3f} s; all "
          f"{args.images:,} images listed after {times['listed']:.3f} s")

    probe = Probe()
    probe.start()
    spin(app, 2.0)
    probe.stop()
    print(f"idle: worst GUI stall {probe.worst_stall_ms():.1f} ms, p99 {probe.p99_stall_ms():.1f}"
          " ms (what the machine itself adds)")
    probe.start()
    scrollbar = window.browser.grid.verticalScrollBar()
    t_scroll = time.perf_counter()
    steps = 40
    for i in range(steps):
        scrollbar.setValue(int(scrollbar.maximum() * i / (steps - 1)))
        spin(app, 0.05)
    probe.stop()
    print(f"scroll: {steps} jumps over the whole grid in {time.perf_counter() - t_scroll:.1f} s; "
          f"worst GUI stall {probe.worst_stall_ms():.1f} ms, p99 {probe.p99_stall_ms():.1f} ms; "
          f"thumbnails decoded {window.loader.decoded:,}, cached {window.loader.cached():,}")
    scrollbar.setValue(0)
    spin(app, 0.3)

    if window.session.classifier is None:
        print("batch: skipped (no model)")
    else:
        probe.start()
        t_batch = time.perf_counter()
        cpu_batch = time.thread_time()  # the GUI thread's own CPU time (robust to machine noise)
        window.folders.classify()
        end = t_batch + args.batch_seconds
        i = 0
        while time.perf_counter() < end and window.session.batch_running:
            spin(app, 0.25)
            i += 1
            if i % 4 == 0 and not args.idle:  # a user scrolling and selecting while the run goes on
                scrollbar.setValue((scrollbar.value() + scrollbar.pageStep()) % max(
                    1, scrollbar.maximum()))
                window.browser.select_row((i * 7) % args.images)
        done = window.session.batch_done
        elapsed = time.perf_counter() - t_batch
        gui_cpu = time.thread_time() - cpu_batch
        if window.session.batch_running:
            window.session.cancel_batch()
            wait(app, lambda: not window.session.batch_running, 60)
        probe.stop()
        print(f"batch: {done:,} images in {elapsed:.1f} s ({done / elapsed:.0f} img/s, "
              f"{window.session.spec.input_size} px); worst GUI stall "
              f"{probe.worst_stall_ms():.1f} ms, p99 {probe.p99_stall_ms():.1f} ms over "
              f"{len(probe.gaps):,} probe ticks; GUI thread busy {100 * gui_cpu / elapsed:.0f}% "
              f"of the run ({1000 * gui_cpu / max(1, done):.1f} ms CPU per image)")
        if done:
            cli = cli_rate(work, folder, done, args.model)
            print(f"cli: `marrow classify` on the same first {done:,} images: {cli:.0f} img/s "
                  f"(start-up included); GUI/CLI throughput ratio {done / elapsed / cli:.2f} "
                  "(target >= 0.80)")
        reopen(app, window, folder, args.images)
        fill(app, window)
    rss, peak = rss_mb()
    print(f"memory: {rss:.0f} MB resident now, {peak:.0f} MB peak "
          f"(interpreter before Qt: {rss0:.0f} MB)")
    window.close()
    return 0


def cli_rate(work: Path, folder: Path, count: int, model: str | None) -> float:
    """Images per second of `marrow classify` (a fresh store, the ONNX backend) on the first
    `count` images of the folder, start-up included."""
    import subprocess

    subset = work / f"cli_{count}"
    subset.mkdir()
    for path in sorted(folder.iterdir())[:count]:
        os.symlink(os.readlink(path), subset / path.name)
    env = {**os.environ, "MARROW_DATA_DIR": str(work / "cli-data")}
    command = [sys.executable, "-m", "marrow_desktop", "classify", str(subset), "-o",
               str(work / "cli.csv"), "--backend", "onnx"]
    if model:
        command += ["--model", os.path.abspath(model)]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return count / (time.perf_counter() - start)


def reopen(app, window, folder: Path, count: int) -> None:
    """Open the folder again: stored results come back from the store, nothing is inferred."""
    restored = []
    window.session.storedLoaded.connect(lambda state: restored.append(len(state.results)))
    t = time.perf_counter()
    window.folders.open_folder(str(folder))
    wait(app, lambda: bool(restored), 120)
    print(f"reopen: {count:,} images listed and {restored[0]:,} stored results restored in "
          f"{time.perf_counter() - t:.2f} s (size/mtime checked, no pixels read)")


def fill(app, window) -> None:
    """Give every image a result (copies of real ones) to see memory and sorting at full size."""
    import dataclasses

    model = window.model
    real = [item.result for item in model.items() if item.classified]
    if not real:
        return
    fake = [dataclasses.replace(real[i % len(real)], path=item.path)
            for i, item in enumerate(model.items()) if not item.classified]
    for start in range(0, len(fake), 1000):
        model.update_results(fake[start:start + 1000])
        spin(app, 0.01)
    t = time.perf_counter()
    window.browser.set_sort("confidence", descending=True)
    sort_s = time.perf_counter() - t
    t = time.perf_counter()
    window.browser.set_sort("sharpness")
    sharp_s = time.perf_counter() - t
    from marrow_desktop.gui.widgets.thumbnail_model import BrowserFilter

    t = time.perf_counter()
    window.browser.set_filter(BrowserFilter(flag="low_confidence"))
    filter_s = time.perf_counter() - t
    shown = model.rowCount()
    window.browser.set_filter(BrowserFilter())
    spin(app, 0.5)
    print(f"full folder: {model.classified_count():,} results; sort by confidence "
          f"{sort_s * 1000:.0f} ms, by sharpness {sharp_s * 1000:.0f} ms, low-confidence filter "
          f"{filter_s * 1000:.0f} ms ({shown:,} shown)")
    window.differential_dock.raise_()
    spin(app, 0.3)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        window.reviews.refresh_counts()  # differential, queue counts, panel and chart
        times.append(time.perf_counter() - t)
    print(f"review: differential + queue recount of {model.total():,} cells "
          f"{sorted(times)[2] * 1000:.0f} ms median (once a second during a batch, 150 ms "
          "after a review)")


def analysed(window, path: str) -> bool:
    """The panels show the analysis of `path`."""
    analysis = window.selection.analysis
    return analysis is not None and analysis.path == path


def screenshots(app, settings, out: Path, size: tuple[int, int] = (1280, 800)) -> int:
    """The bundled samples, classified, at `size`: main view and the quality inspector."""
    from marrow_desktop.core.paths import samples_dir
    from marrow_desktop.gui.main_window import MainWindow
    from marrow_desktop.gui.widgets.review_bar import CONFIRM

    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(settings)
    window.resize(*size)
    window.show()
    window.start(str(samples_dir()))
    wait(app, lambda: window.model.total() > 0 and not window.session.model_loading, 60)
    window.folders.classify()
    wait(app, lambda: not window.session.batch_running and window.model.classified_count(), 120)
    paths = window.model.paths()
    settings.session_reviewer = "Dr. Example"  # else the first review asks for a name
    for i in (0, 4):  # two reviews, so the badges show
        window.browser.select_path(paths[i])
        wait(app, lambda p=paths[i]: analysed(window, p), 30)
        window.reviews.review(CONFIRM if i == 0 else "EOS")
    target = paths[5]
    window.browser.select_path(target)
    wait(app, lambda: analysed(window, target), 30)
    window.statusBar().clearMessage()
    spin(app, 1.0)
    window.grab().save(str(out / "screenshot.png"))
    window.inspector.set_settings(True, 1.5, "wipe")
    window.inspector.view.split = 0.5
    window.browser.set_sort("confidence")
    window.browser.select_path(target)
    spin(app, 1.0)
    window.grab().save(str(out / "screenshot_inspector.png"))
    print(f"saved {out / 'screenshot.png'} and {out / 'screenshot_inspector.png'}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
