"""Draw the application icon (a stained cell) as resources/icons/marrow.png and marrow.ico.

Run once when the icon changes: `python packaging/make_icon.py`. Needs only Pillow; the output
files are committed, so builds do not run this.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def draw(size: int = 1024) -> Image.Image:
    """A May-Grünwald-Giemsa-coloured cell: pale pink cytoplasm, lobed violet nucleus."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    s = size / 256
    # rounded tile so the icon reads on dark and light task bars
    d.rounded_rectangle([8 * s, 8 * s, 248 * s, 248 * s], radius=48 * s, fill=(36, 52, 92, 255))
    # cytoplasm
    d.ellipse([34 * s, 34 * s, 222 * s, 222 * s], fill=(236, 196, 214, 255),
              outline=(190, 120, 160, 255), width=int(6 * s))
    # lobed nucleus (three overlapping lobes)
    for box in ([70, 76, 150, 150], [112, 64, 190, 140], [96, 118, 176, 192]):
        d.ellipse([v * s for v in box], fill=(92, 44, 140, 255))
    # a few granules
    for x, y in ((70, 170), (180, 168), (62, 120), (150, 200), (192, 110)):
        d.ellipse([(x - 6) * s, (y - 6) * s, (x + 6) * s, (y + 6) * s], fill=(170, 80, 150, 255))
    return img.filter(ImageFilter.SMOOTH)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    big = draw()
    big.resize((256, 256), Image.LANCZOS).save(ICONS / "marrow.png")
    big.resize((256, 256), Image.LANCZOS).save(ICONS / "marrow.ico", sizes=ICO_SIZES)
    print(f"wrote {ICONS / 'marrow.png'} and {ICONS / 'marrow.ico'}")


if __name__ == "__main__":
    main()
