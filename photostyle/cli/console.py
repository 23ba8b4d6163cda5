"""Plumbing shared by the command-line entry points: warnings, errors and interrupts on stderr.

:func:`run_guarded` runs a subcommand so that whatever goes wrong ends in one line on stderr
and an exit status, never a traceback:

* a user error (:class:`~photostyle.errors.PhotostyleError`, a mask error): ``PROG: error: …``,
  exit status 2;
* an operating-system error that escaped (a file that vanished, a device error):
  ``PROG: error: cannot access PATH (reason); fix``, exit status 2 (writes already become
  :class:`~photostyle.errors.OutputError` in :func:`photostyle.io.files.atomic_write`);
* running out of memory: one line naming ``--size`` and ``--max-memory``, exit status 2;
* Ctrl-C and SIGTERM (:func:`photostyle.interrupts.signals_as_interrupts`): one line, exit
  status 130 or 143.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable

from segment import MaskError

from ..errors import PhotostyleError
from ..interrupts import interrupt_status, interrupt_word, signals_as_interrupts
from ..io.files import os_error_message

__all__ = ["run_guarded"]


def run_guarded(prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                interrupted: str = "interrupted") -> int:
    """Call ``run(args)`` with warnings shown as ``PROG: warning: …`` lines, SIGTERM handled as
    Ctrl-C, and every error turned into one ``PROG: error: …`` line (module docstring).

    ``interrupted`` is the line printed when an interrupt reaches this level (``run`` itself
    reports the interrupts it handles, such as keeping the best result so far); its word
    "interrupted" becomes "terminated (SIGTERM)" for SIGTERM.
    """

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        try:
            with signals_as_interrupts():
                return run(args)
        except (PhotostyleError, MaskError) as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        except MemoryError:
            print(f"{prog}: error: out of memory; use a smaller --size, or --max-memory GiB to "
                  "work within a budget", file=sys.stderr)
            return 2
        except OSError as exc:
            text = os_error_message(exc.filename, exc, "access") if exc.filename else \
                f"{exc.strerror or exc}"
            print(f"{prog}: error: {text}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            status = interrupt_status(exc)
            print(f"{prog}: {interrupted.replace('interrupted', interrupt_word(status), 1)}",
                  file=sys.stderr)
            return status
