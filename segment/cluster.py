"""Co-segmentation without segmentation weights: ``K`` clusters shared by two images.

:func:`cosegment` splits a content and a style photo into the same ``K`` kinds of region, so
that cluster ``k`` is, say, the sky in both. It needs no trained segmentation network:

1. Both images are reduced to a working size and cut into SLIC superpixels (Achanta et al.,
   *SLIC superpixels compared to state-of-the-art superpixel methods*, TPAMI 2012), so region
   borders follow the image's edges.
2. Every superpixel gets a descriptor: its CIE Lab colour *relative to its own image*
   (each image's colours are standardized, so a blue day sky and a red dusk sky both read as
   "the brightest, smoothest part of the picture"), its texture (fine and coarse gradient
   magnitude and the spread of lightness, log-scaled and standardized per image), its position
   (centroid, with the vertical position weighted most) and, only when a feature extractor is
   given (e.g. VGG-19 with ImageNet weights), its mean deep feature reduced by PCA. Untrained
   features are noise and must not be passed.
3. The superpixels of both images are clustered together by k-means weighted by area (each
   image weighing half), restarted from several k-means++ seeds. ``K`` is the one in
   ``k_range`` with the best area-weighted silhouette (plus a small bonus per cluster), among
   the clusterings whose clusters all appear in both images; ``k`` fixes it instead.
4. Clusters that cover less than ``min_share`` of either image are merged into the nearest
   cluster; connected regions smaller than ``min_region`` of their image are merged into the
   region around them; the label maps are brought back to the images' sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab
from skimage.segmentation import slic

if TYPE_CHECKING:
    from torch import Tensor

from .align import resize_labels
from .regions import merge_small_regions, relabel_consecutive

__all__ = ["DEFAULT_K_RANGE", "MAX_K", "ClusterParams", "FeatureExtractor", "cosegment"]

#: Numbers of clusters tried when ``k`` is not given.
DEFAULT_K_RANGE = (2, 6)

#: Largest number of clusters.
MAX_K = 16

#: ``features(image)``: ``(1,3,H,W)`` RGB in [0, 1] -> ``(1,C,h,w)`` feature map (any ``h,w``).
FeatureExtractor = Callable[["Tensor"], "Tensor"]


@dataclass(frozen=True)
class ClusterParams:
    """Tuning of :func:`cosegment` (the defaults are those measured on the DPST pairs).

    Attributes
    ----------
    size : int
        Long side, in pixels, at which superpixels and features are computed.
    superpixels : int
        Approximate number of SLIC superpixels per image.
    compactness : float
        SLIC compactness (higher: rounder superpixels, weaker edge adherence).
    color_weight, texture_weight, position_weight, feature_weight : float
        Weight of each descriptor group (each group is standardized over both images first).
    lightness_share : float
        Share of the colour weight given to lightness (the rest: the two chroma axes).
    edge_scale : float
        Gaussian sigma, in working pixels, of the coarse texture measures.
    vertical : float
        Share of the position weight given to the vertical coordinate (the rest: horizontal).
    min_share : float
        Smallest share of *each* image a cluster must cover to be kept as its own label.
    min_region : float
        Smallest connected region, as a fraction of its image, before merging into its
        surroundings.
    restarts : int
        k-means restarts per ``K``.
    pca_dims : int
        Dimensions kept of the deep features.
    k_bias : float
        Added to the silhouette per cluster when choosing ``K`` (silhouettes favour ``K = 2``;
        scenes with many kinds of region need more).
    """

    size: int = 320
    superpixels: int = 400
    compactness: float = 10.0
    color_weight: float = 1.0
    texture_weight: float = 0.8
    position_weight: float = 1.0
    feature_weight: float = 1.0
    vertical: float = 0.8
    min_share: float = 0.03
    min_region: float = 0.01
    restarts: int = 8
    pca_dims: int = 8
    lightness_share: float = 0.6
    edge_scale: float = 3.0
    k_bias: float = 0.03


def _area_axis(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Adaptive average pooling of one axis to ``size`` (torch's ``"area"`` interpolation):
    output ``i`` averages inputs ``floor(i·n/size)`` to ``ceil((i+1)·n/size) − 1``."""
    n = values.shape[axis]
    if n == size:
        return values
    i = np.arange(size)
    start = (i * n) // size
    end = -((-(i + 1) * n) // size)
    cum = np.cumsum(values, axis=axis, dtype=np.float64)
    cum = np.concatenate([np.zeros_like(np.take(cum, [0], axis=axis)), cum], axis=axis)
    total = np.take(cum, end, axis=axis) - np.take(cum, start, axis=axis)
    shape = [1] * values.ndim
    shape[axis] = size
    return total / (end - start).reshape(shape)


def _working_rgb(image: Any, name: str, long_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """An image reduced (area average) to the working size, as an ``(h,w,3)`` float64 array in
    [0, 1], and its original ``(H, W)``. Accepts ``(1,3,H,W)``/``(3,H,W)`` tensors and
    ``(H,W,3)`` arrays; the input is not modified (only the reduced copy is made on the CPU)."""
    if hasattr(image, "detach"):  # a torch tensor
        data = image.detach()
        if data.dim() == 3:
            data = data.unsqueeze(0)
        if data.dim() != 4 or data.shape[:2] != (1, 3):
            raise ValueError(f"{name} must be (1,3,H,W) or (3,H,W), got {tuple(image.shape)}")
        array = data[0].float().permute(1, 2, 0).cpu().numpy()
    else:
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{name} must be an (H,W,3) array, got shape {array.shape}")
        array = array.astype(np.float32)
    height, width = array.shape[:2]
    if height < 4 or width < 4:
        raise ValueError(f"{name} is too small to segment ({width}x{height})")
    h, w = _work_size(height, width, long_side)
    rgb = _area_axis(_area_axis(array, h, 0), w, 1)
    return np.clip(rgb, 0.0, 1.0).astype(np.float64), (height, width)


def _work_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(height, width))
    return max(4, round(height * scale)), max(4, round(width * scale))


def _segment_means(segments: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Mean of ``values`` (``(H,W)`` or ``(H,W,C)``) over each of ``count`` superpixels."""
    flat = segments.ravel()
    area = np.bincount(flat, minlength=count).astype(np.float64)
    if values.ndim == 2:
        values = values[..., None]
    sums = np.stack([np.bincount(flat, weights=values[..., c].ravel(), minlength=count)
                     for c in range(values.shape[2])], axis=1)
    return sums / np.maximum(area, 1.0)[:, None]


@dataclass(frozen=True)
class _Image:
    """One image at the working size, cut into superpixels, with per-superpixel descriptors."""

    segments: np.ndarray  # (h,w) superpixel index
    area: np.ndarray  # (S,) pixels per superpixel
    color: np.ndarray  # (S,3) standardized Lab
    texture: np.ndarray  # (S,2) standardized log gradient magnitude, lightness spread
    position: np.ndarray  # (S,2) centroid (y, x) in [0, 1]
    deep: np.ndarray | None  # (S,C) mean deep features


def _standardize(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    mean = np.average(values, axis=0, weights=weights)
    std = np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weights))
    return (values - mean) / np.maximum(std, 1e-6)


def _describe(rgb: np.ndarray, params: ClusterParams,
              features: FeatureExtractor | None, like: Tensor | None) -> _Image:
    height, width = rgb.shape[:2]
    segments = slic(rgb, n_segments=params.superpixels, compactness=params.compactness,
                    start_label=0, channel_axis=-1, enforce_connectivity=True)
    segments = np.unique(segments, return_inverse=True)[1].reshape(height, width)
    count = int(segments.max()) + 1
    area = np.bincount(segments.ravel(), minlength=count).astype(np.float64)
    lab = rgb2lab(rgb)
    color = _standardize(_segment_means(segments, lab, count), area)
    lightness = ndimage.gaussian_filter(lab[..., 0], 1.0)
    gradient = np.hypot(ndimage.sobel(lightness, 0), ndimage.sobel(lightness, 1))
    mean_l = _segment_means(segments, lab[..., 0], count)[:, 0]
    spread = np.sqrt(np.maximum(
        _segment_means(segments, lab[..., 0] ** 2, count)[:, 0] - mean_l ** 2, 0.0))
    coarse = ndimage.gaussian_filter(lab[..., 0], params.edge_scale)
    coarse = np.hypot(ndimage.sobel(coarse, 0), ndimage.sobel(coarse, 1))
    energy = ndimage.gaussian_filter(gradient, params.edge_scale * 2)
    texture = np.stack([np.log1p(_segment_means(segments, gradient, count)[:, 0]),
                        np.log1p(spread),
                        np.log1p(_segment_means(segments, energy, count)[:, 0]),
                        np.log1p(_segment_means(segments, coarse, count)[:, 0])], axis=1)
    texture = _standardize(texture, area)
    yy, xx = np.mgrid[0:height, 0:width]
    position = np.stack([_segment_means(segments, (yy + 0.5) / height, count)[:, 0],
                         _segment_means(segments, (xx + 0.5) / width, count)[:, 0]], axis=1)
    deep = None
    if features is not None:
        import torch
        import torch.nn.functional as F

        tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
        if like is not None:
            tensor = tensor.to(device=like.device, dtype=like.dtype)
        else:
            tensor = tensor.float()
        with torch.no_grad():
            fmap = features(tensor)
            fmap = F.interpolate(fmap.float(), size=(height, width), mode="bilinear",
                                 align_corners=False)
        fmap = fmap[0].permute(1, 2, 0).cpu().double().numpy()
        deep = _segment_means(segments, fmap, count)
    return _Image(segments=segments, area=area, color=color, texture=texture,
                  position=position, deep=deep)


def _design(images: tuple[_Image, _Image], params: ClusterParams) -> tuple[np.ndarray, np.ndarray]:
    """Joint descriptor matrix ``(S1+S2, D)`` and area weights (each image summing to 1/2)."""
    weights = np.concatenate([im.area / im.area.sum() / 2 for im in images])
    blocks = []

    def group(values: np.ndarray, weight: float) -> None:
        if weight <= 0:
            return
        std = _standardize(values, weights)
        blocks.append(std * weight / np.sqrt(values.shape[1]))

    col = np.concatenate([im.color for im in images])
    group(col[:, :1], params.color_weight * np.sqrt(params.lightness_share))
    group(col[:, 1:], params.color_weight * np.sqrt(1 - params.lightness_share))
    group(np.concatenate([im.texture for im in images]), params.texture_weight)
    pos = np.concatenate([im.position for im in images])
    if params.position_weight > 0:
        # Positions are already comparable (both in [0, 1]); scale them, do not standardize.
        scale = params.position_weight / np.sqrt(1 / 12)
        blocks.append(pos * scale * np.sqrt([params.vertical, 1 - params.vertical]))
    if all(im.deep is not None for im in images):
        deep = np.concatenate([im.deep for im in images])
        deep = _standardize(deep, weights)
        centred = deep - np.average(deep, axis=0, weights=weights)
        _, _, vt = np.linalg.svd(centred * np.sqrt(weights)[:, None], full_matrices=False)
        group(centred @ vt[: params.pca_dims].T, params.feature_weight)
    return np.concatenate(blocks, axis=1), weights


def _kmeans(x: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator,
            restarts: int, iters: int = 50) -> tuple[np.ndarray, np.ndarray, float]:
    """Area-weighted k-means with k-means++ seeding; the best of ``restarts`` runs."""
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(restarts):
        centres = [x[rng.choice(len(x), p=w / w.sum())]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
            p = w * d2
            if p.sum() <= 0:
                break
            centres.append(x[rng.choice(len(x), p=p / p.sum())])
        c = np.asarray(centres)
        assign = np.zeros(len(x), dtype=np.int64)
        for step in range(iters):
            d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
            new = np.argmin(d2, axis=1)
            if step and np.array_equal(new, assign):
                break
            assign = new
            for j in range(len(c)):
                member = assign == j
                if member.any():
                    c[j] = np.average(x[member], axis=0, weights=w[member])
        inertia = float((w * ((x - c[assign]) ** 2).sum(-1)).sum())
        if best is None or inertia < best[2]:
            best = (assign.copy(), c.copy(), inertia)
    assert best is not None
    return best


def _silhouette(x: np.ndarray, w: np.ndarray, assign: np.ndarray) -> float:
    """Area-weighted mean silhouette (Rousseeuw 1987) of a clustering."""
    labels = np.unique(assign)
    if len(labels) < 2:
        return -1.0
    dist = np.sqrt(np.maximum(((x[:, None, :] - x[None]) ** 2).sum(-1), 0.0))
    mean_to = np.stack([(dist[:, assign == j] * w[assign == j]).sum(1) / w[assign == j].sum()
                        for j in labels], axis=1)
    own = np.searchsorted(labels, assign)
    a = mean_to[np.arange(len(x)), own]
    mean_to[np.arange(len(x)), own] = np.inf
    b = mean_to.min(axis=1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    return float(np.average(s, weights=w))


def _shares(assign: np.ndarray, w: np.ndarray, first: int, k: int) -> np.ndarray:
    """``(2,k)``: share of each image covered by each cluster."""
    return np.stack([np.bincount(assign[:first], weights=w[:first], minlength=k) * 2,
                     np.bincount(assign[first:], weights=w[first:], minlength=k) * 2])


def _merge_one_sided(x: np.ndarray, w: np.ndarray, assign: np.ndarray, first: int,
                     min_share: float) -> np.ndarray:
    """Merge, one at a time, the cluster with the smallest share of either image (while below
    ``min_share``) into the cluster with the nearest centre."""
    assign = assign.copy()
    while True:
        labels = np.unique(assign)
        if len(labels) <= 1:
            return assign
        shares = _shares(assign, w, first, int(labels.max()) + 1)[:, labels].min(axis=0)
        worst = int(np.argmin(shares))
        if shares[worst] >= min_share:
            return assign
        centres = np.stack([np.average(x[assign == j], axis=0, weights=w[assign == j])
                            for j in labels])
        d2 = ((centres - centres[worst]) ** 2).sum(-1)
        d2[worst] = np.inf
        assign[assign == labels[worst]] = labels[int(np.argmin(d2))]


def cosegment(
    content: Tensor | np.ndarray,
    style: Tensor | np.ndarray,
    *,
    k: int | None = None,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    features: FeatureExtractor | None = None,
    params: ClusterParams | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split a content and a style image into the same ``K`` kinds of region.

    Parameters
    ----------
    content, style : Tensor or np.ndarray
        ``(1,3,H,W)`` / ``(3,H,W)`` tensors or ``(H,W,3)`` arrays, RGB in [0, 1]; not modified.
    k : int, optional
        Number of clusters (>= 1); default: chosen in ``k_range`` (see the module docstring).
        Clusters that end up covering too little of either image are merged, so the result
        may have fewer labels.
    k_range : tuple of int
        Smallest and largest ``K`` tried when ``k`` is None.
    features : callable, optional
        Deep feature extractor ``(1,3,h,w) -> (1,C,h',w')`` run on each image at the working
        size; only with trained weights (random features only add noise).
    params : ClusterParams, optional
        Tuning; default :class:`ClusterParams()`.
    seed : int
        Seed of the k-means initialization (the result is deterministic for a given seed).

    Returns
    -------
    content_labels, style_labels : np.ndarray
        ``(H,W)`` and ``(H',W')`` int32 label maps at the images' own sizes, with values
        ``0..K-1``; every label is present in both maps.

    References
    ----------
    Luan et al., *Deep Photo Style Transfer*, CVPR 2017 (semantic masks are what this
    replaces); Achanta et al., TPAMI 2012 (SLIC); Rousseeuw, J. Comput. Appl. Math. 1987
    (silhouettes).
    """
    params = params or ClusterParams()
    if k is not None and not 1 <= k <= MAX_K:
        raise ValueError(f"k must be in 1..{MAX_K}, got {k}")
    lo, hi = k_range
    if not 1 <= lo <= hi <= MAX_K:
        raise ValueError(f"k_range must be (lo, hi) with 1 <= lo <= hi <= {MAX_K}, got {k_range}")
    like = content if hasattr(content, "detach") else None
    (c_rgb, c_shape), (s_rgb, s_shape) = (_working_rgb(content, "content", params.size),
                                          _working_rgb(style, "style", params.size))
    work = [c_rgb, s_rgb]
    images = (_describe(work[0], params, features, like), _describe(work[1], params, features,
                                                                    like))
    x, w = _design(images, params)
    first = len(images[0].area)
    rng = np.random.default_rng(seed)

    if k is not None:
        candidates = [k]
    else:
        candidates = list(range(lo, hi + 1))
    best: tuple[float, np.ndarray] | None = None
    for kk in candidates:
        kk = min(kk, len(x))
        assign, _, _ = _kmeans(x, w, kk, rng, params.restarts)
        assign = _merge_one_sided(x, w, assign, first, params.min_share)
        score = _silhouette(x, w, assign) + params.k_bias * kk if len(candidates) > 1 else 0.0
        if len(np.unique(assign)) < kk and len(candidates) > 1:
            score -= 1.0  # this K collapsed; prefer a K whose clusters are all shared
        if best is None or score > best[0] + 1e-9:
            best = (score, assign)
    assert best is not None
    assign = best[1]

    maps = []
    for i, im in enumerate(images):
        part = assign[:first] if i == 0 else assign[first:]
        small = merge_small_regions(part[im.segments],
                                    round(params.min_region * im.segments.size))
        maps.append(small)
    # Merging regions can empty a cluster in one image: drop it from the other too.
    maps = _share_labels(maps, x, w, assign)
    (c_map, s_map), _ = relabel_consecutive(*maps)
    return (resize_labels(c_map, c_shape).astype(np.int32),
            resize_labels(s_map, s_shape).astype(np.int32))


def _share_labels(maps: list[np.ndarray], x: np.ndarray, w: np.ndarray,
                  assign: np.ndarray) -> list[np.ndarray]:
    """Relabel clusters present in only one map to the nearest cluster present in both."""
    present = [set(np.unique(m).tolist()) for m in maps]
    shared = present[0] & present[1]
    if not shared:  # degenerate: everything is one region
        return [np.zeros_like(m) for m in maps]
    centres = {j: np.average(x[assign == j], axis=0, weights=w[assign == j])
               for j in np.unique(assign)}
    out = []
    for m, own in zip(maps, present, strict=True):
        m = m.copy()
        for j in sorted(own - shared):
            nearest = min(shared, key=lambda s, j=j: float(((centres[s] - centres[j]) ** 2).sum()))
            m[m == j] = nearest
        out.append(m)
    return out
