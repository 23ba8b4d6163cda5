"""Plumbing shared by the command-line entry points: warnings and errors on stderr, the
``--device`` choice."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from segment import MaskError

from ..errors import InputError, PhotostyleError

#: Choices of ``--device``.
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str) -> Any:
    """The ``torch.device`` of a ``--device`` choice (``auto``: CUDA when available); imports
    torch."""
    import torch

    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(choice)


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
