"""`marrow eda`: the exploratory report of a class-folder data set, as files a person opens.

Writes class counts, per-image quality checks (core.quality.assess), a preview grid, the blur
analysis (Laplacian variance, absolute threshold and the blurriest 30%), unsharp-mask examples
and an index.html that ties them together with relative links (works offline).
"""

from __future__ import annotations

import csv
import html
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from marrow_desktop.core.errors import ImageLoadError
from marrow_desktop.core.preprocess import resize_to_input
from marrow_desktop.core.quality import (
    QualityThresholds,
    assess,
    blurriest_fraction,
    laplacian_variance,
    unsharp_mask,
)
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.training.dataset import Dataset, load_dataset
from marrow_desktop.training.eda_plots import bar_chart_svg, blur_svg, image_grid_png
from marrow_desktop.training.loading import evenly_spaced, load_sample, progress

QUALITY_FIELDS = (
    "class", "class_name", "source", "readable", "error", "source_mode", "width", "height",
    "brightness", "too_dark", "too_bright", "stain_ratio", "stain_present", "color_type",
    "laplacian_var", "blurry", "blurriest_fraction", "ok",
)
SUMMARY_FIELDS = (
    "class", "class_name", "images", "unreadable", "too_dark", "too_bright", "no_stain",
    "grayscale", "blurry", "blurriest_fraction", "mean_brightness", "median_laplacian_var",
    "mean_stain_ratio",
)
THUMB = 128


@dataclass
class EdaReport:
    """What `run_eda` measured and where it wrote it."""

    out: Path
    counts: dict[str, int]
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    unreadable: list[str]
    blur_cut: float
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _label(code: str) -> str:
    name = full_name(code)
    return code if name == code else f"{code} – {name}"


def measure(dataset: Dataset, thresholds: QualityThresholds, show_progress: bool = True
            ) -> list[dict[str, Any]]:
    """One row of quality measurements per image; unreadable images get readable=False."""
    rows: list[dict[str, Any]] = []
    for sample in progress(dataset.samples, "quality checks", enabled=show_progress):
        code = dataset.classes[sample.label]
        row: dict[str, Any] = {"class": code, "class_name": full_name(code),
                               "source": sample.source}
        try:
            image = load_sample(sample)
        except ImageLoadError as exc:
            row.update(readable=False, error=str(exc))
            rows.append(row)
            continue
        metrics = assess(image.rgb, thresholds)
        row.update(readable=True, error="", source_mode=image.source_mode)
        row.update({k: v for k, v in metrics.as_dict().items()})
        row["ok"] = metrics.ok
        rows.append(row)
    readable = [r for r in rows if r["readable"]]
    flags = blurriest_fraction([r["laplacian_var"] for r in readable],
                               thresholds.blur_rank_fraction)
    for row, flag in zip(readable, flags):
        row["blurriest_fraction"] = bool(flag)
    return rows


