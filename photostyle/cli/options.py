"""Command-line options that are fields of :class:`photostyle.config.Config` (or of another
settings dataclass, e.g. :class:`photostyle.looks.options.TrainOptions`).

Each such option stores under the field's name (with the parser's ``prefix``) and has no
argparse default: an option not given leaves the field to the dataclass's own default (each
default is written once, in the dataclass), and every check of a value is the dataclass's. The
help text shows that default.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from typing import Any

from ..config import VGG_FORMATS, WEIGHTS_ENV, Config
from ..errors import InputError

__all__ = ["DEVICES", "ConfigOptions", "add_vgg_options", "memory_budget", "memory_fields",
           "steps", "weights_list"]

#: Choices of ``--device`` (:func:`photostyle.methods.base.resolve_device`).
DEVICES = ("auto", "cpu", "cuda")


class ConfigOptions:
    """The options of one parser that are fields of a settings dataclass (``Config`` by
    default): adds them, builds the dataclass of the options given, and names the option (not
    the field) in the dataclass's error messages.

    Parameters
    ----------
    cls : type
        The frozen dataclass whose fields the options set (its ``__post_init__`` checks them).
    prefix : str
        Prefix of the options' ``dest`` names, so that two dataclasses with a field of the same
        name (``size``) can share one parser.

    Stored in the parsed arguments (``parser.set_defaults``), as ``args.config_options`` for
    ``Config``.
    """

    def __init__(self, cls: type = Config, prefix: str = "") -> None:
        self.cls = cls
        self.prefix = prefix
        self.defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        self.flags: dict[str, str] = {}
        self.actions: dict[str, argparse.Action] = {}

    def add(self, group: argparse._ArgumentGroup | argparse.ArgumentParser, *flags: str,
            field: str, help: str, show_default: bool = True, **options: Any) -> None:
        """Add an option storing into field ``field`` (no argparse default: an absent option
        leaves the field to the dataclass). ``help`` gets ``(default: …)`` from the dataclass
        unless ``show_default`` is False."""
        if field not in self.defaults:
            raise ValueError(f"{field!r} is not a field of {self.cls.__name__}")
        if show_default:
            default = self.defaults[field]
            help = f"{help} (default: {default})" if help else f"default: {default}"
        action = group.add_argument(*flags, dest=self.prefix + field, default=argparse.SUPPRESS,
                                    help=help, **options)
        self.flags[field] = flags[0]
        for flag in action.option_strings:
            self.actions[flag] = action

    def field_of(self, action: argparse.Action) -> str:
        """The field an option of this parser stores into (its ``dest`` without the
        prefix)."""
        return action.dest[len(self.prefix):]

    def parse_text(self, option: str, text: str) -> tuple[str, Any]:
        """The field and value of an option written as text, as a manifest's per-row
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
        field = self.field_of(action)
        if action.nargs == 0:  # a flag
            truth = _truth(flag, text)
            if isinstance(action, argparse.BooleanOptionalAction):
                return field, truth != flag.startswith("--no-")
            return field, action.const if truth else self.defaults[field]
        try:
            value = action.type(text) if action.type is not None else text
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            raise InputError(f"{flag} {text!r}: {exc}") from None
        if action.choices is not None and value not in action.choices:
            raise InputError(f"{flag} {text!r}: choose one of {', '.join(action.choices)}")
        return field, value

    def given(self, args: argparse.Namespace) -> dict[str, Any]:
        """The fields set by this parser's options given on the command line (or set on
        ``args`` under their ``dest``), by field name."""
        values = vars(args)
        return {field: values[self.prefix + field] for field in self.flags
                if self.prefix + field in values}

    def config(self, args: argparse.Namespace, defaults: dict[str, Any] | None = None,
               **extra: Any) -> Any:
        """The dataclass of ``defaults`` (e.g. a recipe's fields), overridden by the options
        given (:meth:`given`), overridden by ``extra``.

        Raises
        ------
        InputError
            A value the dataclass refuses, the message naming the option.
        """
        given = dict(defaults or {})
        given.update(self.given(args))
        given.update(extra)
        try:
            return self.cls(**given)
        except InputError as exc:
            message = str(exc)
            for field, flag in self.flags.items():
                message = re.sub(rf"(?<![\w-]){field}(?![\w-])", flag, message)
            raise InputError(message) from None


def add_vgg_options(group: argparse._ArgumentGroup, options: ConfigOptions, auto: str) -> None:
    """``--vgg-weights`` (resolved by the command: ``$PHOTOSTYLE_VGG_WEIGHTS``, a recipe,
    ``auto``) and ``--vgg-format`` (a Config field); ``auto`` says what ``auto`` does without
    the Caffe weights."""
    group.add_argument("--vgg-weights", default=None, metavar="W",
                       help=f"'caffe' (the paper's network, downloaded once into torch's "
                            f"cache), 'imagenet' (torchvision's), 'random' (untrained, for "
                            f"tests only), a local state dict, or 'auto': caffe if cached or "
                            f"downloadable, else {auto} (default: ${WEIGHTS_ENV}, else auto)")
    options.add(group, "--vgg-format", field="vgg_format", choices=VGG_FORMATS,
                help="input convention of a local state dict: 'caffe' (BGR, 0-255 minus the "
                     "mean) or 'torchvision' (RGB, ImageNet mean and std) (if not given: caffe "
                     "for a file named vgg19-d01eb7cb.pth, else torchvision)",
                show_default=False)


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
