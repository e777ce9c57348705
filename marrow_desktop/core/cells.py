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
