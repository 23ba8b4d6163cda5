"""Where a mask label lives at one feature layer: the pixels a loss term gathers and the mask
values there. Shared by the fused Gram loss (:mod:`.gram`) and the histogram loss
(:mod:`.histogram`), computed once per level, never in the per-step loop."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["GATHER_BELOW", "TINY", "LabelSupport", "label_support"]

#: Added to denominators that may be 0 (an empty mask's energy).
TINY = 1e-12

#: A label covering less than this share of a layer's pixels is gathered onto its support
#: before its term is computed (below it, the gather costs less than the zeros it skips).
GATHER_BELOW = 0.9


@dataclass(frozen=True)
class LabelSupport:
    """One label's pixels at one layer.

    Attributes
    ----------
    index : Tensor or None
        Flat indices of the pixels where the mask is > 0 (``None``: all pixels, no gather).
    mask : Tensor or None
        The mask at those pixels (``None``: all ones).
    """

    index: Tensor | None
    mask: Tensor | None


def label_support(mask: Tensor) -> LabelSupport | None:
    """The :class:`LabelSupport` of a flat ``(N,)`` mask (``None`` if it is 0 everywhere)."""
    support = mask > 0
    count = int(support.sum())
    if count == 0:
        return None
    index = None
    if count < GATHER_BELOW * mask.numel():
        index = support.nonzero().squeeze(1)
        mask = mask.index_select(0, index)
    return LabelSupport(index, None if bool((mask == 1).all()) else mask)