def summarize(classes: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-class counts of failed checks, plus an 'all' row."""
    out = []
    for code in [*classes, "all"]:
        mine = [r for r in rows if code == "all" or r["class"] == code]
        ok = [r for r in mine if r["readable"]]

        def count(key: str, value: Any = True, ok: list = ok) -> int:
            return sum(1 for r in ok if r[key] == value)

        def mean(key: str, ok: list = ok) -> float:
            return round(float(np.mean([r[key] for r in ok])), 4) if ok else float("nan")

        out.append({
            "class": code, "class_name": "all classes" if code == "all" else full_name(code),
            "images": len(mine), "unreadable": len(mine) - len(ok),
            "too_dark": count("too_dark"), "too_bright": count("too_bright"),
            "no_stain": count("stain_present", False),
            "grayscale": count("color_type", "grayscale"),
            "blurry": count("blurry"), "blurriest_fraction": count("blurriest_fraction"),
            "mean_brightness": mean("brightness"),
            "median_laplacian_var": round(float(np.median([r["laplacian_var"] for r in ok])), 4)
            if ok else float("nan"),
            "mean_stain_ratio": mean("stain_ratio"),
        })
    return out


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k, "")) for k in fields})


def _fmt(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _thumb(rgb: np.ndarray) -> np.ndarray:
    return resize_to_input(rgb, THUMB)


def _preview_rows(dataset: Dataset, rows: list[dict[str, Any]], per_class: int):
    by_source = {s.source: s for s in dataset.samples}
    out = []
    for code in dataset.classes:
        chosen = evenly_spaced([r for r in rows if r["class"] == code and r["readable"]],
                               per_class)
        items = [(_thumb(load_sample(by_source[r["source"]]).rgb), Path(r["source"]).name)
                 for r in chosen]
        out.append((_label(code), items))
    return out


def _unsharp_rows(dataset: Dataset, rows: list[dict[str, Any]], count: int, amount: float,
                  sigma: float):
    by_source = {s.source: s for s in dataset.samples}
    readable = sorted((r for r in rows if r["readable"]), key=lambda r: r["laplacian_var"])
    before, after = [], []
    for row in readable[:count]:
        rgb = load_sample(by_source[row["source"]]).rgb
        sharp = unsharp_mask(rgb, amount, sigma)
        name = f"{row['class']} {Path(row['source']).name}"
        before.append((_thumb(rgb), f"{name}\nLap. var {row['laplacian_var']:.1f}"))
        after.append((_thumb(sharp), f"Lap. var {laplacian_variance(sharp):.1f}"))
    return [("before", before), (f"after unsharp\n(amount {amount:g}, σ {sigma:g})", after)]


def _table(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(f)}</th>" for f in fields)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(_fmt(r.get(f, ''))))}</td>" for f in fields)
        + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html(report: EdaReport, dataset_path: str, thresholds: QualityThresholds) -> Path:
    """index.html: summary tables and the figures, all by relative path."""
    f = report.files
    total = report.summary[-1]
    unreadable = "".join(f"<li>{html.escape(u)}</li>" for u in report.unreadable[:200])
    more = len(report.unreadable) - 200
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data set report: {html.escape(dataset_path)}
</title><style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1400px; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
td, th {{ border: 1px solid #bbb; padding: 3px 8px; text-align: right; }}
th {{ background: #eee; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
</style></head><body>
<h1>Data set report</h1>
<p><b>{html.escape(dataset_path)}</b>: {total['images']:,} images in {len(report.counts)} classes,
{total['unreadable']} unreadable; written {time.strftime('%Y-%m-%d %H:%M')}.</p>
{f'<h3>Warnings</h3><ul>{warnings}</ul>' if warnings else ''}
<h2>Images per class</h2><img src="{f['counts']}" alt="class counts">
<h2>Quality checks</h2>
<p>Too dark: mean grey &lt; {thresholds.too_dark:g}; too bright: &gt; {thresholds.too_bright:g};
no stain: purple fraction &lt; {thresholds.min_stain_ratio:g}; blurry: Laplacian variance
&lt; {thresholds.blur_threshold:g}; blurriest {thresholds.blur_rank_fraction:.0%}: the lowest
Laplacian variances of the whole set (cut {report.blur_cut:.2f}).
Per image: <a href="{f['quality']}">{f['quality']}</a>;
per class: <a href="{f['summary']}">{f['summary']}</a>.</p>
{_table(report.summary, SUMMARY_FIELDS)}
<h3>Unreadable files ({len(report.unreadable)})</h3>
{f'<ul>{unreadable}</ul>' if unreadable else '<p>none</p>'}
{f'<p>... and {more} more in <a href="{f["unreadable"]}">{f["unreadable"]}</a></p>'
 if more > 0 else ''}
<h2>Examples per class</h2><img src="{f['preview']}" alt="preview grid">
<h2>Sharpness</h2><img src="{f['blur']}" alt="blur histogram">
<h2>Unsharp masking on the blurriest images</h2><img src="{f['unsharp']}" alt="unsharp mask">
</body></html>
"""
    path = report.out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _write_files(report: EdaReport, dataset: Dataset, dataset_path: str,
                 thresholds: QualityThresholds, per_class: int, sharpen_count: int,
                 amount: float, sigma: float) -> None:
    out, rows, files = report.out, report.rows, report.files
    files.update(quality="quality.csv", summary="summary.csv", unreadable="unreadable.txt",
                 counts="class_counts.svg", preview="preview_grid.png",
                 blur="blur_histogram.svg", unsharp="unsharp_mask.png", json="summary.json")
    _write_csv(out / files["quality"], QUALITY_FIELDS, rows)
    _write_csv(out / files["summary"], SUMMARY_FIELDS, report.summary)
    (out / files["unreadable"]).write_text("".join(f"{u}\n" for u in report.unreadable),
                                           encoding="utf-8")
    total = sum(report.counts.values())
    (out / files["counts"]).write_text(bar_chart_svg(
        report.counts, {c: _label(c) for c in report.counts},
        f"Images per class ({total:,} in total)"), encoding="utf-8")
    image_grid_png(_preview_rows(dataset, rows, per_class), out / files["preview"],
                   f"{per_class} examples per class")
    readable = [r for r in rows if r["readable"]]
    per_class_values = [(c, np.array([r["laplacian_var"] for r in readable if r["class"] == c]))
                        for c in dataset.classes]
    (out / files["blur"]).write_text(blur_svg(
        np.array([r["laplacian_var"] for r in readable]), per_class_values,
        thresholds.blur_threshold, report.blur_cut, thresholds.blur_rank_fraction),
        encoding="utf-8")
    image_grid_png(_unsharp_rows(dataset, rows, sharpen_count, amount, sigma),
                   out / files["unsharp"], "The blurriest images, before and after unsharp mask")
    (out / files["json"]).write_text(json.dumps({
        "dataset": dataset_path, "classes": dataset.classes, "counts": report.counts,
        "unreadable": report.unreadable, "blur_cut": report.blur_cut,
        "warnings": report.warnings, "thresholds": asdict(thresholds),
        "summary": report.summary,
    }, indent=2, default=str) + "\n", encoding="utf-8")
    files["html"] = write_html(report, dataset_path, thresholds).name


def run_eda(dataset_path: str | Path, out: str | Path, per_class: int = 5,
            sharpen_count: int = 8, amount: float = 1.0, sigma: float = 2.0,
            thresholds: QualityThresholds | None = None, show_progress: bool = True) -> EdaReport:
    """Measure every image of a class-folder data set (or pack) and write the report to `out`."""
    thresholds = thresholds or QualityThresholds()
    dataset = load_dataset(dataset_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure(dataset, thresholds, show_progress)
    summary = summarize(dataset.classes, rows)
    unreadable = [r["error"] for r in rows if not r["readable"]]
    flagged = [r["laplacian_var"] for r in rows if r.get("blurriest_fraction")]
    cut = max(flagged) if flagged else 0.0
    final = out
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        report = EdaReport(out, dataset.counts(), rows, summary, unreadable, cut,
                           warnings=list(dataset.warnings))
        _write_files(report, dataset, str(dataset_path), thresholds, per_class, sharpen_count,
                     amount, sigma)
        for name in report.files.values():  # complete files only, moved in when all are written
            os.replace(out / name, final / name)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    report.out = final
    return report
