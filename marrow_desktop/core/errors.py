"""Exceptions with messages meant for the person at the screen."""

from __future__ import annotations


class MarrowError(Exception):
    """Base class for errors the application reports to the user."""


class ImageLoadError(MarrowError):
    """An image file could not be read; the message names the file and the reason."""


class ModelFileError(MarrowError):
    """A model file is missing, corrupt or does not match its metadata."""
