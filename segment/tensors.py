"""One-hot region masks as torch tensors (the numpy forms: :mod:`segment.align`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .align import AlignedMasks, onehot_labels, region_masks

__all__ = ["mask_tensors", "onehot_masks"]


def onehot_masks(
    labels: np.ndarray | Tensor,
    num_labels: int,
    size: tuple[int, int] | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """:func:`segment.align.onehot_labels` as a ``(K,h,w)`` tensor on ``device`` in ``dtype``
    (``labels`` may be a tensor)."""
    if isinstance(labels, Tensor):
        labels = labels.detach().cpu().numpy()
    masks = onehot_labels(np.asarray(labels), num_labels, size, np.float32)
    return torch.from_numpy(masks).to(device=device, dtype=dtype)


def mask_tensors(
    aligned: AlignedMasks,
    content_size: tuple[int, int] | None = None,
    style_size: tuple[int, int] | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Content and style mask tensors with one channel per label present in the content
    (:func:`segment.align.region_masks` of ``aligned``'s label maps).

    Returns
    -------
    content : Tensor
        ``(K,h,w)`` one-hot content masks, ``K = aligned.num_channels``; sums to 1 per pixel.
    style : Tensor
        ``(K,h',w')`` style masks: one-hot for shared labels, all ones for the content-only
        labels (the whole style image), and style-only labels dropped (their pixels are zero in
        every channel).
    """
    content, style, _ = region_masks(aligned.content_labels, aligned.style_labels,
                                     content_size, style_size)
    return (torch.from_numpy(content).to(device=device, dtype=dtype),
            torch.from_numpy(style).to(device=device, dtype=dtype))
