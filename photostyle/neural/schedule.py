"""The coarse-to-fine pyramid of a transfer: which sizes run, and how many steps each.

Each level has twice the long side of the one before it; the last is the working size
(``Config.size``). Coarse levels too small for an image are dropped and their steps carried to
the coarsest level that runs. The step counts come from
:attr:`photostyle.config.Config.level_steps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..io.images import fit_long_side

__all__ = ["Level", "plan_levels"]


@dataclass(frozen=True)
class Level:
    """One level of the coarse-to-fine pyramid.

    Attributes
    ----------
    long_side : int
        Long side of the content (and of the style) at this level.
    height, width : int
        The content's size at this level.
    iters : (int, int)
        Steps of stage 1 and stage 2 run at this level.
    style_long_sides : tuple of int
        Long side of each style image at this level: ``long_side`` times
        ``Config.style_scale`` (with ``Config.size`` None, each image's own long side at the
        finest level, halved per level below, times ``style_scale``).
    """

    long_side: int
    height: int
    width: int
    iters: tuple[int, int]
    style_long_sides: tuple[int, ...]


def _sizes(style_size: tuple[int, int] | Sequence[tuple[int, int]] | None,
           content_size: tuple[int, int]) -> list[tuple[int, int]]:
    """One ``(h, w)`` per style image (the content's when none is given)."""
    if style_size is None:
        return [tuple(int(v) for v in content_size)]
    if len(style_size) == 2 and all(isinstance(v, (int, np.integer)) for v in style_size):
        return [tuple(int(v) for v in style_size)]  # one (h, w)
    return [tuple(int(v) for v in hw) for hw in style_size]


def plan_levels(config: Config, content_size: tuple[int, int],
                style_size: tuple[int, int] | Sequence[tuple[int, int]] | None = None,
                ) -> tuple[Level, ...]:
    """The pyramid a transfer runs for inputs of these sizes (before resizing).

    Level ``i`` of ``L`` has the long side ``round(S / 2**(L-1-i))``, ``S`` the working long
    side (``config.size``, or the content's own). Coarse levels where the content's or a
    style's short side would be under ``config.min_level_side`` are dropped and their steps
    added to the coarsest level that runs. ``style_size`` is one ``(h, w)`` or one per style.
    """
    steps = config.level_steps
    h0, w0 = (int(v) for v in content_size)
    styles = _sizes(style_size, (h0, w0))
    top = config.size if config.size is not None else max(h0, w0)
    style_tops = [config.size if config.size is not None else max(hw) for hw in styles]
    levels: list[Level] = []
    carry = (0, 0)
    count = len(steps)
    for i, (n1, n2) in enumerate(steps):
        scale = 2 ** (count - 1 - i)
        side = max(1, round(top / scale))
        style_sides = tuple(max(1, round(t * config.style_scale / scale)) for t in style_tops)
        h, w = fit_long_side(h0, w0, side)
        short = min(h, w, *(min(fit_long_side(*hw, s)) for hw, s in zip(styles, style_sides,
                                                                         strict=True)))
        n1, n2 = n1 + carry[0], n2 + carry[1]
        if i < count - 1 and short < config.min_level_side:
            carry = (n1, n2)
            continue
        carry = (0, 0)
        levels.append(Level(side, h, w, (n1, n2), style_sides))
    return tuple(levels)
