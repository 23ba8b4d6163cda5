"""Aligned masks made automatically: ``"auto"`` (semantic, ADE20K) or ``"cluster"``.

``"auto"`` segments both images with an ADE20K network (:mod:`segment.semantic`), merges its 150
classes into the groups of :data:`~segment.ade20k.GROUPS` (sky, building / structure, …), merges
regions under ``min_region`` (2%) of the image into the group around them, and pairs the groups
of the two images:

* a content group absent from the style takes the first of its related groups that the style
  has (e.g. grass -> tree / plant); if it has none, it keeps its label and is matched to the
  whole style image (a global label, as for hand-drawn masks);
* a style group absent from the content likewise takes the first related group the content has;
  if none, it is dropped (those style pixels take part in no statistic).

When the semantic weights cannot be had (offline and not cached), a :class:`MaskWarning` says so
and the ``"cluster"`` method is used. ``"cluster"`` co-segments the pair without any
segmentation weights (:func:`segment.cluster.cosegment`).

Both give label maps at the images' sizes painted in the DPST colour code: groups have fixed
colours (sky blue, tree / plant green, building / structure white, …); clusters get the palette
colours from the top of the picture down (blue, green, black, …). The maps are fixed points of
:func:`~segment.palette.parse_color_mask`, so a mask written from
:func:`~segment.io.color_mask_image` loads back as the same labels, and can be corrected by hand
and passed back as ``--content-mask``.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .ade20k import DEFAULT_CHECKPOINT, GROUPS, class_to_group, group_index
from .align import AlignedMasks, align_masks, resize_labels
from .cluster import ClusterParams, FeatureExtractor, cosegment
from .errors import MaskWarning, SegmentationWeightsUnavailable
from .palette import PALETTE, ParsedMask, parse_color_mask
from .regions import merge_small_regions

if TYPE_CHECKING:
    from torch import Tensor

    from .semantic import SemanticModel

__all__ = [
    "METHODS",
    "MIN_REGION",
    "automatic_masks",
    "cluster_aligned_masks",
    "remap_groups",
    "semantic_aligned_masks",
]

#: Methods of :func:`automatic_masks`.
METHODS = ("auto", "cluster")

#: Regions smaller than this fraction of their image merge into the region around them.
MIN_REGION = 0.02

#: Long side at which group maps are cleaned (then resized to the image with nearest neighbour).
_WORK_SIDE = 1024

RGB = tuple[int, int, int]


def remap_groups(content_groups: np.ndarray,
                 style_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair the groups of two images through their relatedness (see the module docstring).

    Parameters
    ----------
    content_groups, style_groups : np.ndarray
        ``(H,W)`` and ``(H',W')`` integer group indices into :data:`~segment.ade20k.GROUPS`;
        not modified.

    Returns
    -------
    content, style : np.ndarray
        New maps of the same shapes and dtypes. Afterwards every content group is present in
        the style or has no related group there, and every style group is present in the
        content or has no related group there; a pixel only ever changes to one of its group's
        related groups.
    """
    content = np.array(content_groups, copy=True)
    style = np.array(style_groups, copy=True)
    # A stand-in can appear in the other image only by that image's own remapping, so repeat
    # until nothing changes; a pixel changes at most once (a group present in both images is
    # never remapped), and every pass removes a group, so this ends.
    changed = True
    while changed:
        changed = _remap_pass(content, style) | _remap_pass(style, content)
    return content, style


def _remap_pass(groups: np.ndarray, other: np.ndarray) -> bool:
    """Give each group of ``groups`` absent from ``other`` its first related group present in
    ``other`` (in place); whether anything changed."""
    present = set(np.unique(other).tolist())
    changed = False
    for g in sorted(set(np.unique(groups).tolist()) - present):
        stand_in = next((group_index(r) for r in GROUPS[g].related
                         if group_index(r) in present), None)
        if stand_in is not None:
            groups[groups == g] = stand_in
            changed = True
    return changed


def _work_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    scale = min(1.0, _WORK_SIDE / max(shape[0], shape[1]))
    return max(3, round(shape[0] * scale)), max(3, round(shape[1] * scale))


