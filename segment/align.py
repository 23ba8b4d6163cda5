"""Putting a content mask and a style mask on one label set, and their one-hot region masks
(numpy; the tensor forms are in :mod:`segment.tensors`).

Labels are matched by colour: the content's ``red`` region is transferred from the style's
``red`` region. A label found in only one mask is reported with a :class:`MaskWarning`:

* a content label without a style region is kept, and its style mask is the *whole style
  image* (so that region gets the global style statistics, as plain neural style would);
* a style label without a content region is dropped: those style pixels belong to no mask
  channel and do not contribute to any style statistic.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import MaskWarning
from .palette import ParsedMask, color_name, color_sort_key

__all__ = ["AlignedMasks", "align_masks", "onehot_labels", "region_masks", "resize_labels"]

RGB = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class AlignedMasks:
    """Content and style label maps on one shared label set.

    Attributes
    ----------
    content_labels : np.ndarray
        ``(H,W)`` int32 in ``[0, num_channels)``, read-only.
    style_labels : np.ndarray
        ``(H',W')`` int32 in ``[0, len(colors))``, read-only. Values ``>= num_channels`` are the
        style-only labels, which :func:`region_masks` drops.
    colors : tuple of (int, int, int)
        RGB key of every label: first the ``num_channels`` labels present in the content (in
        canonical order: palette order, then other colours by RGB), then the style-only labels.
    names : tuple of str
        Name of every label (palette name or ``"#rrggbb"``).
    content_only : tuple of int
        Indices (into ``colors``, all ``< num_channels``) of content labels absent from the
        style; their style mask is the whole style image.
    style_only : tuple of int
        Indices (into ``colors``, all ``>= num_channels``) of style labels absent from the
        content; they are dropped from the style side.
    """

    content_labels: np.ndarray
    style_labels: np.ndarray
    colors: tuple[RGB, ...]
    names: tuple[str, ...]
    content_only: tuple[int, ...]
    style_only: tuple[int, ...]

    @property
    def num_channels(self) -> int:
        """Number of mask channels used by the transfer: the labels present in the content."""
        return len(self.colors) - len(self.style_only)


def align_masks(content: ParsedMask, style: ParsedMask) -> AlignedMasks:
    """Match the labels of a content mask and a style mask by colour.

    Parameters
    ----------
    content, style : ParsedMask
        Parsed masks of the content and style images (any sizes).

    Returns
    -------
    AlignedMasks
        Both label maps renumbered into the shared label set (see the module docstring).

    Warns
    -----
    MaskWarning
        Once for content labels absent from the style and once for style labels absent from
        the content, naming them.
    """
    content_set = set(content.colors)
    style_set = set(style.colors)
    shared = sorted(content_set, key=color_sort_key)
    dropped = sorted(style_set - content_set, key=color_sort_key)
    colors = tuple(shared) + tuple(dropped)
    index = {rgb: i for i, rgb in enumerate(colors)}

    content_lut = np.array([index[c] for c in content.colors], dtype=np.int32)
    style_lut = np.array([index[c] for c in style.colors], dtype=np.int32)
    content_labels = content_lut[content.labels]
    style_labels = style_lut[style.labels]
    content_labels.flags.writeable = False
    style_labels.flags.writeable = False

    content_only = tuple(i for i, c in enumerate(shared) if c not in style_set)
    style_only = tuple(range(len(shared), len(colors)))
    names = tuple(color_name(c) for c in colors)
    if content_only:
        listed = ", ".join(names[i] for i in content_only)
        warnings.warn(
            f"content mask label(s) {listed} have no region in the style mask; the whole style "
            "image is used as their style (paint the same colour in the style mask to choose)",
            MaskWarning, stacklevel=2)
    if style_only:
        listed = ", ".join(names[i] for i in style_only)
        warnings.warn(
            f"style mask label(s) {listed} have no region in the content mask; those style "
            "regions are ignored", MaskWarning, stacklevel=2)
    return AlignedMasks(content_labels=content_labels, style_labels=style_labels, colors=colors,
                        names=names, content_only=content_only, style_only=style_only)


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map.

    Output pixel ``(i, j)`` takes input pixel ``(floor((i + 0.5) * H / h),
    floor((j + 0.5) * W / w))``, i.e. the input pixel under the output pixel's centre (PIL's
    NEAREST, torch's ``"nearest-exact"``).

    Parameters
    ----------
    labels : np.ndarray
        ``(H,W)`` array of any dtype; not modified.
    size : tuple of int
        ``(h, w)`` of the result, both positive.

    Returns
    -------
    np.ndarray
        ``(h,w)`` array of ``labels``' dtype (a new array, even when the size is unchanged).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H,W), got shape {labels.shape}")
    h, w = (int(s) for s in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive (h, w), got {size}")
    rows = np.minimum(((np.arange(h) + 0.5) * labels.shape[0] / h).astype(np.int64),
                      labels.shape[0] - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * labels.shape[1] / w).astype(np.int64),
                      labels.shape[1] - 1)
    return labels[rows[:, None], cols[None, :]]


def onehot_labels(labels: np.ndarray, num_labels: int, size: tuple[int, int] | None = None,
                  dtype: np.dtype | type = np.float32) -> np.ndarray:
    """One mask channel per label (numpy).

    Parameters
    ----------
    labels : np.ndarray
        ``(H,W)`` integer label map with values in ``[0, num_labels)``; negative values mean
        "no label" (zero in every channel). Not modified.
    num_labels : int
        Number of channels ``K`` (>= 0).
    size : tuple of int, optional
        ``(h, w)`` to resize to first (nearest neighbour, see :func:`resize_labels`).
    dtype
        Of the result.

    Returns
    -------
    np.ndarray
        ``(K,h,w)`` with values in {0, 1}; where every label is ``>= 0`` the channels sum to 1
        at each pixel.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H,W) integer array, got {labels.dtype} "
                         f"{labels.shape}")
    if num_labels < 0:
        raise ValueError(f"num_labels must be >= 0, got {num_labels}")
    if labels.size and labels.max() >= num_labels:
        raise ValueError(f"labels go up to {labels.max()} but num_labels is {num_labels}")
    if size is not None:
        labels = resize_labels(labels, size)
    channels = np.arange(num_labels)[:, None, None]
    return (labels[None] == channels).astype(dtype)


