"""Exceptions and warnings raised by the ``segment`` package."""

from __future__ import annotations

__all__ = ["MaskError", "MaskWarning", "SegmentationWeightsError",
           "SegmentationWeightsUnavailable"]


class MaskError(ValueError):
    """A segmentation mask the user has to fix.

    The message is one line that names the file (where there is one) and says how to fix it,
    e.g. ``"masks/in7.png is 700x380 but its image is 700x394; draw the mask at the image's
    size"``.
    """


class MaskWarning(UserWarning):
    """Something about a mask was fixed or guessed, e.g. a small size mismatch or a label found
    in only one of the two masks."""


class SegmentationWeightsError(MaskError):
    """A segmentation checkpoint that cannot be used: a missing or broken folder, a model that
    is not a 150-class ADE20K model, or a Hub id that does not exist. The user has to fix it."""


class SegmentationWeightsUnavailable(SegmentationWeightsError):
    """The segmentation weights cannot be had right now: not in the local Hugging Face cache and
    the Hub cannot be reached (offline). Callers may fall back to a method that needs none.

    Attributes
    ----------
    reason : str
        Why, in a few words (the message also names the checkpoint and the fix).
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message
