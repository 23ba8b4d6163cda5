"""Writing files safely: atomic replacement and output-path checks done before any work.

Every file photostyle writes (images, masks, reports, tables, JSON) goes through
:func:`atomic_write`: the bytes go to a temporary file in the destination folder, which is then
renamed over the destination, so an interrupted or failed write leaves any previous file intact
and no temporary file behind. New files get the usual permissions (``0666`` minus the umask).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

__all__ = ["OUTPUT_FORMATS", "atomic_write", "atomic_write_text", "check_not_input",
           "check_output_file", "check_output_path", "same_file", "temporary_target"]

#: Output extensions and the PIL format they are written with.
OUTPUT_FORMATS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".webp": "WEBP",
}


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


#: The name :func:`atomic_write` gives its temporary file: ``.<stem>.<8 random characters of
#: tempfile's alphabet><suffix>``.
_TEMPORARY = re.compile(r"\.(?P<stem>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]*)?")


def temporary_target(name: str) -> str | None:
    """The file name an :func:`atomic_write` temporary called ``name`` was to replace
    (``".photo.k3j_x9q2.png"`` → ``"photo.png"``), or None if ``name`` does not have that
    form. Such a file stays behind only when its process was killed outright (SIGKILL, power
    loss); whoever owns the destination may delete it."""
    match = _TEMPORARY.fullmatch(name)
    if match is None:
        return None
    return match["stem"] + (match["suffix"] or "")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (same resolved path, or a hard link)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def check_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None],
                    what: str = "output") -> None:
    """Raise :class:`InputError` if ``out`` is one of the ``inputs`` (``None`` ignored)."""
    for item in inputs:
        if item is not None and same_file(out, item):
            raise InputError(f"{what} {out} is also an input ({item}); choose another name")


def check_output_file(out: str | os.PathLike,
                      inputs: Iterable[str | os.PathLike | None] = (), *,
                      what: str = "output", example: str = "out.png") -> Path:
    """Validate the path of any output file before any work is done.

    Raises
    ------
    InputError
        Missing folder, a folder, or the path of one of the ``inputs``.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"{what} folder {out.parent} does not exist; create it first")
    if out.is_dir():
        raise InputError(f"{what} {out} is a folder; give a file name such as {out / example}")
    check_not_input(out, inputs, what)
    return out


def check_output_path(out: str | os.PathLike,
                      inputs: Iterable[str | os.PathLike | None] = (), *,
                      what: str = "output") -> Path:
    """Validate an image output path before any work is done (:func:`check_output_file`,
    and a known image extension).

    Raises
    ------
    InputError
        Missing folder, unsupported extension, a folder, or the path of one of the ``inputs``.
    """
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise InputError(f"{what} {out}: unknown image type {out.suffix!r}; "
                         f"use one of {', '.join(OUTPUT_FORMATS)}")
    return check_output_file(out, inputs, what=what)
