"""Operations on label maps shared by the automatic segmentations: merging small regions into
their surroundings and renumbering labels."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["merge_small_regions", "relabel_consecutive"]

#: 4-connectivity, for connected regions and for the ring of pixels around a region.
_CROSS = ndimage.generate_binary_structure(2, 1)

#: Rounds of merging before giving up (each round merges every region still too small).
_MAX_ROUNDS = 20


def _components(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected regions (4-connected, one label each) of a label map.

    Returns the ``(H,W)`` region index (0-based) of every pixel and the size of each region.
    """
    regions = np.zeros(labels.shape, dtype=np.int64)
    offset = 0
    for value in np.unique(labels):
        found, count = ndimage.label(labels == value, structure=_CROSS)
        inside = found > 0
        regions[inside] = found[inside] + offset - 1
        offset += count
    return regions, np.bincount(regions.ravel(), minlength=offset)


def merge_small_regions(labels: np.ndarray, min_size: int,
                        protect: np.ndarray | None = None) -> np.ndarray:
    """Give every connected region smaller than ``min_size`` pixels to the label around it.

    Regions are visited from the smallest; each takes the label that covers most of the ring of
    pixels just outside it (4-neighbours), i.e. the neighbour it shares the longest border with.
    This repeats until every region has at least ``min_size`` pixels or only one label is left.

    Parameters
    ----------
    labels : np.ndarray
        ``(H,W)`` integer label map; not modified.
    min_size : int
        Smallest region kept, in pixels (``<= 1`` keeps everything).
    protect : np.ndarray, optional
        Boolean, one entry per label value (indexed by label): regions of protected labels are
        never merged away, however small (they can still absorb others).

    Returns
    -------
    np.ndarray
        ``(H,W)`` label map of the same dtype in which every region of an unprotected label
        has at least ``min_size`` pixels (unless the image is one region).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H,W) integer array, got {labels.dtype} "
                         f"{labels.shape}")
    out = labels.copy()
    if min_size <= 1 or out.size == 0:
        return out
    height, width = out.shape
    for _ in range(_MAX_ROUNDS):
        regions, sizes = _components(out)
        if len(sizes) <= 1:
            break
        first = np.zeros(len(sizes), dtype=out.dtype)
        first[regions.ravel()] = out.ravel()  # the label of each region
        small = [r for r in np.argsort(sizes, kind="stable") if sizes[r] < min_size
                 and not (protect is not None and first[r] < len(protect) and protect[first[r]])]
        if not small:
            break
        boxes = ndimage.find_objects(regions + 1)
        merged = False
        for r in small:
            rows, cols = boxes[r]
            r0, r1 = max(rows.start - 1, 0), min(rows.stop + 1, height)
            c0, c1 = max(cols.start - 1, 0), min(cols.stop + 1, width)
            inside = regions[r0:r1, c0:c1] == r
            ring = ndimage.binary_dilation(inside, structure=_CROSS) & ~inside
            around = out[r0:r1, c0:c1][ring]
            own = out[r0:r1, c0:c1][inside][0]
            around = around[around != own]
            if around.size == 0:
                continue  # already surrounded by its own label after an earlier merge
            values, counts = np.unique(around, return_counts=True)
            window = out[r0:r1, c0:c1]
            window[inside] = values[np.argmax(counts)]
            merged = True
        if not merged:
            break
    return out


def relabel_consecutive(*maps: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Renumber the labels used by one or more label maps as ``0..K-1`` (one shared numbering).

    Parameters
    ----------
    *maps : np.ndarray
        Integer label maps with non-negative values; not modified.

    Returns
    -------
    maps : list of np.ndarray
        The renumbered int32 maps, in order.
    used : np.ndarray
        The old label of each new label (sorted ascending).
    """
    used = np.unique(np.concatenate([np.asarray(m).ravel() for m in maps]))
    lut = np.zeros(int(used.max()) + 1 if used.size else 1, dtype=np.int32)
    lut[used] = np.arange(len(used), dtype=np.int32)
    return [lut[np.asarray(m)] for m in maps], used
