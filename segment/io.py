"""Reading colour masks, and the colour-code image of a label map (to be written as PNG).

Reading (:func:`load_color_mask`) accepts any image PIL opens. EXIF orientation is applied (as
for the photographs); greyscale (``1``, ``L``, ``LA``) masks are parsed as grey levels; palette
(``P``), ``RGBA``/``LA`` (alpha dropped, not composited), ``CMYK`` and ``YCbCr`` masks are
converted to RGB; 16/32-bit integer masks (``I;16``, ``I``) are scaled to 8 bits (divided by
257) when any value exceeds 255 and used as they are otherwise; 32-bit float masks are refused.

Size policy: a mask must have the size of its image. Two near misses are accepted, resized with
nearest neighbour *after* parsing (so anti-aliasing is not magnified) and reported with a
:class:`MaskWarning`:

* both sides within :data:`SIZE_SLACK` (2) pixels of the image's, e.g. DPST's ``in7`` mask,
  which is one row shorter than its photograph;
* the same aspect ratio within :data:`ASPECT_SLACK` (1%), e.g. a mask drawn on a half-size copy
  of the image.

Anything else is a :class:`MaskError`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .align import resize_labels
from .errors import MaskError, MaskWarning
from .palette import (
    DEFAULT_MIN_FRACTION,
    DEFAULT_OTHER_MIN_FRACTION,
    DEFAULT_TOLERANCE,
    ParsedMask,
    parse_color_mask,
)

__all__ = ["ASPECT_SLACK", "SIZE_SLACK", "color_mask_image", "load_color_mask", "read_mask_pixels",
           "resize_mask", "same_picture"]

#: Largest difference, in pixels per side, between a mask and its image that is resized away.
SIZE_SLACK = 2

#: Largest relative difference of aspect ratios (width / height) that is resized away.
ASPECT_SLACK = 0.01


def read_mask_pixels(path: str | os.PathLike) -> np.ndarray:
    """Read a mask file as 8-bit pixels (see the module docstring for the conversions).

    Parameters
    ----------
    path : str or os.PathLike
        Image file.

    Returns
    -------
    np.ndarray
        ``(H,W,3)`` uint8 RGB, or ``(H,W)`` uint8 for greyscale masks.

    Raises
    ------
    MaskError
        Missing file, a folder, not an image, unreadable, or an unsupported pixel format.
    """
    return _read_mask(Path(path), None)[0]


def _read_mask(path: Path, max_side: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`read_mask_pixels`, shrunk with nearest neighbour to at most ``max_side`` on the
    long side (``None``: as is), and the mask's own ``(H, W)`` (as displayed)."""
    if not path.exists():
        raise MaskError(f"mask {path} does not exist; check the path")
    if path.is_dir():
        raise MaskError(f"mask {path} is a folder; give the mask's image file")
    try:
        # From a handle: PIL memory-maps uncompressed TIFFs opened by name and then skips
        # their orientation.
        with path.open("rb") as handle, Image.open(handle) as img:
            img.load()
            ImageOps.exif_transpose(img, in_place=True)
            size = (img.height, img.width)
            if max_side is not None and max(size) > max_side:
                scale = max_side / max(size)
                img = img.resize((max(1, round(img.width * scale)),
                                  max(1, round(img.height * scale))), Image.Resampling.NEAREST)
            return _pixels(path, img), size
    except UnidentifiedImageError as exc:
        raise MaskError(f"mask {path} is not an image; save the mask as a PNG") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MaskError(f"mask {path} cannot be read ({exc}); re-save it as a PNG") from exc


