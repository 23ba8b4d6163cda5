"""Masks that follow the VGG-19 feature pyramid.

DPST (``neuralstyle_seg.lua``) carries each mask through the network alongside the features:
after every convolution it applies a 3x3 average pool with stride 1 and padding 1, and at every
pooling layer it rescales the mask to half size. :func:`mask_pyramid` has two rules for it:

``mode="lua"``: exactly as the Lua code (photostyle's ``loss="paper"``):

* ``"conv"``: ``nn.SpatialAveragePooling(3,3,1,1,1,1)``: 3x3 average, stride 1, zero padding 1,
  the padding counted (torch/nn's ``count_include_pad = true``), so even an all-ones mask
  darkens at the image border, a little more at each of the 16 convolutions;
* ``"pool"``: ``image.scale(mask, ceil(w/2), ceil(h/2))``, whose default mode ``'bilinear'`` is
  torch/image's ``scaleBilinear``. For a reduction its 1-D pass (``Main_scaleLinear_rowcol``)
  is not bilinear sampling but an area average: each output cell averages the input cells its
  interval ``[d·s, (d+1)·s)``, ``s = src/dst``, covers, the end cells weighted by the covered
  fraction (pair averages for an even side; 5 → 3 gives rows ``[.6,.4]``, ``[.2,.6,.2]``,
  ``[.4,.6]``). The ceil sizes are those of loadcaffe's ceil-mode pooling (see
  :func:`lua_scale_matrix`).

``mode="photostyle"`` (the default; ``loss="relative"``), with two deliberate differences:

* ``"conv"``: 3x3 average, stride 1, padding 1, with ``count_include_pad=False``: an all-ones
  mask stays all ones; a mask still widens by one pixel of soft edge per convolution, like the
  receptive field of the features.
* ``"pool"``: average of each 2x2 block, giving ``floor(h/2) x floor(w/2)``, the size of
  ``torch.nn.MaxPool2d(2, 2)`` in floor mode, so every mask value averages exactly the window
  its feature is pooled from.

In both, ``"relu"`` leaves the mask unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MASK_OPS", "PYRAMID_MODES", "lua_scale_matrix", "mask_pyramid"]

#: Layer kinds :func:`mask_pyramid` understands (see ``photostyle.vgg.layer_ops``).
MASK_OPS = ("conv", "relu", "pool")

#: Rules of :func:`mask_pyramid`.
PYRAMID_MODES = ("photostyle", "lua")


def lua_scale_matrix(src_len: int, dst_len: int) -> np.ndarray:
    r"""The ``(dst_len, src_len)`` matrix of torch/image's 1-D linear rescaling
    (``Main_scaleLinear_rowcol``, the pass ``image.scale(..., 'bilinear')`` runs on rows, then
    on columns).

    Reduction (``dst_len < src_len``): with :math:`s = src/dst` (float32, as the C code), output
    cell :math:`d` averages the input cells over :math:`[d s, (d+1) s)`, each weighted by the
    length of its overlap with that interval:

    .. math:: W_{ds} = \frac{|[s', s'+1) \cap [d s, (d+1) s)|}{\sum_{s'} |\ldots|}

    Enlargement: linear interpolation with the corners aligned (:math:`s = (src-1)/(dst-1)`), the
    last output cell a copy of the last input cell. Equal lengths: the identity.
    """
    if src_len < 1 or dst_len < 1:
        raise ValueError(f"lengths must be >= 1, got {src_len} -> {dst_len}")
    if src_len == dst_len:
        return np.eye(src_len)
    out = np.zeros((dst_len, src_len))
    if dst_len > src_len:
        if src_len == 1:
            out[:, 0] = 1.0
            return out
        step = np.float32(src_len - 1) / np.float32(dst_len - 1)
        pos = np.arange(dst_len - 1, dtype=np.float32) * step  # float32 products, as in C
        left = pos.astype(np.int64)
        frac = (pos - left.astype(np.float32)).astype(np.float64)
        rows = np.arange(dst_len - 1)
        out[rows, left] += 1.0 - frac
        inside = frac != 0
        out[rows[inside], left[inside] + 1] += frac[inside]
        out[dst_len - 1, src_len - 1] = 1.0
        return out
    step = np.float32(src_len) / np.float32(dst_len)
    edges = (np.arange(dst_len + 1, dtype=np.float32) * step).astype(np.float64)
    cells = np.arange(src_len, dtype=np.float64)
    lo, hi = edges[:-1, None], edges[1:, None]
    overlap = np.clip(np.minimum(cells[None] + 1, hi) - np.maximum(cells[None], lo), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def _lua_halve(masks: Tensor) -> Tensor:
    """``image.scale(m, ceil(w/2), ceil(h/2))`` of ``(K,h,w)`` masks (rows, then columns)."""
    h, w = masks.shape[-2:]
    rows = torch.from_numpy(lua_scale_matrix(w, math.ceil(w / 2))).to(masks)
    cols = torch.from_numpy(lua_scale_matrix(h, math.ceil(h / 2))).to(masks)
    return cols @ (masks @ rows.T)


def mask_pyramid(masks: Tensor, ops: Sequence[str], mode: str = "photostyle") -> list[Tensor]:
    """The masks after each layer of a VGG-like network.

    Parameters
    ----------
    masks : Tensor
        ``(K,H,W)`` floating-point masks, usually in [0, 1]; not modified.
    ops : sequence of str
        One of ``"conv"``, ``"relu"`` or ``"pool"`` per layer, in network order.
    mode : {"photostyle", "lua"}
        The carrying rule (see the module docstring): photostyle's (floor sizes, padding not
        counted) or the Lua code's (ceil sizes, padding counted, torch/image's rescaling).

    Returns
    -------
    list of Tensor
        ``len(ops)`` tensors; entry ``i`` is the ``(K,h_i,w_i)`` mask after ``ops[i]``, with
        the spatial size of that layer's output (``"pool"`` halves it, rounding down, or up
        with ``mode="lua"``). After a ``"relu"`` the entry is the same tensor object as the
        previous one; do not modify the results in place.
    """
    if masks.dim() != 3:
        raise ValueError(f"masks must be (K,H,W), got shape {tuple(masks.shape)}")
    if not masks.is_floating_point():
        raise TypeError(f"masks must be floating point, got {masks.dtype}")
    if mode not in PYRAMID_MODES:
        raise ValueError(f"mode must be one of {', '.join(PYRAMID_MODES)}, got {mode!r}")
    lua = mode == "lua"
    out: list[Tensor] = []
    current = masks
    for op in ops:
        if op == "conv":
            current = F.avg_pool2d(current, kernel_size=3, stride=1, padding=1,
                                   count_include_pad=lua)
        elif op == "pool":
            if lua:
                current = _lua_halve(current)
            elif current.shape[-2] < 2 or current.shape[-1] < 2:
                raise ValueError(f"cannot pool a {current.shape[-2]}x{current.shape[-1]} mask; "
                                 "the image is too small for this many pooling layers")
            else:
                current = F.avg_pool2d(current, kernel_size=2, stride=2)
        elif op != "relu":
            raise ValueError(f"unknown layer kind {op!r}; expected one of {', '.join(MASK_OPS)}")
        out.append(current)
    return out
