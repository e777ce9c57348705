"""Text that is safe to write: file names that are not valid UTF-8 (from USB sticks, old
Windows shares) reach Python as strings with surrogate escapes, which UTF-8 writers, SQLite and
terminals refuse. printable() writes those bytes as \\xNN escapes: lossless, and the same every
time, so reports, the store and resumed runs agree on it."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with undecodable bytes (surrogate escapes) written as \\xNN."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def counted(n: int, singular: str, plural: str = "") -> str:
    """'1 entry', '2 entries': a count with its noun in the right number."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"
