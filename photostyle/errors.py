"""Exceptions raised by photostyle for problems the user can fix.

Every message is one line that names the file (or option) at fault and says how to fix it; the
command line prints it and exits with status 2.
"""

from __future__ import annotations


class PhotostyleError(Exception):
    """Base class for errors caused by the user's input or environment."""


class InputError(PhotostyleError, ValueError):
    """A bad image, mask, option value or output path."""


class WeightsError(PhotostyleError, RuntimeError):
    """Network weights could not be found or loaded."""


class OutputError(PhotostyleError, OSError):
    """A file could not be written (a full disk, a read-only or forbidden folder); the message
    names the file, the reason and the fix. Any previous file of that name is left intact."""


def require_both(first: object, second: object,
                 names: tuple[str, str] = ("a content mask", "a style mask")) -> None:
    """Raise :class:`InputError` unless ``first`` and ``second`` are both given or both None
    (masks come in pairs)."""
    if (first is None) != (second is None):
        raise InputError(f"give both {names[0]} and {names[1]}, or neither")
