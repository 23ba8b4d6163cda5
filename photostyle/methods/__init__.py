"""The methods as *runners*: built once (weights, network, a trained look; style photos are
decoded once and kept), then applied to one task after another. ``photostyle run`` runs one
task, ``photostyle batch`` runs many with one runner per worker.

- :mod:`.base`: :class:`~.base.Task` (the files of a transfer), :class:`~.base.Output`,
  :class:`~.base.Runner`, the masks of a task;
- :mod:`.preview`: the weight-free ``--quality preview`` (numpy, no torch);
- :mod:`.neural`: the optimization (torch);
- :mod:`.look`: a trained feed-forward look, photos stacked into batches (torch).

:data:`METHODS` is the registry: adding a method is one entry (its runner class) and, when
settings choose it, one line in :func:`method_of`. Importing this package imports no torch;
a runner's module is imported when it is built.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

from ..config import PREVIEW, Config
from .base import Output, Runner, Segmentation, Task

__all__ = ["METHODS", "Output", "Runner", "RunnerSpec", "Segmentation", "Task", "method_of",
           "runner_class"]

#: Method name → ``"module:Class"`` of its runner (imported on use).
METHODS: dict[str, str] = {
    "preview": "photostyle.methods.preview:PreviewRunner",
    "neural": "photostyle.methods.neural:NeuralRunner",
    "look": "photostyle.methods.look:LookRunner",
}


def method_of(config: Config, look: Any = None) -> str:
    """The method that runs ``config``: ``"look"`` with a trained look, ``"preview"`` for
    ``quality="preview"``, else ``"neural"``."""
    if look is not None:
        return "look"
    return "preview" if config.quality == PREVIEW else "neural"


def runner_class(name: str) -> type[Runner]:
    """The runner class of method ``name`` (its module imported now)."""
    try:
        module, _, attribute = METHODS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown method {name!r}; one of {', '.join(METHODS)}") from None
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class RunnerSpec:
    """How to build a runner; small and picklable, so it can be sent to worker processes and
    Ray actors, each of which builds its own runner once.

    Attributes
    ----------
    config : Config
        The settings (and, with :func:`method_of`, the method).
    segmentation : Segmentation
        Automatic masks for tasks without drawn ones.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (weight-free methods ignore it).
    look : str or module or None
        A trained look's file (or the loaded look, a picklable module): the ``"look"``
        method.
    look_size : int or None
        Long side the look works at (``None``: each photo's own size).
    batch_size : int
        Photos per forward pass of a look.
    """

    config: Config
    segmentation: Segmentation = Segmentation()
    device: str = "auto"
    look: Any = None
    look_size: int | None = None
    batch_size: int = 1

    @property
    def method(self) -> str:
        """The method's name (:func:`method_of`)."""
        return method_of(self.config, self.look)

    def replace(self, **changes: object) -> RunnerSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def build(self) -> Runner:
        """The runner (loads what the method needs: weights, network, look).

        Raises
        ------
        InputError, WeightsError
            Bad settings; weights or look file unavailable.
        """
        cls = runner_class(self.method)
        if self.method == "look":
            return cls(self.look, self.config, device=self.device, batch_size=self.batch_size,
                       size=self.look_size)
        return cls(self.config, segmentation=self.segmentation, device=self.device)
