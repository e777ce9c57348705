"""The EDA report's figures with what the clinic runtime has: charts as SVG written by hand
(a bar chart, a histogram, box plots) and image grids composed with OpenCV as PNG. No
matplotlib, so `marrow eda` works without the [torch] extra."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

import cv2
import numpy as np

PURPLE = "#7b4fa0"


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" font-family="sans-serif" font-size="12">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>\n")


def bar_chart_svg(counts: dict[str, str | int], labels: dict[str, str], title: str) -> str:
    """Horizontal bars, one per class, with the count at the end."""
    rows = list(counts.items())
    label_w, plot_w, bar_h, gap, top = 220, 460, 18, 6, 34
    peak = max((int(v) for _, v in rows), default=1) or 1
    height = top + len(rows) * (bar_h + gap) + 10
    body = [f'<text x="10" y="20" font-weight="bold">{escape(title)}</text>']
    for i, (code, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        width = plot_w * int(value) / peak
        body.append(f'<text x="{label_w - 8}" y="{y + bar_h - 4}" text-anchor="end">'
                    f"{escape(labels.get(code, code))}</text>"
                    f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{bar_h}" '
                    f'fill="{PURPLE}"/><text x="{label_w + width + 5:.1f}" y="{y + bar_h - 4}">'
                    f"{int(value):,}</text>")
    return _svg(label_w + plot_w + 70, height, body, title)


def blur_svg(values: np.ndarray, per_class: Sequence[tuple[str, np.ndarray]], threshold: float,
             cut: float, fraction: float) -> str:
    """Histogram of the Laplacian variance with both thresholds, and box plots per class."""
    values = np.asarray(values, float)
    top_value = float(np.percentile(values, 99.5)) if len(values) else 1.0
    top_value = max(top_value, threshold, cut, 1.0) * 1.05
    width, hist_h, left, pad = 900, 260, 50, 48
    plot_w = width - left - 20

    def x(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), top_value) / top_value

    counts, edges = np.histogram(np.clip(values, 0, top_value), bins=60, range=(0, top_value))
    peak = counts.max() if counts.size and counts.max() else 1
    body = ['<text x="10" y="18" font-weight="bold">Sharpness of every image (Laplacian '
            "variance at 256 px; higher = sharper)</text>"]
    base = pad + hist_h
    for count, lo, hi in zip(counts, edges[:-1], edges[1:]):
        h = hist_h * count / peak
        body.append(f'<rect x="{x(lo):.1f}" y="{base - h:.1f}" width="{x(hi) - x(lo):.1f}" '
                    f'height="{h:.1f}" fill="{PURPLE}" fill-opacity="0.85"/>')
    for v in np.linspace(0, top_value, 6):
        body.append(f'<line x1="{x(v):.1f}" y1="{base}" x2="{x(v):.1f}" y2="{base + 4}" '
                    f'stroke="#333"/><text x="{x(v):.1f}" y="{base + 16}" text-anchor="middle">'
                    f"{v:.0f}</text>")
    for k, (value, color, text) in enumerate((
            (threshold, "red", f"- - blur threshold {threshold:g} "
             f"({int((values < threshold).sum())} below)"),
            (cut, "orange", f"- - blurriest {fraction:.0%} cut {cut:.2f}"))):
        body.append(f'<line x1="{x(value):.1f}" y1="{pad}" x2="{x(value):.1f}" y2="{base}" '
                    f'stroke="{color}" stroke-width="2" stroke-dasharray="6 3"/>'
                    f'<text x="{left + 380 * k}" y="{pad - 10}" fill="{color}">'
                    f"{escape(text)}</text>")
    row_h, box_top = 18, base + 40
    body.append(f'<text x="10" y="{box_top - 8}" font-weight="bold">per class (box: quartiles, '
                "whiskers: 5th-95th percentile)</text>")
    for i, (code, vals) in enumerate(per_class):
        y = box_top + i * row_h
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(code)}</text>')
        if not len(vals):
            continue
        p5, q1, med, q3, p95 = np.percentile(vals, [5, 25, 50, 75, 95])
        body.append(f'<line x1="{x(p5):.1f}" y1="{y + 8}" x2="{x(p95):.1f}" y2="{y + 8}" '
                    f'stroke="#333"/><rect x="{x(q1):.1f}" y="{y + 2}" '
                    f'width="{max(1.0, x(q3) - x(q1)):.1f}" height="12" fill="#e9ddf3" '
                    f'stroke="#333"/><line x1="{x(med):.1f}" y1="{y + 2}" x2="{x(med):.1f}" '
                    f'y2="{y + 14}" stroke="#333" stroke-width="2"/>')
    height = box_top + len(per_class) * row_h + 10
    return _svg(width, height, body, "Sharpness of every image")


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only."""
    text = text.replace("–", "-").replace("σ", "sigma")
    return text.encode("ascii", "replace").decode("ascii")


def image_grid_png(rows: list[tuple[str, list[tuple[np.ndarray, str]]]], path: Path,
                   title: str, thumb: int = 128) -> None:
    """Rows of (label, [(RGB thumbnail, caption), ...]) on a white sheet, captions below."""
    ncols = max((len(items) for _, items in rows), default=1) or 1
    label_w, cap_h, pad, head = 150, 30, 8, 34
    width = label_w + ncols * (thumb + pad) + pad
    height = head + len(rows) * (thumb + cap_h + pad) + pad
    sheet = np.full((height, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(sheet, _ascii(title)[:110], (pad, 22), font, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    for r, (label, items) in enumerate(rows):
        y = head + r * (thumb + cap_h + pad)
        for k, line in enumerate(label.split("\n")[:3]):
            cv2.putText(sheet, _ascii(line)[:20], (pad, y + thumb // 2 + 14 * k), font, 0.42,
                        (40, 40, 40), 1, cv2.LINE_AA)
        for c, (image, caption) in enumerate(items):
            x = label_w + c * (thumb + pad)
            tile = cv2.resize(image, (thumb, thumb), interpolation=cv2.INTER_AREA)
            sheet[y:y + thumb, x:x + thumb] = tile
            for k, line in enumerate(caption.split("\n")[:2]):
                cv2.putText(sheet, _ascii(line)[:24], (x, y + thumb + 12 + 12 * k), font, 0.33,
                            (60, 60, 60), 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if ok:
        path.write_bytes(png.tobytes())
