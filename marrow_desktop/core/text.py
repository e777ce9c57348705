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