def _fixed_point(labels: np.ndarray, colors: tuple[RGB, ...], shape: tuple[int, int]) -> ParsedMask:
    """Paint ``labels`` in ``colors``, parse that as a colour mask (so saving and loading it
    gives the same labels) and bring it to ``shape``."""
    table = np.asarray(colors, dtype=np.uint8)
    parsed = parse_color_mask(table[labels])
    if parsed.shape == tuple(shape):
        return parsed
    return ParsedMask.from_labels(resize_labels(parsed.labels, shape), parsed.colors)


def _align_quietly(content: ParsedMask, style: ParsedMask) -> AlignedMasks:
    """:func:`align_masks` without its warnings (the callers warn with better names)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaskWarning)
        return align_masks(content, style)


def semantic_aligned_masks(content_classes: np.ndarray, style_classes: np.ndarray, *,
                           min_region: float = MIN_REGION) -> AlignedMasks:
    """Aligned masks from the ADE20K class maps of a content and a style image.

    Parameters
    ----------
    content_classes, style_classes : np.ndarray
        ``(H,W)`` and ``(H',W')`` ADE20K class indices in ``[0, 150)``; not modified.
    min_region : float
        Regions below this fraction of their image merge into the group around them.

    Returns
    -------
    AlignedMasks
        Group label maps at the given sizes in the groups' colours (see the module docstring).

    Warns
    -----
    MaskWarning
        Content groups with no counterpart in the style (matched to the whole style image) and
        style groups with none in the content (ignored), by name.
    """
    table = class_to_group()
    colors = tuple(g.color for g in GROUPS)
    parsed = []
    groups = []
    for classes in (content_classes, style_classes):
        classes = np.asarray(classes)
        if classes.ndim != 2 or not np.issubdtype(classes.dtype, np.integer):
            raise ValueError(f"class maps must be (H,W) integer arrays, got {classes.dtype} "
                             f"{classes.shape}")
        if classes.size and (classes.min() < 0 or classes.max() >= len(table)):
            raise ValueError(f"class indices must lie in [0, {len(table)})")
        small = resize_labels(table[classes], _work_shape(classes.shape))
        groups.append(merge_small_regions(small, round(min_region * small.size)))
    content_groups, style_groups = remap_groups(groups[0], groups[1])
    for g, classes in ((content_groups, content_classes), (style_groups, style_classes)):
        parsed.append(_fixed_point(g, colors, np.asarray(classes).shape))
    aligned = _align_quietly(parsed[0], parsed[1])
    name_of = {g.color: g.name for g in GROUPS}
    if aligned.content_only:
        listed = ", ".join(f"{name_of[aligned.colors[i]]} ({aligned.names[i]})"
                           for i in aligned.content_only)
        warnings.warn(f"automatic masks: content region(s) {listed} have no counterpart in the "
                      "style; the whole style image is used for them", MaskWarning, stacklevel=2)
    if aligned.style_only:
        listed = ", ".join(f"{name_of[aligned.colors[i]]} ({aligned.names[i]})"
                           for i in aligned.style_only)
        warnings.warn(f"automatic masks: style region(s) {listed} have no counterpart in the "
                      "content and are ignored", MaskWarning, stacklevel=2)
    return aligned


def _cluster_colors(count: int) -> tuple[RGB, ...]:
    """``count`` distinct label colours: the DPST palette, then other colours at least 64 levels
    from each other and from the palette (far beyond the parser's tolerance)."""
    colors = list(PALETTE.values())
    levels = (64, 128, 192)
    colors += [(r, g, b) for r in levels for g in levels for b in levels
               if (r, g, b) not in colors]
    if count > len(colors):
        raise ValueError(f"at most {len(colors)} cluster labels can be painted, got {count}")
    return tuple(colors[:count])


def cluster_aligned_masks(content_labels: np.ndarray,
                          style_labels: np.ndarray) -> AlignedMasks:
    """Aligned masks from two label maps with shared labels (e.g. from :func:`cosegment`).

    Labels are painted in palette colours in the order of their mean height in the two images
    (the topmost, often the sky, blue; then green, black, white, …).

    Parameters
    ----------
    content_labels, style_labels : np.ndarray
        ``(H,W)`` and ``(H',W')`` non-negative integer labels; label ``k`` is the same kind of
        region in both. Not modified.

    Returns
    -------
    AlignedMasks
        The two maps on one label set, fixed points of the colour-mask parser.
    """
    maps = [np.asarray(content_labels), np.asarray(style_labels)]
    count = int(max(m.max() for m in maps)) + 1
    height = np.zeros(count)
    for m in maps:
        rows = np.broadcast_to(((np.arange(m.shape[0]) + 0.5) / m.shape[0])[:, None], m.shape)
        area = np.bincount(m.ravel(), minlength=count)
        height += np.bincount(m.ravel(), weights=rows.ravel(), minlength=count) / np.maximum(
            area, 1)
    order = np.argsort(height, kind="stable")
    palette = _cluster_colors(count)
    colors = tuple(palette[int(np.flatnonzero(order == k)[0])] for k in range(count))
    parsed = []
    for m in maps:
        small = resize_labels(m, _work_shape(m.shape))
        parsed.append(_fixed_point(small, colors, m.shape))
    aligned = _align_quietly(parsed[0], parsed[1])
    one_sided = [aligned.names[i] for i in aligned.content_only + aligned.style_only]
    if one_sided:
        warnings.warn(f"automatic masks: cluster(s) {', '.join(one_sided)} are in one image "
                      "only", MaskWarning, stacklevel=2)
    return aligned


def automatic_masks(
    content: Tensor,
    style: Tensor,
    method: str = "auto",
    *,
    model: SemanticModel | str | os.PathLike | None = None,
    k: int | None = None,
    features: FeatureExtractor | None = None,
    min_region: float = MIN_REGION,
    params: ClusterParams | None = None,
    seed: int = 0,
) -> AlignedMasks:
    """Aligned masks of a content and a style image, without drawing them.

    Parameters
    ----------
    content, style : Tensor
        ``(1,3,H,W)`` RGB in [0, 1]; not modified.
    method : {"auto", "cluster"}
        ``"auto"``: semantic segmentation with an ADE20K checkpoint, falling back to
        ``"cluster"`` (with a warning) when its weights cannot be had; ``"cluster"``:
        co-segmentation, no weights needed.
    model : SemanticModel, str or os.PathLike, optional
        ``"auto"`` only: a loaded model, or a Hub id / folder for
        :func:`~segment.semantic.load_semantic_model` (default
        :data:`~segment.semantic.DEFAULT_CHECKPOINT`).
    k : int, optional
        ``"cluster"`` only: number of clusters (default: chosen automatically).
    features : callable, optional
        ``"cluster"`` only: deep feature extractor with *trained* weights (see
        :func:`~segment.cluster.cosegment`).
    min_region : float
        ``"auto"``: regions below this fraction of their image merge into their surroundings.
    params : ClusterParams, optional
        ``"cluster"`` tuning.
    seed : int
        ``"cluster"`` seed.

    Returns
    -------
    AlignedMasks
        Label maps at the images' sizes, in the DPST colour code.

    Raises
    ------
    SegmentationWeightsError
        ``"auto"`` with a checkpoint folder that is missing or broken, or a Hub id that does
        not exist (a user error; not replaced by clustering).

    Warns
    -----
    MaskWarning
        One line when the semantic weights are unavailable and clustering is used instead:
        ``"semantic segmentation weights ID unavailable (REASON); using --seg cluster
        instead"``; regions without a counterpart in the other image.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "auto":
        from .semantic import SemanticModel, load_semantic_model, segment_semantic

        semantic = model
        if not isinstance(semantic, SemanticModel):
            spec = DEFAULT_CHECKPOINT if model is None else model
            try:
                semantic = load_semantic_model(spec)
            except SegmentationWeightsUnavailable as exc:
                warnings.warn(f"semantic segmentation weights {os.fspath(spec)} unavailable "
                              f"({exc.reason}); using --seg cluster instead", MaskWarning,
                              stacklevel=2)
                semantic = None
        if semantic is not None:
            return semantic_aligned_masks(segment_semantic(content, semantic),
                                          segment_semantic(style, semantic),
                                          min_region=min_region)
    c_labels, s_labels = cosegment(content, style, k=k, features=features, params=params,
                                   seed=seed)
    return cluster_aligned_masks(c_labels, s_labels)
