"""Masks that follow the VGG-19 feature pyramid.

DPST (``neuralstyle_seg.lua``) carries each mask through the network alongside the features:
after every convolution it applies a 3x3 average pool with stride 1 and padding 1, and at every
pooling layer it rescales the mask to half size. :func:`mask_pyramid` does the same, with two
deliberate differences (``"conv"`` and ``"pool"`` below):

* ``"conv"``: 3x3 average, stride 1, padding 1, with ``count_include_pad=False``. DPST used
  Torch7's default (padding counted), which darkens the border of every mask a little more at
  each of the 16 convolutions, so border pixels weigh less in the Gram matrices. Not counting
  the padding keeps an all-ones mask all ones; a mask still widens by one pixel of soft edge
  per convolution, like the receptive field of the features.
* ``"pool"``: average of each 2x2 block (area interpolation), giving ``floor(h/2) x floor(w/2)``,
  the size of ``torch.nn.MaxPool2d(2, 2)`` (which drops an odd last row/column the same way),
  so every mask value averages exactly the window its feature is pooled from. DPST used
  ``image.scale`` (bilinear) to ``ceil`` sizes, matching its ceil-mode Caffe pooling.
* ``"relu"``: the mask is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

__all__ = ["MASK_OPS", "mask_pyramid"]

#: Layer kinds :func:`mask_pyramid` understands (see ``photostyle.vgg.layer_ops``).
MASK_OPS = ("conv", "relu", "pool")


def mask_pyramid(masks: Tensor, ops: Sequence[str]) -> list[Tensor]:
    """The masks after each layer of a VGG-like network.

    Parameters
    ----------
    masks : Tensor
        ``(K,H,W)`` floating-point masks, usually in [0, 1]; not modified.
    ops : sequence of str
        One of ``"conv"``, ``"relu"`` or ``"pool"`` per layer, in network order.

    Returns
    -------
    list of Tensor
        ``len(ops)`` tensors; entry ``i`` is the ``(K,h_i,w_i)`` mask after ``ops[i]``, with
        the spatial size of that layer's output (``"pool"`` halves it, rounding down). After a
        ``"relu"`` the entry is the same tensor object as the previous one; do not modify the
        results in place.
    """
    if masks.dim() != 3:
        raise ValueError(f"masks must be (K,H,W), got shape {tuple(masks.shape)}")
    if not masks.is_floating_point():
        raise TypeError(f"masks must be floating point, got {masks.dtype}")
    out: list[Tensor] = []
    current = masks
    for op in ops:
        if op == "conv":
            current = F.avg_pool2d(current, kernel_size=3, stride=1, padding=1,
                                   count_include_pad=False)
        elif op == "pool":
            if current.shape[-2] < 2 or current.shape[-1] < 2:
                raise ValueError(f"cannot pool a {current.shape[-2]}x{current.shape[-1]} mask; "
                                 "the image is too small for this many pooling layers")
            current = F.avg_pool2d(current, kernel_size=2, stride=2)
        elif op != "relu":
            raise ValueError(f"unknown layer kind {op!r}; expected one of {', '.join(MASK_OPS)}")
        out.append(current)
    return out
