"""What the editor reads from outside: uploads and files of its input folder, with the command
line's checks.

* A path given by the page is always *relative to the input folder*: absolute paths, ``..``
  and symbolic links leading out of the folder are refused (:func:`resolve_inside`).
* An upload is refused above the byte limit before it is stored, and any image above the pixel
  limit is refused from its header, before it is decoded (:func:`check_pixels`).
* Photos are then decoded by :func:`photostyle.io.images.read_image` (EXIF orientation, bit
  depth, alpha: exactly as the command line) and masks by :func:`segment.load_color_mask`.
  Error messages name the file as the user knows it (the upload's name, the relative path).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from segment import MaskError, ParsedMask, load_color_mask

from ..errors import InputError
from ..io.files import OUTPUT_FORMATS
from ..io.images import check_min_side, image_info, pil_pixel_check_off, read_image

__all__ = ["IMAGE_SUFFIXES", "check_pixels", "display_name", "list_images", "read_mask_bytes",
           "read_mask_file", "read_photo_bytes", "read_photo_file", "resolve_inside"]

#: File name endings listed as images in the input folder.
IMAGE_SUFFIXES = frozenset(OUTPUT_FORMATS)

#: Folder levels below the input folder that are listed.
_LIST_DEPTH = 3

#: Most files listed.
_LIST_MAX = 1000

T = TypeVar("T")


def display_name(name: str | None, fallback: str = "upload") -> str:
    """An uploaded file's name, safe to show and log: its last path component, printable
    characters only, at most 100 characters."""
    text = Path(str(name or "")).name if name else ""
    text = re.sub(r"[^\w .,()+@-]", "_", text)[:100].strip()
    return text or fallback


def resolve_inside(folder: Path | None, relative: str) -> Path:
    """The file ``relative`` names inside ``folder``; nothing outside it.

    Raises
    ------
    InputError
        No input folder, an absolute path, a ``..`` component, or a path that leads out of the
        folder (through a symbolic link).
    """
    if folder is None:
        raise InputError("opening files by path is off: start 'photostyle ui --inputs DIR' to "
                         "open files from DIR, or upload the file")
    text = str(relative or "")
    if not text or "\x00" in text or len(text) > 1000:
        raise InputError("give the path of a file inside the input folder")
    candidate = Path(text)
    if candidate.is_absolute() or text.startswith(("/", "\\", "~")) or ".." in candidate.parts \
            or ".." in Path(text.replace("\\", "/")).parts:
        raise InputError(f"{text}: give a path inside the input folder, relative to it (no "
                         "'..', not absolute)")
    resolved = (folder / candidate).resolve()
    if not resolved.is_relative_to(folder):
        raise InputError(f"{text} leads out of the input folder; give a file inside it")
    return resolved


def list_images(folder: Path | None) -> list[str]:
    """Image files inside ``folder`` (up to three levels deep, hidden files and links out of
    the folder left out), as sorted relative POSIX paths; ``[]`` without a folder."""
    if folder is None:
        return []
    found: list[str] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        depth = len(here.relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < _LIST_DEPTH)
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if not path.resolve().is_relative_to(folder):
                continue
            found.append(path.relative_to(folder).as_posix())
            if len(found) >= _LIST_MAX:
                return found
    return found


def check_pixels(path: Path, name: str, max_pixels: int) -> tuple[int, int]:
    """``(height, width)`` (as displayed) of an image file read from its header only
    (:func:`photostyle.io.images.image_info`: PIL's own decompression-bomb limit does not
    apply, this one does).

    Raises
    ------
    InputError
        Not an image, or more than ``max_pixels`` pixels.
    """
    try:
        info = image_info(path, max_pixels=None)
    except InputError as exc:
        raise InputError(f"{name} is not an image photostyle can read (use PNG, JPEG or TIFF)"
                         ) from exc
    width, height = info.width, info.height
    if width * height > max_pixels:
        raise InputError(f"{name} is {width}x{height} px, above the editor's limit of "
                         f"{max_pixels / 1e6:g} megapixels; downscale it, or start "
                         "'photostyle ui --max-pixels N'")
    return height, width


def _check_bytes(size: int, name: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise InputError(f"{name} is {size / 2**20:.1f} MiB, above the editor's upload limit of "
                         f"{max_bytes / 2**20:g} MiB; downscale it, or start 'photostyle ui "
                         "--max-upload-mb N'")


def _staged(data: bytes, name: str, scratch: Path, read: Callable[[Path], T]) -> T:
    """``read(path)`` of ``data`` written to a private temporary file in ``scratch``; errors
    and warnings name ``name`` instead of the temporary path (warnings are re-issued, so the
    server calls this under its :class:`~photostyle.ui.session.WarningCatcher`)."""
    suffix = Path(name).suffix.lower()
    fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=suffix if suffix in IMAGE_SUFFIXES
                               else "", dir=scratch)
    path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = read(path)
    except (InputError, MaskError) as exc:
        raise type(exc)(str(exc).replace(str(path), name)) from None
    finally:
        path.unlink(missing_ok=True)
    for item in caught:
        warnings.warn(str(item.message).replace(str(path), name), item.category, stacklevel=3)
    return result


def _photo(path: Path, name: str, max_pixels: int) -> np.ndarray:
    check_pixels(path, name, max_pixels)
    image = read_image(path, max_pixels=max_pixels)
    check_min_side(name, image.shape)
    return image


def read_photo_bytes(data: bytes, name: str, scratch: Path, *, max_bytes: int,
                     max_pixels: int) -> np.ndarray:
    """An uploaded photo as :func:`~photostyle.io.images.read_image` reads files: ``(H,W,3)``
    float64 in [0, 1].

    Raises
    ------
    InputError
        Too large (bytes or pixels), not an image, or smaller than the network needs.
    """
    _check_bytes(len(data), name, max_bytes)
    return _staged(data, name, scratch, lambda path: _photo(path, name, max_pixels))


def read_photo_file(path: Path, name: str, *, max_pixels: int) -> np.ndarray:
    """A photo of the input folder (``path`` from :func:`resolve_inside`), read as
    :func:`read_photo_bytes` reads uploads."""
    if not path.is_file():
        raise InputError(f"{name}: no such file in the input folder")
    return _photo(path, name, max_pixels)


def read_mask_bytes(data: bytes, name: str, scratch: Path, image_hw: tuple[int, int], *,
                    max_bytes: int, max_pixels: int) -> ParsedMask:
    """An uploaded DPST colour mask of a photo of size ``image_hw``, parsed as the command
    line parses ``--content-mask`` (:func:`segment.load_color_mask`)."""
    _check_bytes(len(data), name, max_bytes)

    def read(path: Path) -> ParsedMask:
        check_pixels(path, name, max_pixels)
        with pil_pixel_check_off():  # checked against the editor's limit
            return load_color_mask(path, image_hw)

    return _staged(data, name, scratch, read)


def read_mask_file(path: Path, name: str, image_hw: tuple[int, int], *,
                   max_pixels: int) -> ParsedMask:
    """A mask of the input folder, read as :func:`read_mask_bytes` reads uploads."""
    if not path.is_file():
        raise InputError(f"{name}: no such file in the input folder")
    check_pixels(path, name, max_pixels)
    with pil_pixel_check_off():  # checked against the editor's limit
        return load_color_mask(path, image_hw)