def region_masks(content_labels: np.ndarray, style_labels: np.ndarray,
                 content_size: tuple[int, int] | None = None,
                 style_size: tuple[int, int] | None = None,
                 dtype: np.dtype | type = np.float32,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The regions a transfer matches: one-hot masks of two label maps on one label set, at
    the working sizes, and each region's weight.

    The rule every method follows (the one home of it): a label with no content pixel at
    ``content_size`` is dropped (e.g. a style-only label); a content label with no style pixel
    gets an all-ones style mask, i.e. the whole style image's statistics.

    Parameters
    ----------
    content_labels, style_labels : np.ndarray
        ``(H,W)`` and ``(H',W')`` integer label maps (``>= 0``) on one label set, e.g.
        :attr:`AlignedMasks.content_labels` and :attr:`AlignedMasks.style_labels`.
    content_size, style_size : tuple of int, optional
        ``(h, w)`` to resize each to (nearest neighbour); default: its own size.
    dtype
        Of the results.

    Returns
    -------
    content : np.ndarray
        ``(K,h,w)`` one-hot, summing to 1 at each pixel.
    style : np.ndarray
        ``(K,h',w')``.
    weights : np.ndarray
        ``(K,)`` float64, each region's share of the content (summing to 1).
    """
    c_labels, s_labels = np.asarray(content_labels), np.asarray(style_labels)
    num = int(max(c_labels.max(initial=0), s_labels.max(initial=0))) + 1
    content = onehot_labels(c_labels, num, content_size, dtype)
    style = onehot_labels(s_labels, num, style_size, dtype)
    area = content.reshape(num, -1).sum(1, dtype=np.float64)
    keep = area > 0
    absent = style.reshape(num, -1).sum(1) == 0
    style[absent] = 1
    return content[keep], style[keep], area[keep] / area.sum()
