"""Input checks and preparation of one level: images resized to the working size, one-hot masks
and each label's weight.

Masks are integer label maps on one shared label set (:func:`segment.align_masks`); they are
resized with :func:`segment.resize_labels` (nearest neighbour, pixel centres), the one resizer of
label maps in the project.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from segment import region_masks

from ..errors import InputError, require_both
from ..io.images import MIN_SIDE, fit_long_side
from ..io.tensors import resize

__all__ = ["as_image", "as_styles", "blend_weights", "label_count", "prepare", "prepare_inputs",
           "prepare_masks"]


def as_image(image: Tensor, name: str) -> Tensor:
    """``image`` as ``(1,3,H,W)``, checked (a floating tensor at least :data:`MIN_SIDE` px on a
    side; ``(3,H,W)`` gets a batch dimension)."""
    if not isinstance(image, Tensor):
        raise InputError(f"{name} must be a torch.Tensor (1,3,H,W) in [0, 1]")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise InputError(f"{name} must have shape (1,3,H,W) or (3,H,W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor in [0, 1], got {image.dtype}")
    if min(image.shape[-2:]) < MIN_SIDE:
        raise InputError(f"{name} is {image.shape[-1]}x{image.shape[-2]} px; VGG-19 needs at "
                         f"least {MIN_SIDE} px on each side")
    return image


def as_styles(styles: Sequence[Tensor]) -> list[Tensor]:
    """:func:`as_image` of each style image (named "style", or "style 2" … when several)."""
    if len(styles) == 1:
        return [as_image(styles[0], "style")]
    return [as_image(s, f"style {i}") for i, s in enumerate(styles, start=1)]


def blend_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """The styles' mixing weights, normalized to sum 1 (equal when ``weights`` is None)."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise InputError(f"{len(weights)} style blend weights for {count} style images; give "
                         "one weight per style")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def _as_labels(mask: np.ndarray | Tensor, name: str) -> np.ndarray:
    labels = np.asarray(mask.detach().cpu() if isinstance(mask, Tensor) else mask)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{name} must be an integer label map (H,W), got {labels.dtype} "
                         f"{labels.shape}")
    if labels.size and int(labels.min()) < 0:
        raise InputError(f"{name} has negative labels")
    return labels.astype(np.int64, copy=False)


def label_count(mask: np.ndarray | Tensor | None) -> int:
    """Number of distinct labels of a label map (1 without one)."""
    if mask is None:
        return 1
    return int(np.unique(_as_labels(mask, "mask")).size)


def prepare_masks(content_mask: np.ndarray | Tensor, style_mask: np.ndarray | Tensor,
                  content_size: tuple[int, int], style_size: tuple[int, int],
                  like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One-hot masks on the working sizes and each label's weight (its share of the content):
    :func:`segment.region_masks` as tensors like ``like``.

    Returns
    -------
    content_masks : Tensor
        ``(K,Hc,Wc)``.
    style_masks : Tensor
        ``(K,Hs,Ws)``.
    weights : Tensor
        ``(K,)``, summing to 1.
    """
    c, s, weights = region_masks(_as_labels(content_mask, "content mask"),
                                 _as_labels(style_mask, "style mask"), content_size, style_size)
    return (torch.from_numpy(c).to(like), torch.from_numpy(s).to(like),
            torch.from_numpy(weights).to(like))


def prepare(content: Tensor, styles: Sequence[Tensor],
            content_mask: np.ndarray | Tensor | None,
            style_masks: Sequence[np.ndarray | Tensor] | None, size: int | None,
            style_sizes: Sequence[int | None],
            ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor] | None, Tensor | None]:
    """Check the inputs, resize the content to ``size`` and each style to its own long side
    (``style_sizes``) and build the masks of one level.

    Returns
    -------
    content : Tensor
        ``(1,3,h,w)``.
    styles : list of Tensor
        ``(1,3,h',w')`` each, on the content's device and dtype.
    content_masks, style_masks, weights : Tensor, list of Tensor, Tensor, or None
        As :func:`prepare_masks` (one style mask per style), or ``None`` without masks.
    """
    content = as_image(content, "content")
    styles = as_styles(styles)
    require_both(content_mask, style_masks)
    c_size = fit_long_side(*content.shape[-2:], size)
    s_sizes = [fit_long_side(*s.shape[-2:], side)
               for s, side in zip(styles, style_sizes, strict=True)]
    if min(c_size + sum(s_sizes, ())) < MIN_SIDE:
        hint = " or --style-scale" if any(s != size for s in style_sizes) else ""
        raise InputError(f"at size {size} an image would be under {MIN_SIDE} px on a side;"
                         f" use a larger --size{hint}")
    with torch.no_grad():
        content = resize(content, c_size)
        styles = [resize(s.to(device=content.device, dtype=content.dtype), hw)
                  for s, hw in zip(styles, s_sizes, strict=True)]
    if content_mask is None:
        return content, styles, None, None, None
    c_masks = weights = None
    s_masks = []
    for mask, hw in zip(style_masks, s_sizes, strict=True):
        c_masks, s, weights = prepare_masks(content_mask, mask, c_size, hw, content)
        s_masks.append(s)
    return content, styles, c_masks, s_masks, weights


def prepare_inputs(content: Tensor, style: Tensor, content_mask: np.ndarray | Tensor | None,
                   style_mask: np.ndarray | Tensor | None, size: int | None,
                   ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """:func:`prepare` for one style at the content's size."""
    c, styles, c_masks, s_masks, weights = prepare(
        content, [style], content_mask, None if style_mask is None else [style_mask], size,
        (size,))
    return c, styles[0], c_masks, None if s_masks is None else s_masks[0], weights