def _pixels(path: Path, img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if mode == "I" or mode.startswith("I;16"):
        values = np.asarray(img).astype(np.int64)
        if values.max(initial=0) > 255:
            values = np.rint(np.clip(values, 0, 65535) / 257.0)
        return np.clip(values, 0, 255).astype(np.uint8)
    if mode == "F":
        raise MaskError(f"mask {path} has floating-point pixels; save the mask as an 8-bit RGB "
                        "PNG")
    try:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except ValueError as exc:
        raise MaskError(f"mask {path} has pixel format {mode}, which cannot be converted to "
                        "RGB; save the mask as an 8-bit RGB PNG") from exc


def same_picture(mask_hw: tuple[int, int], image_hw: tuple[int, int]) -> bool:
    """Whether sizes ``(h, w)`` can be the same picture at two scales: a mask of size
    ``mask_hw`` may be resized to ``image_hw`` (the size policy above)."""
    (h, w), (ih, iw) = mask_hw, image_hw
    if abs(h - ih) <= SIZE_SLACK and abs(w - iw) <= SIZE_SLACK:
        return True
    return abs((w / h) / (iw / ih) - 1.0) <= ASPECT_SLACK


def load_color_mask(
    path: str | os.PathLike,
    image_size: tuple[int, int],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    other_min_fraction: float = DEFAULT_OTHER_MIN_FRACTION,
    max_side: int | None = None,
) -> ParsedMask:
    """Read and parse the colour mask of an image.

    Parameters
    ----------
    path : str or os.PathLike
        Mask file, drawn in the DPST colour code.
    image_size : tuple of int
        ``(H, W)`` of the image the mask belongs to.
    tolerance, min_fraction, other_min_fraction
        Passed to :func:`~segment.palette.parse_color_mask`.
    max_side : int, optional
        For a large image used at a smaller size: a mask larger than this on its long side is
        shrunk (nearest neighbour) to fit before it is parsed — much less time and memory —
        and the labels come at the image's size scaled to fit ``max_side`` (bring them to
        any other size with :func:`resize_mask`). The size policy is still checked at full
        size.

    Returns
    -------
    ParsedMask
        ``(H,W)`` labels at the image's size (scaled to fit ``max_side`` when given).

    Raises
    ------
    MaskError
        Missing or unreadable file, a size outside the size policy (module docstring), or no
        usable colour region; the one-line message names the file and the fix.

    Warns
    -----
    MaskWarning
        The mask was resized to the image's size.
    """
    path = Path(path)
    height, width = (int(s) for s in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be positive (H, W), got {image_size}")
    pixels, (mask_h, mask_w) = _read_mask(path, max_side)
    if (mask_h, mask_w) != (height, width) and not same_picture((mask_h, mask_w),
                                                               (height, width)):
        raise MaskError(f"mask {path} is {mask_w}x{mask_h} but its image is {width}x{height}; "
                        "draw the mask at the image's size")
    try:
        parsed = parse_color_mask(pixels, tolerance=tolerance, min_fraction=min_fraction,
                                  other_min_fraction=other_min_fraction)
    except MaskError as exc:
        raise MaskError(f"mask {path}: {exc}") from exc
    if (mask_h, mask_w) != (height, width):
        warnings.warn(f"mask {path} is {mask_w}x{mask_h} but its image is {width}x{height}; "
                      "resized with nearest neighbour", MaskWarning, stacklevel=2)
    if max_side is not None and max(height, width) > max_side:
        scale = max_side / max(height, width)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
    return resize_mask(parsed, (height, width))


def resize_mask(parsed: ParsedMask, size: tuple[int, int]) -> ParsedMask:
    """A parsed mask at another ``size=(h, w)``, nearest neighbour (a label left without a
    pixel is dropped); ``parsed`` itself when the size matches. For a photo read at a reduced
    scale: its mask is brought to the size the photo was decoded at."""
    if parsed.labels.shape == tuple(size):
        return parsed
    return ParsedMask.from_labels(resize_labels(parsed.labels, size), parsed.colors)


def color_mask_image(labels: np.ndarray,
                     colors: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """A label map as a colour-code image: every pixel gets the exact colour of its label.

    Written losslessly (PNG), it loads back as the same labels and colours (for labels produced
    by :func:`~segment.palette.parse_color_mask`). Writing it is the caller's (photostyle
    writes every file atomically, :func:`photostyle.io.save_image`).

    Parameters
    ----------
    labels : np.ndarray
        ``(H,W)`` integer indices into ``colors``; not modified.
    colors : tuple of (int, int, int)
        RGB of each label, in 0..255.

    Returns
    -------
    np.ndarray
        ``(H,W,3)`` uint8 RGB.
    """
    labels = np.asarray(labels)
    table = np.asarray(colors, dtype=np.int64).reshape(-1, 3)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H,W) integer array, got {labels.dtype} "
                         f"{labels.shape}")
    if table.size and (table.min() < 0 or table.max() > 255):
        raise ValueError("colors must be RGB triples in 0..255")
    if labels.size and (labels.min() < 0 or labels.max() >= len(table)):
        raise ValueError(f"labels must lie in [0, {len(table)})")
    return table.astype(np.uint8)[labels]
