"""Reading, resizing and writing images as numpy arrays (no torch: the weight-free path and
the command line's start-up use this module).

Conversions (documented in the README): EXIF orientation is applied; greyscale, palette and
CMYK images become RGB; 16-bit images keep their precision (scaled to [0, 1]); an alpha channel
is composited over white (with a warning when any pixel is transparent). Outputs are written
atomically (:func:`photostyle.io.files.atomic_write`). Tensors: :mod:`photostyle.io.tensors`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from .files import OUTPUT_FORMATS, atomic_write

__all__ = ["MIN_SIDE", "check_min_side", "fit_long_side", "read_image", "resize_image",
           "save_image", "to_uint8"]

#: Smallest side an input may have: VGG-19 pools four times before relu5_1.
MIN_SIDE = 32


def _read_16bit(path: Path) -> np.ndarray | None:
    """RGB float array from a 16-bit PNG/TIFF, which PIL would truncate to 8 bits."""
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16:
        return None
    data = data.astype(np.float64) / 65535.0
    if data.ndim == 2:
        return np.repeat(data[..., None], 3, axis=2)
    if data.shape[2] == 4:
        rgb, alpha = data[..., 2::-1], data[..., 3:4]
        if (alpha < 1).any():
            warnings.warn(f"{path}: transparent pixels composited over white", stacklevel=3)
        return rgb * alpha + (1 - alpha)
    return data[..., ::-1][..., :3]


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an ``(H,W,3)`` float64 RGB array in [0, 1].

    Raises
    ------
    InputError
        The file is missing, unreadable or not an image; the message names it.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give an image file")
    try:
        with Image.open(path) as img:
            img.load()
            fmt = img.format
            img = ImageOps.exif_transpose(img)
    except UnidentifiedImageError as exc:
        raise InputError(f"{path} is not an image photostyle can read (use PNG, JPEG or TIFF)"
                         ) from exc
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc}); re-save it as PNG or JPEG") from exc
    if fmt in ("PNG", "TIFF") and img.mode not in ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK"):
        deep = _read_16bit(path)
        if deep is not None:
            return deep
    if fmt in ("PNG", "TIFF") and img.mode in ("RGB", "RGBA"):
        deep = _read_16bit(path)  # Pillow reads 48/64-bit PNGs as 8-bit RGB
        if deep is not None:
            return deep
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.float64) / 65535.0
        return np.repeat(arr[..., None], 3, axis=2)
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max(initial=0) > 255 else 255.0
        return np.repeat(np.clip(arr / scale, 0, 1)[..., None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3:4]
        if (alpha < 1).any():
            warnings.warn(f"{path}: transparent pixels composited over white", stacklevel=2)
        return rgba[..., :3] * alpha + (1 - alpha)
    return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def check_min_side(path: str | os.PathLike, shape: tuple[int, ...]) -> None:
    """Raise :class:`InputError` if an ``(H,W,…)`` image read from ``path`` is under
    :data:`MIN_SIDE` pixels on a side."""
    h, w = shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{path} is {w}x{h} px; VGG-19 needs at least {MIN_SIDE} px on each side")


def fit_long_side(height: int, width: int, long_side: int | None) -> tuple[int, int]:
    """``(h, w)`` scaled so that the longer side is ``long_side`` (``None``: unchanged)."""
    if long_side is None:
        return height, width
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``(H,W,C)`` float image in [0, 1] to ``size=(h, w)``: antialiased bicubic
    (PIL's, a = -0.5, the same filter as :func:`photostyle.io.tensors.resize`), clamped to
    [0, 1], in the input's float dtype. Returned as is when the size already matches."""
    h, w = (int(v) for v in size)
    if image.shape[:2] == (h, w):
        return image
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32))
                           .resize((w, h), Image.Resampling.BICUBIC))
                for c in range(image.shape[2])]
    out = np.stack(channels, axis=2).astype(image.dtype if image.dtype.kind == "f"
                                            else np.float32, copy=False)
    return np.clip(out, 0.0, 1.0, out=out)


def to_uint8(image: Any) -> np.ndarray:
    """An image in [0, 1] as an ``(H,W,3)`` uint8 array: a ``(1,3,H,W)``/``(3,H,W)`` tensor
    (any device; no torch import here) or an ``(H,W,3)`` float array; a uint8 array is
    returned as is."""
    if hasattr(image, "detach"):  # a torch tensor
        if image.dim() == 4:
            image = image[0]
        arr = image.detach().float().clamp(0, 1).mul(255).round().byte()
        return arr.permute(1, 2, 0).cpu().numpy()
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)


def save_image(image: Any, path: str | os.PathLike) -> Path:
    """Write an image atomically (:func:`photostyle.io.files.atomic_write`).

    ``image``: as :func:`to_uint8` takes it (a tensor in [0, 1], an ``(H,W,3)`` float array in
    [0, 1] or a uint8 array).
    """
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"output {path}: unknown image type {path.suffix!r}; "
                         f"use one of {', '.join(OUTPUT_FORMATS)}")
    arr = to_uint8(image)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    return atomic_write(path, lambda handle: Image.fromarray(arr).save(handle, format=fmt,
                                                                        **options))
