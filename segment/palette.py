"""The DPST colour code and a parser for hand-drawn, anti-aliased colour masks.

Deep Photo Style Transfer (Luan et al., 2017) describes the semantic segmentation of the content
and style images as colour masks: every region is painted in one of nine colours (the
:data:`PALETTE`), and any other distinct colour also works as a label. Masks drawn in a paint
program are anti-aliased: the pixels along region borders are blends of the two colours (only
about 91% of the pixels of the DPST example masks have an exact palette colour), and a blend can
be close to a third colour: black/white blends are grey, blue/green blends are dark cyan.

:func:`parse_color_mask` therefore does not assign every pixel to its nearest colour. It

1. gives each pixel within ``tolerance`` of a palette colour (Chebyshev distance, the largest
   per-channel difference) to that colour, and groups the remaining pixels by exact colour
   (each distinct colour that is frequent enough absorbs the pixels within ``tolerance`` of it);
2. keeps a colour as a label only if its *core* - the pixels whose whole 3x3 neighbourhood has
   that colour, i.e. the binary erosion of its pixels - is large enough: at least
   ``min_fraction`` of the mask for palette colours; other colours, which are more likely to be
   blends, need a 5x5 core of at least ``other_min_fraction`` (larger). Blend pixels form bands
   one or two pixels wide along borders, so their core is empty however many of them there are;
3. seeds each label with the morphological opening (3x3 square) of its pixels, which removes
   blend lines and anything else thinner than 3 pixels, and gives every other pixel the label of
   the spatially nearest seed (Euclidean distance transform), then repeats step 3 on the result
   until the seeds stop changing (they can only grow, so this ends; the DPST masks take two to
   four rounds). The result is a fixed point, which makes :func:`parse_color_mask` idempotent on its
   own output: parse, save in the colour code, parse again gives the same labels.

Consequences: regions narrower than 3 pixels are treated as anti-aliasing and merged into their
neighbours; a mask must be at least 3x3 pixels. Masks blurred far beyond anti-aliasing (Gaussian
sigma of 5 pixels or more) have blend bands wide enough to have a core, and a black/white border
then yields a spurious grey label; masks drawn with ordinary anti-aliasing are well within range
(the tests cover sigma up to 1.5; sigma 4 still parses correctly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import ndimage

from .errors import MaskError

__all__ = [
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_OTHER_MIN_FRACTION",
    "DEFAULT_TOLERANCE",
    "PALETTE",
    "ParsedMask",
    "color_name",
    "color_sort_key",
    "parse_color_mask",
]

RGB = tuple[int, int, int]

#: The DPST colour code, name -> RGB, in the order of DPST's ``color_codes``.
PALETTE: Mapping[str, RGB] = MappingProxyType({
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "grey": (128, 128, 128),
    "lightblue": (0, 255, 255),
    "purple": (255, 0, 255),
})

_PALETTE_INDEX: Mapping[RGB, int] = MappingProxyType(
    {rgb: i for i, rgb in enumerate(PALETTE.values())})

#: Largest per-channel difference for a pixel to count as a colour. Palette colours are at
#: least 127 apart, so anything below 64 is unambiguous; 24 is about DPST's own ``ExtractMask``
#: threshold (0.1 of full scale), absorbs compression noise and slightly-off paint (e.g.
#: 250,3,3) and stays far from 50/50 blends.
DEFAULT_TOLERANCE = 24

#: Smallest core (3x3 erosion) of a palette colour, as a fraction of the mask's pixels. In the
#: DPST example masks the smallest real region has a core of 0.13% (in25's green), while the grey
#: of black/white blends has a core of at most one pixel.
DEFAULT_MIN_FRACTION = 2e-4

#: Smallest 5x5 core of a non-palette colour (and smallest exact-colour pixel count for it to be
#: considered), as a fraction of the mask's pixels. Larger than for palette colours because any
#: blend is a distinct colour: in the DPST masks the most frequent one covers 0.17% (in1's
#: #404040), with no 5x5 core.
DEFAULT_OTHER_MIN_FRACTION = 5e-3

#: Rounds of seed refinement before giving up on an exact fixed point (never reached in practice).
_MAX_ROUNDS = 50


def color_name(rgb: tuple[int, int, int]) -> str:
    """Name of a label colour: its DPST palette name, or ``"#rrggbb"`` for other colours."""
    rgb = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    for name, value in PALETTE.items():
        if value == rgb:
            return name
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def color_sort_key(rgb: RGB) -> tuple[int, int, int, int]:
    """Sort key: palette colours in palette order, then other colours by RGB value."""
    rgb = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    if rgb in _PALETTE_INDEX:
        return (0, _PALETTE_INDEX[rgb], 0, 0)
    return (1, *rgb)


@dataclass(frozen=True, eq=False)
class ParsedMask:
    """A colour mask turned into a label map.

    Attributes
    ----------
    labels : np.ndarray
        ``(H,W)`` int32, read-only; every pixel holds an index into ``colors`` (``0..K-1``).
    colors : tuple of (int, int, int)
        RGB key of each of the ``K`` labels: palette colours in :data:`PALETTE` order, then other
        colours sorted by RGB value.
    counts : tuple of int
        Number of pixels of each label; all positive and summing to ``H*W``.
    """

    labels: np.ndarray
    colors: tuple[RGB, ...]
    counts: tuple[int, ...]

    @classmethod
    def from_labels(cls, labels: np.ndarray, colors: tuple[RGB, ...]) -> ParsedMask:
        """Build a :class:`ParsedMask` from a label map, dropping labels that have no pixel.

        Parameters
        ----------
        labels : np.ndarray
            ``(H,W)`` integer indices into ``colors``; not modified (a copy is kept).
        colors : tuple of (int, int, int)
            RGB of each label, distinct.

        Returns
        -------
        ParsedMask
            Labels renumbered so that the empty ones are gone, in the canonical colour order.
        """
        labels = np.asarray(labels)
        colors = tuple((int(r), int(g), int(b)) for r, g, b in colors)
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be an (H,W) integer array, got {labels.dtype} "
                             f"{labels.shape}")
        if len(set(colors)) != len(colors):
            raise ValueError("colors must be distinct")
        if labels.size and (labels.min() < 0 or labels.max() >= len(colors)):
            raise ValueError(f"labels must lie in [0, {len(colors)})")
        counts = np.bincount(labels.ravel(), minlength=len(colors))
        order = sorted((i for i in range(len(colors)) if counts[i] > 0),
                       key=lambda i: color_sort_key(colors[i]))
        lut = np.full(len(colors), -1, dtype=np.int32)
        lut[order] = np.arange(len(order), dtype=np.int32)
        new = lut[labels]
        new.flags.writeable = False
        return cls(labels=new, colors=tuple(colors[i] for i in order),
                   counts=tuple(int(counts[i]) for i in order))

    @property
    def num_labels(self) -> int:
        """Number of labels ``K``."""
        return len(self.colors)

    @property
    def names(self) -> tuple[str, ...]:
        """Name of each label (see :func:`color_name`)."""
        return tuple(color_name(c) for c in self.colors)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the label map."""
        return (int(self.labels.shape[0]), int(self.labels.shape[1]))


