"""Writing files safely: output checks done before any work, and atomic replacement.

Before any work, a command lists every file it may write (:class:`PlannedOutput`: the output,
intermediate images, reports, masks, whole families of numbered files) and
:func:`check_outputs` checks them all against every input and against each other, and checks
that each folder exists and can be written to (:func:`check_writable`). A run that would
overwrite an input or could not save its result stops before it starts.

Every file photostyle writes (images, masks, reports, tables, JSON) goes through
:func:`atomic_write`: the bytes go to a temporary file in the destination folder, which is then
renamed over the destination, so an interrupted or failed write leaves any previous file intact
and no temporary file behind. Ctrl-C and SIGTERM are held back during the write
(:func:`photostyle.interrupts.deferred_signals`). An operating-system error (a full disk, a
read-only or forbidden folder) becomes an :class:`~photostyle.errors.OutputError` whose one-line
message names the file, the reason and the fix (:func:`os_error_message`). New files get the
usual permissions (``0666`` minus the umask).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError, OutputError
from ..interrupts import deferred_signals

__all__ = ["OUTPUT_FORMATS", "PlannedOutput", "atomic_write", "atomic_write_text",
           "check_not_input", "check_output_path", "check_outputs", "check_writable",
           "os_error_message", "same_file", "temporary_target"]

#: Output extensions and the PIL format they are written with.
OUTPUT_FORMATS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".webp": "WEBP",
}

#: What to do about an OS error, by errno (the default: write elsewhere).
_FIXES: dict[int, str] = {
    errno.ENOSPC: "the disk is full; free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; choose a folder you can write to",
    errno.EACCES: "choose a folder you can write to",
    errno.EPERM: "choose a folder you can write to",
    errno.ENAMETOOLONG: "choose a shorter name",
    errno.EISDIR: "give a file name, not a folder",
}


def os_error_message(path: str | os.PathLike, exc: OSError, doing: str = "write") -> str:
    """One line for an OS error on ``path``: ``cannot write PATH (reason); fix``."""
    path = Path(path)
    reason = exc.strerror or str(exc) or type(exc).__name__
    fix = _FIXES.get(exc.errno or 0, "choose another folder")
    if exc.errno == errno.ENOENT:
        fix = ("files cannot be created there; choose another folder" if path.parent.is_dir()
               else f"the folder {path.parent} does not exist; create it first")
    return f"cannot {doing} {path} ({reason}); {fix}"


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file atomically: ``write(handle)`` fills a temporary file in the same folder,
    which then replaces ``path``.

    A failed or interrupted write leaves any previous ``path`` untouched and no temporary
    file behind; SIGINT and SIGTERM wait until the file is complete or removed.

    Raises
    ------
    OutputError
        An OS error (full disk, read-only or forbidden folder …), naming ``path``.
    """
    path = Path(path)
    with deferred_signals():
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix,
                                       dir=path.parent)
        except OSError as exc:
            raise OutputError(os_error_message(path, exc)) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise OutputError(os_error_message(path, exc)) from exc
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


def check_writable(folder: str | os.PathLike, what: str = "output") -> None:
    """Check that files can be created in ``folder`` (an existing folder) by creating and
    removing an empty temporary file: the only test that also catches read-only mounts,
    ``/proc`` and ``/sys``, ACLs and the like.

    Raises
    ------
    InputError
        Files cannot be created there; the message gives the reason.
    """
    folder = Path(folder)
    with deferred_signals():
        try:
            fd, probe = tempfile.mkstemp(prefix=".photostyle-probe.", dir=folder)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InputError(f"{what} folder {folder} cannot be written to ({reason}); "
                             "choose a folder you can write to") from exc
        os.close(fd)
        Path(probe).unlink(missing_ok=True)


