"""Exceptions and warnings raised by the ``segment`` package."""

from __future__ import annotations

__all__ = ["MaskError", "MaskWarning"]


class MaskError(ValueError):
    """A segmentation mask the user has to fix.

    The message is one line that names the file (where there is one) and says how to fix it,
    e.g. ``"masks/in7.png is 700x380 but its image is 700x394; draw the mask at the image's
    size"``.
    """


class MaskWarning(UserWarning):
    """Something about a mask was fixed or guessed, e.g. a small size mismatch or a label found
    in only one of the two masks."""
