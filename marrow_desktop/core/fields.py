"""Cells in a smear photograph: find the nucleated cells of a field and crop each at the scale
the model was trained on.

Nuclei of white cells stain blue-violet and red cells pink, so `blue - red` separates them from
red cells and the bright background (positive on nuclei, near zero on background, negative on
red cells). The field is worked at a reduced scale (`WORK_SIDE`); nuclei are thresholded (Otsu,
with a floor), lobes of one nucleus joined by a closing sized by the red cells, touching nuclei
split by a distance-transform watershed, and blobs much smaller than a red cell (platelets,
debris) dropped. The scale is the red-cell diameter (~7.5 µm), measured with a Hough circle
transform on the green channel, or given as micrometres per pixel. Each cell is cropped as a
square of the side the model's crops show at its scale (`ModelScale`), centred on the nucleus,
and resized to the training crops' side (a crop is then a single-cell image like any other); a
box that crosses the image border is padded with the background colour and marked as cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.preprocess import resize_to_input, shrink_to
from marrow_desktop.core.results import ImageResult

#: A red cell's diameter in micrometres (the scale reference).
RED_CELL_UM = 7.5
#: Longest side the detector works at (a 4000x3000 photograph is worked at 1024x768).
WORK_SIDE = 1024
#: Images whose shorter side exceeds this are fields, not single cells (scanner crops of one
#: cell are 250-400 px: matek7 250x250, the peripheral-blood lab's 360x363).
FIELD_SIDE = 400
#: Lowest blue-minus-red value counted as nucleus (uint8 units), whatever Otsu says.
MIN_NUCLEUS_CONTRAST = 25
#: A found nucleus (after joining lobes) covers at least this share of a red cell's area.
MIN_NUCLEUS_AREA = 0.2
#: Nuclei whose centres are closer than this many red-cell diameters are one cell (the lobes of
#: a neutrophil the watershed split); two white cells side by side lie farther apart.
MERGE_DIAMETERS = 1.0
#: Fewest red cells the scale estimate needs.
MIN_RED_CELLS = 5
#: Hough circles fit inside a red cell's rim: their median diameter is this share of the
#: annotated red-cell boxes of the BCCD training fields (benchmarks/bench_fields.py).
HOUGH_SHARE = 0.81
#: (Canny edge threshold, accumulator votes) of the Hough transform, tried in turn: the second
#: finds the red cells of soft, out-of-focus fields (with it the scale is measured in 203 of the
#: 205 BCCD training fields, not 184; measured/annotated diameter p10 0.90, median 1.02, p90 1.16).
HOUGH_THRESHOLDS = ((60, 30), (40, 25))
#: Longest side the red cells are measured at (the BCCD fields' 640 px the thresholds suit).
HOUGH_SIDE = 640


class FieldError(MarrowError):
    """A field image that cannot be searched for cells (its message says why)."""


@dataclass(frozen=True)
class ModelScale:
    """How large the model's training crops show a red cell: the scale a crop must match."""

    red_cell_px: float  # median red-cell diameter in a training crop, in its pixels
    crop_px: int  # the training crops' side in pixels

    @property
    def crop_um(self) -> float:
        return self.crop_px * RED_CELL_UM / self.red_cell_px

    @classmethod
    def from_info(cls, info: dict) -> ModelScale:
        """From a model's metadata (info['scale']); the matek7 crops when it has none."""
        scale = info.get("scale") or {}
        return cls(float(scale.get("red_cell_px", MATEK_RED_CELL_PX)),
                   int(scale.get("crop_px", MATEK_CROP_PX)))


#: Measured on the matek7 crops (250x250 px): median red-cell diameter 72.2 px (IQR 63.7-83.7;
#: Hough circles on the green channel of 2,000 crops, benchmarks/bench_fields.py --model-scale).
MATEK_RED_CELL_PX = 72.2
MATEK_CROP_PX = 250


@dataclass(frozen=True)
class FoundCell:
    """One nucleated cell: its crop box in source-image pixels, and whether the box was cut."""

    box: tuple[int, int, int, int]  # x, y, width, height (may reach outside the image)
    cut: bool  # the box crosses the image border (the crop is padded)
    nucleus_px: int  # nucleus area in source pixels

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


@dataclass
class FieldCells:
    """What the search of one field found, and at which scale."""

    cells: list[FoundCell]
    um_per_px: float
    scale_source: str  # "measured" (red cells), "given" (--um-per-px) or "default"
    red_cells: int = 0  # red cells the scale was measured on
    notes: list[str] = field(default_factory=list)
    background: tuple[int, int, int] = (255, 255, 255)  # the smear's (fills cut boxes)