def _as_rgb(mask: np.ndarray) -> np.ndarray:
    """Validate a mask array and return it as an ``(H,W,3)`` int16 copy."""
    mask = np.asarray(mask)
    if mask.dtype != np.uint8:
        raise TypeError(f"mask must be uint8, got {mask.dtype}")
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim == 2:
        mask = np.repeat(mask[..., None], 3, axis=2)
    if mask.ndim != 3 or mask.shape[2] != 3:
        raise ValueError(f"mask must be (H,W,3) RGB or (H,W) greyscale, got shape {mask.shape}")
    if mask.shape[0] < 3 or mask.shape[1] < 3:
        raise MaskError(f"mask is {mask.shape[1]}x{mask.shape[0]} px; a mask needs at least "
                        "3x3 px, draw it at the size of its image")
    return mask.astype(np.int16)


def _core(member: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood lies inside the image and has one label (>= 0).

    ``member`` is an ``(H,W)`` int map with ``-1`` for unassigned pixels; the result is boolean.
    """
    lo = ndimage.minimum_filter(member, size=3, mode="constant", cval=-1)
    hi = ndimage.maximum_filter(member, size=3, mode="constant", cval=-1)
    return (lo == hi) & (lo >= 0)


def _open(member: np.ndarray) -> np.ndarray:
    """Morphological opening (3x3 square) of every label of ``member`` at once; -1 elsewhere.

    A pixel is kept if some 3x3 square inside the image that contains it has its label
    throughout. This is an algebraic opening per label (increasing, idempotent, anti-extensive).
    """
    core = _core(member)
    kept = ndimage.maximum_filter(core, size=3, mode="constant", cval=False)
    return np.where(kept, member, -1).astype(np.int32)


def _fill(seeds: np.ndarray) -> np.ndarray:
    """Give every unseeded (-1) pixel the label of the nearest seeded pixel (Euclidean)."""
    holes = seeds < 0
    if not holes.any():
        return seeds.copy()
    index = ndimage.distance_transform_edt(holes, return_distances=False, return_indices=True)
    return seeds[index[0], index[1]]


def _chebyshev(rgb: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Largest per-channel difference between each pixel of ``rgb`` and ``color``."""
    return np.abs(rgb - color).max(axis=-1)


def parse_color_mask(
    mask: np.ndarray,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    other_min_fraction: float = DEFAULT_OTHER_MIN_FRACTION,
) -> ParsedMask:
    """Turn an anti-aliased colour mask into a label map (see the module docstring).

    Parameters
    ----------
    mask : np.ndarray
        ``(H,W,3)`` uint8 RGB, or ``(H,W)`` uint8 greyscale (treated as ``R=G=B``); H, W >= 3.
        Not modified.
    tolerance : int, optional
        Largest per-channel difference (0..63) for a pixel to count as a colour.
    min_fraction : float, optional
        Smallest core (pixels whose 3x3 neighbourhood is all that colour) of a palette colour,
        as a fraction in (0, 1] of the mask's pixels; at least one pixel.
    other_min_fraction : float, optional
        Smallest 5x5 core of a colour outside the palette, which also needs that many pixels of
        exactly its colour, as a fraction in (0, 1]. Should be larger than ``min_fraction``.

    Returns
    -------
    ParsedMask
        Labels ``(H,W)`` int32, their RGB keys (a palette colour, or for other colours their
        most frequent exact value) and pixel counts.

    Raises
    ------
    MaskError
        No colour covers enough of the mask to be a label (e.g. noise, or a photograph).
    TypeError, ValueError
        ``mask`` is not a uint8 array of a supported shape, or a parameter is out of range.
    """
    if not 0 <= tolerance < 64:
        raise ValueError(f"tolerance must be in [0, 64), got {tolerance}")
    for name, value in (("min_fraction", min_fraction), ("other_min_fraction",
                                                         other_min_fraction)):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value}")
    rgb = _as_rgb(mask)
    height, width = rgb.shape[:2]
    total = height * width
    need = max(1, math.ceil(min_fraction * total))
    need_other = max(1, math.ceil(other_min_fraction * total))

    # 1. Palette membership: nearest palette colour, if within tolerance.
    best = np.full((height, width), np.iinfo(np.int16).max, dtype=np.int16)
    nearest = np.zeros((height, width), dtype=np.int32)
    for i, rgb_key in enumerate(PALETTE.values()):
        dist = _chebyshev(rgb, np.array(rgb_key, dtype=np.int16))
        closer = dist < best
        best[closer] = dist[closer]
        nearest[closer] = i
    in_palette = best <= tolerance
    palette_member = np.where(in_palette, nearest, -1).astype(np.int32)
    palette_core = np.bincount(palette_member[_core(palette_member)],
                               minlength=len(PALETTE))

    colors: list[RGB] = []
    member = np.full((height, width), -1, dtype=np.int32)
    for i, rgb_key in enumerate(PALETTE.values()):
        if palette_core[i] >= need:
            member[palette_member == i] = len(colors)
            colors.append(rgb_key)

    # 2. Other colours: frequent exact colours among the non-palette pixels, most frequent first.
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) \
        | rgb[..., 2].astype(np.int32)
    unclaimed = ~in_palette
    values, counts = np.unique(packed[unclaimed], return_counts=True)
    frequent = np.flatnonzero(counts >= need_other)
    frequent = frequent[np.lexsort((values[frequent], -counts[frequent]))]
    others: list[np.ndarray] = []
    for value in values[frequent]:
        key = np.array([(value >> 16) & 255, (value >> 8) & 255, value & 255], dtype=np.int16)
        if any(int(np.abs(key - o).max()) <= tolerance for o in others):
            continue  # absorbed by a more frequent colour
        near = unclaimed & (_chebyshev(rgb, key) <= tolerance)
        if int(near.sum()) < need_other:
            continue
        core = ndimage.minimum_filter(near, size=5, mode="constant", cval=False)
        if int(core.sum()) < need_other:
            continue
        member[near] = len(colors)
        colors.append((int(key[0]), int(key[1]), int(key[2])))
        others.append(key)
        unclaimed &= ~near

    if not colors:
        raise MaskError(
            "no colour covers a solid region of the mask (a palette colour needs a core of "
            f">= {need} px, another colour >= {need_other} px); paint the regions in flat "
            "DPST colours (blue, green, black, white, red, yellow, grey, lightblue, purple)")

    # 3. Seed with the opening of each label, fill by nearest seed, repeat to a fixed point.
    seeds = _open(member)
    labels = _fill(seeds)
    for _ in range(_MAX_ROUNDS):
        grown = _open(labels)
        if np.array_equal(grown, seeds):
            break
        seeds = grown
        labels = _fill(seeds)
    return ParsedMask.from_labels(labels, tuple(colors))
