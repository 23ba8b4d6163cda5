"""The state of a batch is its output files: what is done, what was cut short, who writes.

**The skip rule.** An item whose output file exists (a regular file, not empty) is complete and
is skipped; ``overwrite`` redoes it. Every output is written atomically
(:func:`photostyle.io.files.atomic_write`: a temporary file in the same folder, renamed over
the output when complete), so an output that exists was written in full: a run stopped by
Ctrl-C, a crash, SIGKILL or a power cut leaves either the complete file or none. A changed
input or changed options do **not** invalidate an output: the files are the only state (no
database, no sidecar files, no hashing of inputs on every restart of a large batch); change
the output folder or pass ``overwrite`` to redo a batch with other settings.

A temporary file survives only an outright kill; :func:`remove_partials` deletes the ones of
the batch's outputs before a run. :class:`BatchLock` keeps two batches from writing into one
folder at the same time (which would let one delete the other's temporaries).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from ..errors import InputError
from ..io.files import temporary_target

__all__ = ["LOCK_NAME", "BatchLock", "is_complete", "remove_partials"]

#: The lock file of a batch, in its output folder.
LOCK_NAME = ".photostyle-batch.lock"


def is_complete(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a finished output: a regular file that is not empty (module
    docstring)."""
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return os.path.isfile(path) and stat.st_size > 0


def remove_partials(outputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Delete what killed runs left of ``outputs``: the temporary files of
    :func:`~photostyle.io.files.atomic_write` for exactly these names (one listing per folder;
    nothing else is touched). Returns the files deleted."""
    names: dict[Path, set[str]] = defaultdict(set)
    for out in outputs:
        out = Path(out)
        names[out.parent].add(out.name)
    removed = []
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and temporary_target(entry.name) in wanted \
                    and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
    return removed


class BatchLock:
    """Hold ``folder/.photostyle-batch.lock`` (an exclusive ``flock``) while a batch writes
    there; a second batch on the same folder stops with a one-line error. Released when the
    process ends, however it ends. Without ``fcntl`` (Windows) there is no lock.

    Raises
    ------
    InputError
        Another process holds the lock.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> BatchLock:
        try:
            import fcntl
        except ImportError:  # no flock on this platform
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(f"another photostyle batch is writing to {self.path.parent}; "
                             "wait for it to finish or choose another output folder") from None
        self.fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None