def looks_like_field(width: int, height: int) -> bool:
    """An image much larger than one cell crop (a photograph of a field)."""
    return min(width, height) > FIELD_SIDE


def red_cell_diameter(rgb: np.ndarray) -> tuple[float, int]:
    """Median red-cell diameter in pixels of `rgb` and how many circles it rests on (0: none).

    The Hough circles' median diameter, divided by HOUGH_SHARE to give the whole cell's. Worked
    at most HOUGH_SIDE pixels wide; a field too soft for the usual edge threshold (out of focus)
    is tried again with a lower one."""
    rgb, scale = shrink_to(rgb, HOUGH_SIDE)
    side = min(rgb.shape[:2])
    green = cv2.GaussianBlur(np.ascontiguousarray(rgb[..., 1]), (0, 0), max(1.0, side / 300))
    stained = nucleus_signal(rgb) > MIN_NUCLEUS_CONTRAST
    radii = np.zeros(0, np.float32)
    for edge, votes in HOUGH_THRESHOLDS:
        circles = cv2.HoughCircles(green, cv2.HOUGH_GRADIENT, dp=1.5, minDist=max(8, side // 20),
                                   param1=edge, param2=votes, minRadius=max(4, side // 40),
                                   maxRadius=max(8, side // 5))
        if circles is None:
            continue
        x, y, r = circles[0].T
        on_nucleus = stained[np.clip(y.astype(int), 0, stained.shape[0] - 1),
                             np.clip(x.astype(int), 0, stained.shape[1] - 1)]
        radii = r[~on_nucleus]  # a circle centred on a stained nucleus is not a red cell
        if len(radii) >= MIN_RED_CELLS:
            break
    if not len(radii):
        return 0.0, 0
    return float(np.median(radii) * 2 / HOUGH_SHARE / scale), len(radii)


def measure_model_scale(crops: Iterable[np.ndarray]) -> dict[str, Any]:
    """The scale of a model's training crops (RGB) for its metadata (info['scale'])."""
    diameters, sides = [], []
    for rgb in crops:
        sides.append(min(rgb.shape[:2]))
        diameter, circles = red_cell_diameter(rgb)
        if circles:
            diameters.append(diameter)
    if not diameters:
        raise FieldError(f"no red cell found in {len(sides)} training crops: the model's "
                         "scale cannot be measured")
    q25, q50, q75 = np.percentile(diameters, [25, 50, 75])
    return {"red_cell_px": round(float(q50), 1), "crop_px": int(np.median(sides)),
            "red_cell_px_iqr": [round(float(q25), 1), round(float(q75), 1)],
            "crops_measured": len(diameters), "crops": len(sides),
            "method": "median Hough-circle diameter on the green channel / 0.81, circles "
                      "centred on a stained nucleus left out (core.fields.red_cell_diameter)"}


def nucleus_signal(rgb: np.ndarray) -> np.ndarray:
    """blue - red, clipped to 0..255 (nuclei bright, background and red cells dark)."""
    diff = rgb[..., 2].astype(np.int16) - rgb[..., 0].astype(np.int16)
    return np.clip(diff, 0, 255).astype(np.uint8)


def _nucleus_mask(signal: np.ndarray, red_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(stained pixels, the same with the lobes of each nucleus joined)."""
    otsu, _ = cv2.threshold(signal, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = (signal > max(MIN_NUCLEUS_CONTRAST, otsu)).astype(np.uint8)
    small = max(1, round(red_px * 0.04)) * 2 + 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (small, small)))
    join = max(3, round(red_px * 0.35)) | 1  # lobes of one nucleus are closer than this
    return mask, cv2.morphologyEx(mask, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (join, join)))


def _split_touching(mask: np.ndarray, red_px: float) -> np.ndarray:
    """Labels of the nuclei, touching ones split by a watershed on the distance transform."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    window = max(3, round(red_px * 0.9)) | 1  # a square window: separable, so fast
    peak = cv2.dilate(dist, cv2.getStructuringElement(cv2.MORPH_RECT, (window, window)))
    seeds = ((dist == peak) & (dist > red_px * 0.18)).astype(np.uint8)
    count, markers = cv2.connectedComponents(seeds)
    if count <= 2:
        return cv2.connectedComponents(mask)[1]
    markers = markers + 1  # background 1, seeds 2..; the rest of the nuclei is to flood
    markers[(mask > 0) & (seeds == 0)] = 0
    basin = cv2.cvtColor(np.uint8(255 - np.clip(dist * 255 / max(dist.max(), 1), 0, 255)),
                         cv2.COLOR_GRAY2BGR)
    markers = cv2.watershed(basin, markers.astype(np.int32))
    markers[markers <= 1] = 0
    return markers


def find_cells(rgb: np.ndarray, model: ModelScale, um_per_px: float | None = None,
               default_um_per_px: float | None = None) -> FieldCells:
    """The nucleated cells of a field image (RGB uint8), boxed at the model's crop scale.

    um_per_px (the user's) wins over the measured red cells; without either, default_um_per_px
    is used with a note, or FieldError says the scale is unknown.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 32:
        raise FieldError("not a colour field image")
    work, f = shrink_to(rgb, WORK_SIDE)  # f: work pixels per source pixel
    notes: list[str] = []
    spread = float(work.std())
    if spread < 4:
        raise FieldError("the image is uniform (all black, all white or blank): no cells")
    diameter_work, red_cells = red_cell_diameter(work)
    if um_per_px is not None:
        if not 0 < um_per_px < 100:
            raise FieldError(f"--um-per-px {um_per_px} is not a plausible scale")
        source = "given"
    elif red_cells >= MIN_RED_CELLS:
        um_per_px = RED_CELL_UM / (diameter_work / f)
        source = "measured"
    elif default_um_per_px is not None:
        um_per_px, source = default_um_per_px, "default"
        notes.append(f"scale: too few red cells to measure ({red_cells}); assumed "
                     f"{default_um_per_px:g} µm per pixel")
    else:
        raise FieldError(f"cannot measure the scale: {red_cells} red cells found (need "
                         f"{MIN_RED_CELLS}); give --um-per-px")
    red_work = RED_CELL_UM / um_per_px * f  # a red cell's diameter at the working scale
    if red_work < 6:
        raise FieldError(f"at {um_per_px:g} µm per pixel a red cell is under 6 pixels at the "
                         "working scale: too small to find cells")
    stained, joined = _nucleus_mask(nucleus_signal(work), red_work)
    labels = _split_touching(joined, red_work)
    side = round(model.crop_um / um_per_px)
    min_area = MIN_NUCLEUS_AREA * np.pi * (red_work / 2) ** 2
    cells = []
    h, w = rgb.shape[:2]
    for cx, cy, area in _merged_nuclei(labels, stained, red_work):
        if area < min_area:  # platelets, even in clumps, stain too little
            continue
        x, y = round(cx / f - side / 2), round(cy / f - side / 2)
        box = (x, y, side, side)
        cells.append(FoundCell(box, is_cut(box, w, h), round(area / f / f)))
    background = background_colour(work)  # field_background(rgb), already shrunk
    return FieldCells(cells, um_per_px, source, red_cells, notes, background)


def _merged_nuclei(labels: np.ndarray, stained: np.ndarray,
                   red_px: float) -> list[tuple[float, float, int]]:
    """(centre x, centre y, stained area) per nucleus, parts closer than MERGE_DIAMETERS red-cell
    diameters merged (largest first)."""
    ys, xs = np.nonzero((labels > 0) & (stained > 0))
    which = labels[ys, xs]
    size = int(labels.max()) + 1
    counts = np.bincount(which, minlength=size)
    sum_x = np.bincount(which, weights=xs, minlength=size)
    sum_y = np.bincount(which, weights=ys, minlength=size)
    parts = [[float(sum_x[i]), float(sum_y[i]), int(counts[i])]
             for i in range(1, size) if counts[i]]
    parts.sort(key=lambda part: -part[2])
    merged: list[list[float]] = []
    for sx, sy, n in parts:
        for cell in merged:
            if np.hypot(sx / n - cell[0] / cell[2], sy / n - cell[1] / cell[2]) \
                    < MERGE_DIAMETERS * red_px:
                cell[0], cell[1], cell[2] = cell[0] + sx, cell[1] + sy, cell[2] + n
                break
        else:
            merged.append([sx, sy, n])
    return [(sx / n, sy / n, int(n)) for sx, sy, n in merged]


def background_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    """The smear's background: median colour of the brightest quarter of the pixels."""
    sample = rgb[::4, ::4].reshape(-1, 3)
    grey = sample.astype(np.int32).sum(axis=1)
    bright = sample[grey >= np.percentile(grey, 75)]
    return tuple(int(v) for v in np.median(bright, axis=0))  # type: ignore[return-value]


def is_cut(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    """The box reaches outside a width x height image (its crop is padded)."""
    x, y, w, h = box
    return x < 0 or y < 0 or x + w > width or y + h > height


def field_background(rgb: np.ndarray) -> tuple[int, int, int]:
    """The background colour of a whole field, measured at the detector's scale (the same
    value whether a cell is cropped by the search or again later by its box)."""
    return background_colour(shrink_to(rgb, WORK_SIDE)[0])


def crop(rgb: np.ndarray, box: tuple[int, int, int, int],
         fill: tuple[int, int, int] | None = None) -> np.ndarray:
    """The box of the image; the part outside the image is filled with `fill`, by default the
    smear's background colour (a mirrored border would show mirrored halves of cells to the
    model)."""
    x, y, w, h = box
    ih, iw = rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(iw, x + w), min(ih, y + h)
    if x1 <= x0 or y1 <= y0:
        raise FieldError(f"box {box} lies outside the {iw}x{ih} image")
    part = rgb[y0:y1, x0:x1]
    pad = (y0 - y, y + h - y1, x0 - x, x + w - x1)
    if any(pad):
        part = cv2.copyMakeBorder(part, *pad, cv2.BORDER_CONSTANT,
                                  value=fill or field_background(rgb))
    return np.ascontiguousarray(part)


def cell_image(rgb: np.ndarray, box: tuple[int, int, int, int], crop_px: int = MATEK_CROP_PX,
               fill: tuple[int, int, int] | None = None) -> np.ndarray:
    """A cell of a field as the model's training crops show one: the box (cut parts filled with
    `fill`, see crop), resized to their side (`crop_px`), so a written crop is a single-cell
    image like any other. The batch, the viewer's analysis and its thumbnails all use this."""
    return resize_to_input(crop(rgb, box, fill), crop_px)


@dataclass
class FieldSearch:
    """How a batch run treats its images as fields: the model's scale and the user's.

    A field whose red cells cannot be measured (too few, out of focus) takes the median scale of
    the fields measured earlier in the same run (one camera, one objective), with a note; before
    any, `default_um_per_px` if given, else the field is an error asking for --um-per-px."""

    model: ModelScale
    um_per_px: float | None = None  # the user's scale (wins over the measured one)
    default_um_per_px: float | None = None
    measured: list[float] = field(default_factory=list)  # scales measured so far in this run
    only_fields: bool = False  # search only images that look like fields (looks_like_field)

    def cell_image(self, rgb: np.ndarray, box: tuple[int, int, int, int],
                   fill: tuple[int, int, int] | None = None) -> np.ndarray:
        return cell_image(rgb, box, self.model.crop_px, fill)

    def wants(self, width: int, height: int) -> bool:
        """Whether an image of this size is searched for cells (with `only_fields`, a
        single-cell image of a mixed folder is classified as one cell)."""
        return not self.only_fields or looks_like_field(width, height)

    def search(self, rgb: np.ndarray) -> FieldCells:
        default = self.default_um_per_px
        if self.measured:
            default = float(np.median(self.measured))
        found = find_cells(rgb, self.model, self.um_per_px, default)
        if found.scale_source == "measured":
            self.measured.append(found.um_per_px)
        elif found.scale_source == "default" and self.measured:
            found.notes = [f"scale: too few red cells to measure ({found.red_cells}); used "
                           f"{default:.4g} µm per pixel, the median of the {len(self.measured)} "
                           "fields measured before it in this run"]
        return found


def hand_box(drawn: tuple[int, int, int, int],
             side: int | None = None) -> tuple[int, int, int, int]:
    """The crop box of a cell a person drew a box around: a square centred on the drawing, of
    the side the field's found cells have (the model's crop at the field's scale) when known,
    else of the drawing's longer side."""
    x, y, w, h = drawn
    if w <= 0 or h <= 0:
        raise ValueError(f"a drawn box needs a positive size, not {drawn}")
    side = int(side) if side else max(w, h)
    cx, cy = x + w / 2, y + h / 2
    return round(cx - side / 2), round(cy - side / 2), side, side


def flag_field(result: ImageResult, width: int, height: int) -> None:
    """Flag a whole image that looks like a field photograph: extra['field'] (a review reason,
    core.review) and a note in its error text."""
    if not result.region and not result.error and looks_like_field(width, height):
        result.error = field_note(width, height)
        result.extra["field"] = True


def field_note(width: int, height: int) -> str:
    """The note on a single-cell run's result for an image that looks like a field."""
    return (f"note: {width}x{height} px is much larger than one cell: a field photograph? "
            "`marrow classify --fields` or `marrow report --fields` finds and classifies its "
            "cells")
