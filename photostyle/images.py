"""Reading, resizing and writing images.

Conversions (documented in the README): EXIF orientation is applied; greyscale, palette and
CMYK images become RGB; 16-bit images keep their precision (scaled to [0, 1]); an alpha channel
is composited over white (with a warning when any pixel is transparent). Outputs are written
atomically: to a temporary file in the destination folder, then renamed over the destination.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from .errors import InputError

#: Output extensions and the PIL format they are written with.
OUTPUT_FORMATS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".webp": "WEBP",
}

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


def load_image(path: str | os.PathLike, *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Read an image as a ``(1,3,H,W)`` tensor in [0, 1]; see :func:`read_image`.

    Raises
    ------
    InputError
        Unreadable file, or an image smaller than ``MIN_SIDE`` pixels on a side.
    """
    arr = read_image(path)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{path} is {w}x{h} px; VGG-19 needs at least {MIN_SIDE} px on each side")
    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
    return tensor.to(device=device, dtype=dtype)


def fit_long_side(height: int, width: int, long_side: int | None) -> tuple[int, int]:
    """``(h, w)`` scaled so that the longer side is ``long_side`` (``None``: unchanged)."""
    if long_side is None:
        return height, width
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``(B,C,H,W)`` in [0, 1] to ``size=(h, w)`` (antialiased bicubic, clamped)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    out = F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(0, 1)


def check_output_path(out: str | os.PathLike,
                      inputs: tuple[str | os.PathLike | None, ...] = ()) -> Path:
    """Validate an output path before any work is done.

    Raises
    ------
    InputError
        Missing folder, unsupported extension, or the path of one of the ``inputs``.
    """
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise InputError(f"output {out}: unknown image type {out.suffix!r}; "
                         f"use one of {', '.join(OUTPUT_FORMATS)}")
    if not out.parent.is_dir():
        raise InputError(f"output folder {out.parent} does not exist; create it first")
    if out.is_dir():
        raise InputError(f"output {out} is a folder; give a file name such as {out / 'out.png'}")
    for item in inputs:
        if item is None:
            continue
        item = Path(item)
        same = out.resolve() == item.resolve()
        if not same and out.exists() and item.exists():
            same = os.path.samefile(out, item)
        if same:
            raise InputError(f"output {out} is also an input; choose another output name")
    return out


def to_uint8(image: Tensor) -> np.ndarray:
    """``(1,3,H,W)`` or ``(3,H,W)`` tensor in [0, 1] → ``(H,W,3)`` uint8 array."""
    if image.dim() == 4:
        image = image[0]
    arr = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return arr.permute(1, 2, 0).cpu().numpy()


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file atomically: ``write(handle)`` fills a temporary file in the same folder,
    which then replaces ``path``. An interrupted write leaves any previous ``path`` untouched
    and no temporary file behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_image(image: Tensor | np.ndarray, path: str | os.PathLike) -> Path:
    """Write an image atomically (see :func:`atomic_write`).

    ``image`` is a ``(1,3,H,W)``/``(3,H,W)`` tensor in [0, 1] or an ``(H,W,3)`` uint8 array.
    """
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"output {path}: unknown image type {path.suffix!r}")
    arr = to_uint8(image) if isinstance(image, Tensor) else np.asarray(image)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    return atomic_write(path, lambda handle: Image.fromarray(arr).save(handle, format=fmt,
                                                                        **options))
