"""Reading, resizing and writing images as numpy arrays (no torch: the weight-free path and
the command line's start-up use this module).

Conversions (documented in the README, "What happens when…"): EXIF orientation is applied
(JPEG, PNG and TIFF, 8 and 16 bits); greyscale, palette, CMYK and YCbCr images become RGB;
16-bit images keep their precision (scaled to [0, 1]); floating-point images are taken as
[0, 1], [0, 255] or [0, 65535] by their largest value; an alpha channel is composited over
white (with a warning when any pixel is transparent). Outputs are written atomically
(:func:`photostyle.io.files.atomic_write`). Tensors: :mod:`photostyle.io.tensors`.

Large files: the size is read from the header first, and a file over ``max_pixels``
(:data:`photostyle.config.MAX_PIXELS`, 160 MP) is refused before it is decoded. Given the
``long_side`` the caller will resize to, :func:`read_image` decodes a much larger image at a
reduced scale — JPEG's DCT scaling (PIL ``draft``), then a box filter by an integer factor
(PIL ``reduce``), both still 8 or 16 bits per channel — keeping at least twice ``long_side``
(PIL's ``reducing_gap``: indistinguishable from resizing the full image in one step), so a
12000 x 9000 photo costs about its 8-bit size once, not 64 bytes per pixel.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..config import MAX_PIXELS
from ..errors import InputError
from .files import OUTPUT_FORMATS, atomic_write

__all__ = ["MIN_SIDE", "REDUCING_GAP", "ImageInfo", "check_mask_pixels", "check_min_side",
           "check_pixels", "check_working_size", "fit_long_side", "image_info", "orient",
           "pil_pixel_check_off", "read_image", "resize_image", "save_image", "to_uint8"]

#: Smallest side an input may have: VGG-19 pools four times before relu5_1.
MIN_SIDE = 32

#: A large image is decoded at a reduced scale of at least this many times the size it will be
#: resized to (PIL's ``reducing_gap``).
REDUCING_GAP = 2.0

#: EXIF tag of the orientation.
_ORIENTATION = 0x0112

#: PIL modes converted before anything else (palettes cannot be averaged).
_CONVERT = {"1": "L", "PA": "RGBA", "La": "LA", "RGBa": "RGBA", "CMYK": "RGB", "YCbCr": "RGB",
            "LAB": "RGB", "HSV": "RGB", "RGBX": "RGB"}


@dataclass(frozen=True)
class ImageInfo:
    """What an image file's header says (nothing decoded).

    Attributes
    ----------
    path : Path
    width, height : int
        As displayed: after the EXIF orientation.
    format : str or None
        PIL's format name (``"PNG"``, ``"JPEG"``, ``"TIFF"`` …).
    mode : str
        PIL's mode (``"RGB"``, ``"I;16"`` …; 16-bit colour files show as ``"RGB"``).
    orientation : int
        EXIF orientation, 1 (as stored) to 8.
    deep : bool
        16 bits per channel.
    """

    path: Path
    width: int
    height: int
    format: str | None
    mode: str
    orientation: int
    deep: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height


@contextmanager
def pil_pixel_check_off() -> Iterator[None]:
    """PIL's own decompression-bomb check (a warning over 89 MP, an error over 179 MP) off
    within the block, for files whose size was already checked against ``max_pixels``
    (:func:`check_pixels`); the previous setting is restored after."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def check_pixels(path: str | os.PathLike, width: int, height: int,
                 max_pixels: int | None = MAX_PIXELS) -> None:
    """Raise :class:`InputError` if a ``width x height`` image is over ``max_pixels``."""
    if max_pixels is not None and width * height > max_pixels:
        raise InputError(f"{path} is {width}x{height} ({width * height / 1e6:.1f} megapixels), "
                         f"over the limit of {max_pixels / 1e6:g} megapixels; downscale it, or "
                         f"raise the limit with --max-pixels {width * height} if the machine "
                         "has the memory")


