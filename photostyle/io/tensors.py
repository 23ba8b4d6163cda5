"""Images as torch tensors ``(1,3,H,W)`` in [0, 1], for the neural methods.

The files are read by :func:`photostyle.io.images.read_image` (numpy); this module only converts
and resizes. Imported by the torch-based parts alone.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import MAX_PIXELS
from .images import check_min_side, read_image

__all__ = ["from_array", "load_image", "resize", "to_array"]


def from_array(image: np.ndarray, *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """An ``(H,W,3)`` array in [0, 1] as a ``(1,3,H,W)`` tensor (a new tensor)."""
    tensor = torch.from_numpy(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)))[None]
    return tensor.to(device=device, dtype=dtype)


def to_array(image: Tensor) -> np.ndarray:
    """A ``(1,3,H,W)`` or ``(3,H,W)`` tensor as an ``(H,W,3)`` float64 array (on the host)."""
    if image.dim() == 4:
        image = image[0]
    return image.detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()


def load_image(path: str | os.PathLike, *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32, long_side: int | None = None,
               max_pixels: int | None = MAX_PIXELS) -> Tensor:
    """Read an image as a ``(1,3,H,W)`` tensor in [0, 1]; see :func:`read_image` (a large
    image is decoded at a reduced scale for ``long_side``; over ``max_pixels`` it is refused).

    Raises
    ------
    InputError
        Unreadable file, or an image smaller than ``MIN_SIDE`` pixels on a side.
    """
    arr = read_image(path, long_side=long_side, max_pixels=max_pixels)
    check_min_side(path, arr.shape)
    return from_array(arr, device=device, dtype=dtype)


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``(B,C,H,W)`` in [0, 1] to ``size=(h, w)`` (antialiased bicubic, clamped)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    out = F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(0, 1)
