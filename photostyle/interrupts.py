"""Interrupts: Ctrl-C (SIGINT) and SIGTERM handled alike, and writes that a signal cannot cut.

* :func:`signals_as_interrupts`: while a command runs, SIGTERM raises :class:`Terminated` (a
  :class:`KeyboardInterrupt`) as Ctrl-C raises :class:`KeyboardInterrupt`, so ``kill PID`` ends
  a run the way Ctrl-C does: the best result so far is kept, one line is printed, and the exit
  status is 128 + the signal's number (:func:`interrupt_status`: 130 for SIGINT, 143 for
  SIGTERM).
* :func:`deferred_signals`: both signals are held back while a file is written and delivered
  once it is complete (or removed), so a second Ctrl-C during a save cannot leave a partial or
  temporary file behind (:func:`photostyle.io.files.atomic_write` uses it).

Signal handlers belong to the main thread: in any other thread both context managers change
nothing. The previous handlers are always restored. Standard library only (no numpy, no torch):
the command line installs these before its heavy imports.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["SIGNALS", "Terminated", "deferred_signals", "interrupt_status", "interrupt_word",
           "signals_as_interrupts"]

#: The signals that end a run and are held back during a write.
SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise :class:`KeyboardInterrupt`
    (under :func:`signals_as_interrupts`)."""


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGTERM:
        raise Terminated("terminated (SIGTERM)")
    raise KeyboardInterrupt


def _install(handler) -> dict[signal.Signals, object]:
    previous = {}
    for sig in SIGNALS:
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    return previous


def _restore(previous: dict[signal.Signals, object]) -> None:
    for sig, handler in previous.items():
        # None: a handler not installed from Python; the default is the closest.
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGINT raises :class:`KeyboardInterrupt` and SIGTERM
    :class:`Terminated` (main thread only; the previous handlers are restored after)."""
    if not _in_main_thread():
        yield
        return
    previous = _install(_raise_interrupt)
    try:
        yield
    finally:
        _restore(previous)


@contextmanager
def deferred_signals(redeliver: bool = True) -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM back within the block.

    Yields the list of signals that arrived meanwhile. On leaving, the previous handlers are
    restored and, if ``redeliver``, the first held signal is raised again with them in place
    (so a Ctrl-C during a write interrupts right after it). ``redeliver=False`` drops them:
    for a last write made while already stopping (the process exits next).
    """
    if not _in_main_thread():
        yield []
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = _install(hold)
    try:
        yield pending
    finally:
        _restore(previous)
        if pending and redeliver:
            signal.raise_signal(pending[0])


def interrupt_status(exc: BaseException) -> int:
    """The exit status of a run stopped by ``exc``: 143 (128 + SIGTERM) when a
    :class:`Terminated` is ``exc`` or its cause, else 130 (128 + SIGINT)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Terminated):
            return 128 + signal.SIGTERM
        seen = seen.__cause__ or seen.__context__
    return 128 + signal.SIGINT


def interrupt_word(status: int) -> str:
    """How a line names the stop of exit status ``status``: ``"terminated (SIGTERM)"``
    (143) or ``"interrupted"``."""
    return "terminated (SIGTERM)" if status == 128 + signal.SIGTERM else "interrupted"