def check_mask_pixels(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS) -> None:
    """Refuse a mask file over ``max_pixels`` from its header, before the mask reader
    (:func:`segment.load_color_mask`, run under :func:`pil_pixel_check_off`) decodes it; a
    file that is missing or not an image is left to that reader's own message."""
    try:
        info = image_info(path, max_pixels=None)
    except InputError:
        return
    check_pixels(f"mask {path}", info.width, info.height, max_pixels)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give an image file")


@contextmanager
def _open(path: Path) -> Iterator[Image.Image]:
    """PIL's lazy open (header only) from a file handle, errors as :class:`InputError`; the
    file is closed on leaving. (A handle, not a name: PIL memory-maps uncompressed TIFFs
    opened by name and then skips their orientation.)"""
    with path.open("rb") as handle:
        try:
            img = Image.open(handle)
        except UnidentifiedImageError as exc:
            raise InputError(f"{path} is not an image photostyle can read (use PNG, JPEG or "
                             "TIFF)") from exc
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise InputError(f"{path} cannot be read ({exc}); re-save it as PNG or JPEG"
                             ) from exc
        with img:
            yield img


def _png_exif(path: Path) -> bytes | None:
    """The ``eXIf`` chunk of a PNG, found by walking the chunk headers (PIL's ``getexif``
    decodes the whole image to look for one after the pixel data)."""
    with path.open("rb") as handle:
        handle.seek(8)
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return handle.read(length)
            if kind == b"IEND":
                return None
            handle.seek(length + 4, os.SEEK_CUR)


def _orientation(path: Path, img: Image.Image) -> int:
    """The EXIF orientation (1 when absent or broken), read without decoding the image."""
    try:
        if img.format == "PNG" and "exif" not in img.info:
            data = _png_exif(path)
            exif = Image.Exif()
            if data:
                exif.load(data)
        else:
            exif = img.getexif()
        value = exif.get(_ORIENTATION, 1)
    except Exception:  # a broken EXIF block (any parsing error) only loses the orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _is_deep(path: Path, img: Image.Image) -> bool:
    """16 bits per channel (PIL reads 16-bit colour PNG/TIFF as 8-bit RGB)."""
    if img.mode.startswith("I;16"):
        return True
    if img.format == "PNG":
        with path.open("rb") as handle:
            header = handle.read(26)  # signature, IHDR length and type, width, height, depth
        return len(header) == 26 and header[24] == 16
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, 8)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return any(b == 16 for b in bits)
    return False


def _stored_size(img: Image.Image) -> tuple[int, int]:
    """``(width, height)`` as stored in the file (PIL reports TIFFs turned by 90° as
    displayed)."""
    if img.format == "TIFF" and 256 in img.tag_v2 and 257 in img.tag_v2:
        return int(img.tag_v2[256]), int(img.tag_v2[257])
    return img.size


def _info(path: Path, img: Image.Image) -> ImageInfo:
    orientation = _orientation(path, img)
    width, height = _stored_size(img)
    if orientation >= 5:
        width, height = height, width
    return ImageInfo(path, width, height, img.format, img.mode, orientation,
                     _is_deep(path, img))


def image_info(path: str | os.PathLike, *, max_pixels: int | None = MAX_PIXELS) -> ImageInfo:
    """Read an image file's header: its displayed size, format, mode, orientation, depth.

    Raises
    ------
    InputError
        Missing, not an image, unreadable header, or over ``max_pixels``.
    """
    path = Path(path)
    _check_file(path)
    with pil_pixel_check_off(), _open(path) as img:
        info = _info(path, img)
    check_pixels(path, info.width, info.height, max_pixels)
    return info


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """An ``(H,W,…)`` array as stored, turned as EXIF ``orientation`` (1..8) says it is shown
    (a view where possible; PIL's ``ImageOps.exif_transpose`` on arrays)."""
    if orientation in (5, 6, 7, 8):
        image = np.swapaxes(image, 0, 1)  # transpose; then flip as for 4, 1 (6), 2 (7), 3 (8)
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    return image


def _reduce_factor(width: int, height: int, long_side: int | None) -> int:
    """Integer factor to shrink by, keeping at least ``REDUCING_GAP × long_side``."""
    if long_side is None:
        return 1
    return max(1, int(max(width, height) / (REDUCING_GAP * long_side)))


