"""The ``photostyle`` command: one module per subcommand.

``photostyle run`` (:mod:`.run`, the default: ``photostyle CONTENT STYLE -o OUT`` runs it),
``photostyle batch`` (:mod:`.batch`), ``photostyle train`` (:mod:`.train`: a look, applied with
``run --model`` and ``batch --model``), ``photostyle eval`` (:mod:`.eval`) and ``photostyle ui``
(:mod:`.ui`, the browser editor). Building the parser imports no torch, so ``--help`` and the
weight-free method start fast; each subcommand imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from . import batch as batch_command
from . import eval as eval_command
from . import run as run_command
from . import train as train_command
from . import ui as ui_command

__all__ = ["COMMANDS", "Parser", "attach_negative_values", "build_parser", "main"]

#: The subcommands, in the order ``--help`` lists them.
COMMANDS = (run_command, batch_command, train_command, eval_command, ui_command)

#: What ``photostyle ARG …`` runs when ARG is not a subcommand (a file, or an option of it).
DEFAULT_COMMAND = run_command.NAME


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``PROG: error: …; see 'PROG --help'``,
    exit status 2) instead of a usage block and a line; subcommands' parsers are of this
    class too."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


#: A value that starts like an option but is a number or a list of them (``-1``, ``-1,2``,
#: ``-.5``): argparse takes ``-1,2`` for an unknown option.
_NEGATIVE = re.compile(r"-\.?\d")


def attach_negative_values(argv: list[str]) -> list[str]:
    """``--opt -1,2`` written as ``--opt=-1,2``, so that a negative value reaches the
    option's own check (which says what is expected) instead of argparse's "expected one
    argument"."""
    out: list[str] = []
    for arg in argv:
        previous = out[-1] if out else ""
        if _NEGATIVE.match(arg) and previous.startswith("--") and "=" not in previous \
                and previous != "--":
            out[-1] = f"{previous}={arg}"
        else:
            out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``photostyle`` command and its subcommands (no side effects)."""
    from .. import __version__

    parser = Parser(
        prog="photostyle",
        description="Photorealistic style transfer (Luan et al., Deep Photo Style Transfer) "
                    "and neural style (Gatys et al.). 'photostyle CONTENT STYLE -o OUT' is "
                    "'photostyle run CONTENT STYLE -o OUT'.",
        epilog="Each command has its own --help, e.g. 'photostyle run --help'.")
    parser.add_argument("--version", action="version", version=f"photostyle {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def _with_command(argv: list[str]) -> list[str]:
    """``argv`` with the default command inserted when the first argument is not a command
    (a file, or an option of ``run``), so ``photostyle C S -o O`` keeps working."""
    names = {module.NAME for module in COMMANDS}
    if not argv or argv[0] in names or argv[0] in ("-h", "--help", "--version"):
        return argv
    return [DEFAULT_COMMAND, *argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``photostyle`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(attach_negative_values(_with_command(argv)))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)
