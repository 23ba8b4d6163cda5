"""Plumbing shared by the command-line entry points: warnings and errors on stderr."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable

from segment import MaskError

from ..errors import PhotostyleError


def run_guarded(prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                interrupted: str = "interrupted") -> int:
    """Call ``run(args)`` with warnings shown as ``PROG: warning: …`` lines and user errors
    turned into one ``PROG: error: …`` line and exit status 2 (130 on Ctrl-C)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        try:
            return run(args)
        except (PhotostyleError, MaskError) as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{prog}: {interrupted}", file=sys.stderr)
            return 130