def _shrink(array: np.ndarray, factor: int) -> np.ndarray:
    """Box filter by an integer ``factor`` (the ragged border averaged over what there is, as
    PIL's ``reduce``), for arrays PIL cannot hold (16-bit colour), in their dtype."""
    if factor <= 1:
        return array
    import cv2

    h, w = array.shape[:2]
    return cv2.resize(array, (math.ceil(w / factor), math.ceil(h / factor)),
                      interpolation=cv2.INTER_AREA)


@contextmanager
def _quiet_opencv(cv2: Any) -> Iterator[None]:
    """OpenCV's own log lines (``[ERROR…] imread_``) off within the block."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _deep_color(path: Path, info: ImageInfo, img: Image.Image) -> np.ndarray | None:
    """A 16-bit colour PNG/TIFF as an ``(H,W,C)`` uint16 RGB(A) array, displayed orientation;
    ``None`` if OpenCV cannot decode it."""
    import cv2

    flags = cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION
    with _quiet_opencv(cv2):
        data = cv2.imread(str(path), flags)
        if data is None:  # OpenCV 5 fails on TIFFs with an orientation tag; from memory it works
            data = cv2.imdecode(np.fromfile(path, np.uint8), flags)
    if data is None or data.dtype != np.uint16:
        return None
    if data.ndim == 2:
        data = data[..., None]
    channels = data.shape[2]
    order = {1: [0], 2: [0, 1], 3: [2, 1, 0], 4: [2, 1, 0, 3]}.get(channels)
    if order is None:
        return None
    data = data[..., order]
    if info.orientation == 1:
        return data
    # Whether OpenCV turned it (versions differ, whatever the flags say): compare with PIL's
    # 8-bit decode, which holds the high bytes, shown as displayed.
    img.load()
    reference = orient(np.asarray(img), 1 if _pil_oriented(img, info) else info.orientation)
    reference = reference if reference.ndim == 3 else reference[..., None]
    for candidate in (data, orient(data, info.orientation)):
        if candidate.shape[:2] == reference.shape[:2] and np.array_equal(
                (candidate[..., :reference.shape[2]] >> 8).astype(np.uint8), reference):
            return candidate
    return None


def _pil_oriented(img: Image.Image, info: ImageInfo) -> bool:
    """Whether PIL turned a loaded image itself (recent Pillow does so for TIFFs, removing the
    tag)."""
    return info.format == "TIFF" and info.orientation != 1 and _ORIENTATION not in img.tag_v2


def _decode(path: Path, img: Image.Image, info: ImageInfo, long_side: int | None,
            ) -> tuple[np.ndarray, float]:
    """Pixels as an ``(H,W)`` or ``(H,W,C)`` array in displayed orientation, reduced for
    ``long_side``, and the value of full scale."""
    factor = _reduce_factor(info.width, info.height, long_side)
    if info.deep and img.mode in ("RGB", "RGBA", "LA"):
        deep = _deep_color(path, info, img)
        if deep is not None:
            return _shrink(deep, factor), 65535.0
        warnings.warn(f"{path}: its 16-bit colour could not be decoded; read at 8 bits",
                      stacklevel=4)
    if factor > 1 and info.format == "JPEG":
        stored_w, stored_h = _stored_size(img)  # DCT scaling: the largest 1/2^k still as big
        img.draft(None, (math.ceil(stored_w / factor), math.ceil(stored_h / factor)))
    img.load()
    oriented = _pil_oriented(img, info)
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in _CONVERT:
        img = img.convert(_CONVERT[mode])
    elif mode.startswith("I;16"):
        img = img.convert("I")  # 16-bit greyscale: PIL reduces 32-bit integers
    factor = _reduce_factor(*img.size, long_side)
    if factor > 1:
        img = img.reduce(factor)
    data = orient(np.asarray(img), 1 if oriented else info.orientation)
    if mode.startswith("I;16") or (mode == "I" and info.deep):
        return data, 65535.0
    if mode in ("I", "F"):
        peak = float(data.max(initial=0))
        return data, 1.0 if mode == "F" and peak <= 1.0 else (255.0 if peak <= 255 else 65535.0)
    return data, 255.0


def _to_rgb(path: Path, data: np.ndarray, scale: float) -> np.ndarray:
    """``(H,W)``/``(H,W,C)`` pixels (C = 1..4: grey, grey+alpha, RGB, RGBA) as an ``(H,W,3)``
    float64 RGB array in [0, 1], alpha composited over white."""
    data = data if data.ndim == 3 else data[..., None]
    values = np.clip(data.astype(np.float64) / scale, 0.0, 1.0)
    channels = values.shape[2]
    color = values[..., :3] if channels >= 3 else np.repeat(values[..., :1], 3, axis=2)
    if channels in (2, 4):
        alpha = values[..., -1:]
        if (alpha < 1).any():
            warnings.warn(f"{path}: transparent pixels composited over white", stacklevel=3)
        color = color * alpha + (1 - alpha)
    return np.ascontiguousarray(color)


def read_image(path: str | os.PathLike, *, long_side: int | None = None,
               max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Read an image file as an ``(H,W,3)`` float64 RGB array in [0, 1], as displayed.

    Parameters
    ----------
    path : str or os.PathLike
        PNG, JPEG, TIFF, BMP, WebP … (anything PIL opens; 16-bit colour through OpenCV).
    long_side : int, optional
        The long side the caller will resize the image to. An image at least
        ``2 × REDUCING_GAP`` times larger is decoded at a reduced scale that keeps at least
        ``REDUCING_GAP × long_side`` (see the module docstring); otherwise, and without
        ``long_side``, the full image is returned.
    max_pixels : int or None
        A larger image is refused before it is decoded (``None``: no limit).

    Raises
    ------
    InputError
        The file is missing, unreadable, not an image or over ``max_pixels``; the message
        names it and the fix.
    """
    path = Path(path)
    _check_file(path)
    with pil_pixel_check_off(), _open(path) as img:
        info = _info(path, img)
        check_pixels(path, info.width, info.height, max_pixels)
        try:
            data, scale = _decode(path, img, info, long_side)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise InputError(f"{path} cannot be read ({exc}); re-save it as PNG or JPEG"
                             ) from exc
    return _to_rgb(path, data, scale)