@dataclass(frozen=True)
class PlannedOutput:
    """A file (or a family of files) a command may write, checked before any work
    (:func:`check_outputs`).

    Attributes
    ----------
    path : Path
        The file; for a family, one member (its folder and extension are the family's).
    what : str
        How messages name it (``"output"``, ``"--report"``, ``"--save-stages image"`` …).
    pattern : re.Pattern or None
        A family of files in ``path.parent`` whose names match this pattern in full (numbered
        intermediate images, whose exact names are known only during the run).
    image : bool
        An image: its extension must be one of :data:`OUTPUT_FORMATS`.
    make_folder : bool
        The command creates ``path.parent`` when missing (its parent must then exist).
    """

    path: Path
    what: str = "output"
    pattern: re.Pattern[str] | None = None
    image: bool = True
    make_folder: bool = False


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.is_dir() and b.is_dir()
                                              and os.path.samefile(a, b))
    except OSError:
        return False


def _in_family(item: Path, family: PlannedOutput) -> bool:
    """Whether ``item`` (as given, or what it resolves to) is a member of ``family``."""
    folder = family.path.parent
    return any(_same_folder(p.parent, folder) and family.pattern.fullmatch(p.name)
               for p in (item, item.resolve()))


def check_outputs(outputs: Sequence[PlannedOutput],
                  inputs: Iterable[str | os.PathLike | None] = ()) -> list[Path]:
    """Check every file a command may write before it does any work.

    For each planned output: a known image extension (images), an existing folder that can be
    written to (:func:`check_writable`), not a folder itself, not one of the ``inputs`` (also
    through a link), no input among a family's possible names, and no two outputs that are
    the same file.

    Returns
    -------
    list of Path
        The outputs' paths, in order.

    Raises
    ------
    InputError
        The first problem found, in one line naming the file and the fix.
    """
    inputs = [Path(p) for p in inputs if p is not None]
    checked: set[Path] = set()
    for out in outputs:
        path = out.path
        if out.image and path.suffix.lower() not in OUTPUT_FORMATS:
            raise InputError(f"{out.what} {path}: unknown image type {path.suffix!r}; "
                             f"use one of {', '.join(OUTPUT_FORMATS)}")
        folder = path.parent
        if out.make_folder and not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            raise InputError(f"{out.what} folder {folder} does not exist; create it first")
        if path.is_dir():
            example = "out" + (path.suffix or (".png" if out.image else ""))
            raise InputError(f"{out.what} {path} is a folder; give a file name such as "
                             f"{path / example}")
        if out.pattern is None:
            check_not_input(path, inputs, out.what)
        else:
            for item in inputs:
                if _in_family(item, out):
                    raise InputError(f"{out.what} {item.name} would replace an input ({item}); "
                                     "choose another output name or move the input")
        if folder.resolve() not in checked:
            check_writable(folder, out.what)
            checked.add(folder.resolve())
    for i, first in enumerate(outputs):
        for second in outputs[i + 1:]:
            _check_distinct(first, second)
    return [out.path for out in outputs]


def _check_distinct(first: PlannedOutput, second: PlannedOutput) -> None:
    """Raise :class:`InputError` if two planned outputs would write the same file."""
    clash = None
    if first.pattern is None and second.pattern is None:
        clash = same_file(first.path, second.path)
    elif first.pattern is None or second.pattern is None:
        single, family = (first, second) if first.pattern is None else (second, first)
        clash = _in_family(single.path, family)
    if clash:
        raise InputError(f"{second.what} {second.path} and {first.what} {first.path} would "
                         "be the same file; give them different names")


def check_output_path(out: str | os.PathLike,
                      inputs: Iterable[str | os.PathLike | None] = (), *,
                      what: str = "output") -> Path:
    """Validate one image output path before any work is done (:func:`check_outputs` of a
    single :class:`PlannedOutput`).

    Raises
    ------
    InputError
        Missing or unwritable folder, unsupported extension, a folder, or the path of one of
        the ``inputs``.
    """
    out = Path(out)
    check_outputs([PlannedOutput(out, what)], inputs)
    return out
