"""Command-line options that are fields of :class:`photostyle.config.Config`.

Each such option stores under the field's name and has no argparse default: an option not
given leaves the field to Config's own default (each default is written once, in Config), and
every check of a value is Config's. The help text shows Config's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from typing import Any

from ..config import Config
from ..errors import InputError

__all__ = ["FIELDS", "ConfigOptions", "field_default", "memory_budget", "memory_fields", "steps",
           "weights_list"]

#: Names of Config's fields.
FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(Config))

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}


def field_default(name: str) -> Any:
    """Config's default of field ``name``."""
    return _DEFAULTS[name]


class ConfigOptions:
    """The options of one parser that are Config fields: adds them, builds the Config of the
    options given, and names the option (not the field) in Config's error messages.

    Stored in the parsed arguments as ``args.config_options`` (``parser.set_defaults``).
    """

    def __init__(self) -> None:
        self.flags: dict[str, str] = {}
        self.actions: dict[str, argparse.Action] = {}

    def add(self, group: argparse._ArgumentGroup | argparse.ArgumentParser, *flags: str,
            field: str, help: str, show_default: bool = True, **options: Any) -> None:
        """Add an option storing into Config field ``field`` (no argparse default: an absent
        option leaves the field to Config). ``help`` gets ``(default: …)`` from Config unless
        ``show_default`` is False."""
        if field not in FIELDS:
            raise ValueError(f"{field!r} is not a Config field")
        if show_default:
            default = field_default(field)
            help = f"{help} (default: {default})" if help else f"default: {default}"
        action = group.add_argument(*flags, dest=field, default=argparse.SUPPRESS, help=help,
                                    **options)
        self.flags[field] = flags[0]
        for flag in action.option_strings:
            self.actions[flag] = action

    def parse_text(self, option: str, text: str) -> tuple[str, Any]:
        """The Config field and value of an option written as text, as a manifest's per-row
        option: ``("size", "256")`` → ``("size", 256)``, converted and checked as on the
        command line. A flag (``original-colors``, ``post``, ``no-post`` …) takes
        ``1/0``, ``true/false``, ``yes/no`` or ``on/off``; off is the field's default.

        Raises
        ------
        InputError
            Not one of these options, or a value the option refuses.
        """
        flag = "--" + option.strip().lstrip("-")
        action = self.actions.get(flag)
        if action is None:
            names = ", ".join(sorted({f.lstrip("-") for f in self.actions}))
            raise InputError(f"{option!r} is not an option of the method's settings; use one "
                             f"of {names}")
        if action.nargs == 0:  # a flag
            truth = _truth(flag, text)
            if isinstance(action, argparse.BooleanOptionalAction):
                return action.dest, truth != flag.startswith("--no-")
            return action.dest, action.const if truth else field_default(action.dest)
        try:
            value = action.type(text) if action.type is not None else text
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            raise InputError(f"{flag} {text!r}: {exc}") from None
        if action.choices is not None and value not in action.choices:
            raise InputError(f"{flag} {text!r}: choose one of {', '.join(action.choices)}")
        return action.dest, value

    def config(self, args: argparse.Namespace, defaults: dict[str, Any] | None = None,
               **extra: Any) -> Config:
        """The Config of ``defaults`` (e.g. a recipe's fields), overridden by the options given
        (every Config field found in ``args``), overridden by ``extra``.

        Raises
        ------
        InputError
            A value Config refuses, the message naming the option.
        """
        given = dict(defaults or {})
        given.update({name: value for name, value in vars(args).items() if name in FIELDS})
        given.update(extra)
        try:
            return Config(**given)
        except InputError as exc:
            message = str(exc)
            for field, flag in self.flags.items():
                message = re.sub(rf"(?<![\w-]){field}(?![\w-])", flag, message)
            raise InputError(message) from None


def _truth(flag: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{flag} {text!r}: a flag takes 1 or 0 (true/false, yes/no, on/off)")


def steps(text: str) -> tuple[int, ...]:
    """``--iters`` values: ``N`` or ``N1,N2`` (counts >= 0)."""
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or N1,N2 such as 500,500"
                                         ) from None
    if len(values) not in (1, 2) or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or N1,N2 (counts >= 0) such as "
                                         "500,500")
    return values


def weights_list(text: str) -> tuple[float, ...]:
    """``--style-blend-weights`` values: numbers >= 0 with a positive sum."""
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers such as 3,7") from None
    if min(values) < 0 or not sum(values) > 0 or not all(map(math.isfinite, values)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected weights >= 0 with a positive sum")
    return values


def memory_budget(text: str) -> float | str:
    """``--max-memory`` values: GiB > 0 or ``auto``."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected GiB such as 6 or 'auto'") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of GiB")
    return value


def memory_fields(budget: float | str | None) -> dict[str, Any]:
    """The Config fields of ``--max-memory``: a budget in bytes (``auto``: what is available)
    and ``fit_memory``."""
    if budget is None:
        return {}
    if budget != "auto" and not isinstance(budget, float):
        raise InputError(f"--max-memory {budget!r}: expected GiB or 'auto'")
    return {"fit_memory": True,
            "memory_limit": None if budget == "auto" else int(float(budget) * 2**30)}