def check_min_side(path: str | os.PathLike, shape: tuple[int, ...]) -> None:
    """Raise :class:`InputError` if an ``(H,W,…)`` image read from ``path`` is under
    :data:`MIN_SIDE` pixels on a side."""
    h, w = shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{path} is {w}x{h} px; VGG-19 needs at least {MIN_SIDE} px on each side")


def check_working_size(path: str | os.PathLike, height: int, width: int,
                       long_side: int | None, scale: float = 1.0, option: str = "--size",
                       ) -> None:
    """Raise :class:`InputError` if an image of ``height x width`` is under :data:`MIN_SIDE`
    pixels on a side, or would be once resized to ``long_side × scale``; the message names
    the file and the smallest ``option`` value that works."""
    if min(height, width) < MIN_SIDE:
        raise InputError(f"{path} is {width}x{height} px; VGG-19 needs at least {MIN_SIDE} px "
                         "on each side; use a larger image")
    if long_side is None:
        return
    side = max(1, round(long_side * scale))
    h, w = fit_long_side(height, width, side)
    if min(h, w) >= MIN_SIDE:
        return
    needed = math.ceil(MIN_SIDE * max(height, width) / min(height, width) / scale)
    while min(fit_long_side(height, width, max(1, round(needed * scale)))) < MIN_SIDE:
        needed += 1
    scaled = f" (with --style-scale {scale:g})" if scale != 1 else ""
    raise InputError(f"{path} is {width}x{height} px: at {option} {long_side}{scaled} it would "
                     f"be {w}x{h}, under {MIN_SIDE} px on its short side; use {option} {needed} "
                     "or more, or crop it")


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

    Raises
    ------
    InputError
        An extension photostyle does not write.
    OutputError
        The file could not be written (full disk, read-only or forbidden folder); any previous
        file is intact.
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
