"""The editor's live result: the weight-free method, re-run after every edit.

One call, :func:`live_result`, so the method can be swapped for a better weight-free one
without touching the editor. Today it is :func:`photostyle.classic.preview` (regional colour
transfer + local-affine post-process; ~0.15 s at 512 px on one CPU thread, numpy only).
"""

from __future__ import annotations

import numpy as np

from ..classic.preview import preview
from ..config import PREVIEW, Config
from ..io.images import fit_long_side, resize_image

__all__ = ["LIVE_CONFIG", "live_inputs", "live_result"]

#: Settings of the live result: the preview's, at Config's default size.
LIVE_CONFIG = Config(quality=PREVIEW)


def live_inputs(image: np.ndarray, config: Config = LIVE_CONFIG) -> np.ndarray:
    """A photo at the live result's working size, ``config.size`` on the long side or its own
    size if smaller (done once per photo, not per edit)."""
    side = max(image.shape[:2])
    return resize_image(image, fit_long_side(*image.shape[:2], min(side, config.size or side)))


def live_result(content: np.ndarray, style: np.ndarray, content_labels: np.ndarray | None,
                style_labels: np.ndarray | None, config: Config = LIVE_CONFIG) -> np.ndarray:
    """The weight-free result of the content in the style, region by region.

    Parameters
    ----------
    content, style : np.ndarray
        ``(H,W,3)`` float in [0, 1] at the working size (:func:`live_inputs`); used at that
        size.
    content_labels, style_labels : np.ndarray, optional
        Label maps on one label set (:func:`segment.align_masks`), any sizes of the same
        pictures; both or neither (neither: the whole images are matched).
    config : Config
        Settings of the weight-free method.

    Returns
    -------
    np.ndarray
        ``(h,w,3)`` float in [0, 1], the content's size.
    """
    return preview(content, style, content_labels, style_labels, config=config.replace(size=None))
