"""marrow-desktop: offline bone-marrow cell classification for haematology labs."""

__version__ = "0.1.0"
