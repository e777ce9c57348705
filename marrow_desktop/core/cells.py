"""How a cell is identified: its source image's content hash plus a region of that image.

A single-cell crop is the whole image (region ''); a cell found in a smear photograph is a box
of it ('x,y,w,h' in the source image's pixels). The store, reviews, CSV resume and the reports
key cells by this one *cell id*: the bare SHA-256 for a whole image, `SHA@x,y,w,h` for a box.
"""

from __future__ import annotations

WHOLE = ""


def region_of(box: tuple[int, int, int, int] | None) -> str:
    """The region text of a box (x, y, width, height), or WHOLE for None."""
    if box is None:
        return WHOLE
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"a box needs a positive width and height, not {box}")
    return f"{x},{y},{w},{h}"


def box_of(region: str) -> tuple[int, int, int, int] | None:
    """The box of a region text (None for the whole image)."""
    if not region:
        return None
    parts = region.split(",")
    if len(parts) != 4:
        raise ValueError(f"not a region: {region!r}")
    x, y, w, h = (int(p) for p in parts)
    return x, y, w, h


def cell_id(sha256: str, region: str = WHOLE) -> str:
    """The id of a cell: the content hash, with '@region' for a part of the image."""
    return f"{sha256}@{region}" if region else sha256


def split_cell_id(cid: str) -> tuple[str, str]:
    """(content hash, region) of a cell id."""
    sha, _, region = cid.partition("@")
    return sha, region


#: Marks a cell of a field photograph in a cell path: 'field.jpg#cell=x,y,w,h'.
CELL_MARK = "#cell="


def cell_path(source: str, region: str = WHOLE) -> str:
    """The path the viewer's case knows a cell by: the file itself, or the file and a region
    ('field.jpg#cell=120,80,96,96')."""
    return f"{source}{CELL_MARK}{region}" if region else source


def split_cell_path(path: str) -> tuple[str, str]:
    """(source file, region) of a cell path; a file whose name merely contains the mark is a
    whole image."""
    source, mark, region = str(path).rpartition(CELL_MARK)
    if not mark:
        return str(path), WHOLE
    try:
        box_of(region)
    except ValueError:
        return str(path), WHOLE
    return source, region
