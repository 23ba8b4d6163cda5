"""The trained-look runner: a feed-forward network applied to many photos, several photos of
one size stacked into one batch (one forward pass per batch); ``photostyle run --model`` and
``photostyle batch --model`` both go through it.

A look is a callable module mapping a ``(B,3,H,W)`` batch in [0, 1] to ``(B,3,H,W)`` in
[0, 1], device and dtype following the input: :class:`photostyle.looks.look.Look`
(``photostyle.Look.load(path)``, trained by ``photostyle train``). The runner takes any such
module, so it is also tested with a small one. ``look.arch`` sets the working size
(``"bilateral"``: the photo's own size unless a size is given; ``"johnson"``: ``Config.size``);
the local-affine post-process runs per photo when ``Config.post`` is True, with the ``post_*``
settings (:func:`photostyle.looks.look.post_process`, as ``Look.forward(post=True)``). Importing
this module imports neither the optimization nor the VGG network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any

import torch
from torch import Tensor

from ..config import Config
from ..errors import InputError
from ..io.images import fit_long_side
from ..io.tensors import load_image, resize
from ..looks.look import Look, post_process
from .base import LOOK_BATCH_SIZE, Output, Runner, Segmentation, Task, resolve_device

__all__ = ["LookRunner"]


class LookRunner(Runner):
    """Apply a trained look to tasks, :attr:`batch_size` photos of one size per forward pass.

    Parameters
    ----------
    look : module or str or PathLike
        A callable ``(B,3,H,W) → (B,3,H,W)`` module, or the file of one
        (:meth:`photostyle.looks.look.Look.load`).
    config : Config
        ``post=True`` adds the local-affine post-process (off otherwise).
    device : str
        Where the look runs (``"auto"``: CUDA when available); the look is moved there once.
    batch_size : int
        Photos stacked into one forward pass (photos of different sizes go in different
        batches).
    size : int or None
        Long side the photos are resized to first; ``None``: :meth:`working_size`'s rule.
    """

    name = "look"

    def __init__(self, look: Any, config: Config, *, device: str = "auto",
                 batch_size: int = LOOK_BATCH_SIZE, size: int | None = None) -> None:
        super().__init__(config, device=device)
        if batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {batch_size}")
        self.torch_device = resolve_device(device)
        if isinstance(look, (str, PathLike)):
            look = Look.load(look)
        self.look = look.to(self.torch_device) if hasattr(look, "to") else look
        if hasattr(self.look, "eval"):
            self.look.eval()
        self.batch_size = batch_size
        self.size = size

    @classmethod
    def check(cls, task: Task, config: Config, segmentation: Segmentation) -> None:
        if task.content_mask is not None:
            raise InputError(f"{task.content}: a trained look takes no masks (its style is "
                             "the whole photo's); drop the mask columns or options")

    def working_size(self, config: Config) -> int | None:
        """The long side photos are resized to: ``size`` when given, else ``Config.size`` for
        a look that depends on the resolution (a Johnson network), else None (the photo's
        own size: a bilateral look works at any resolution)."""
        if self.size is not None:
            return self.size
        return config.size if getattr(self.look, "arch", None) == "johnson" else None

    def _load(self, task: Task, config: Config) -> Tensor:
        self.check(task, config, self.segmentation)
        size = self.working_size(config)
        content = load_image(task.content, device=self.torch_device, long_side=size,
                             max_pixels=config.max_pixels)
        if size is not None:
            content = resize(content, fit_long_side(*content.shape[-2:], size))
        return content

    def _finish(self, image: Tensor, content: Tensor, config: Config) -> Tensor:
        image = image.clamp(0, 1)
        return post_process(image, content, config) if config.post else image

    def __call__(self, task: Task, *, config: Config | None = None,
                 callback: Callable[[Any], None] | None = None) -> Output:
        [result] = self.run_many([task], configs=[config])
        if isinstance(result, Exception):
            raise result
        return result

    def run_many(self, tasks: Sequence[Task], *, configs: Sequence[Config | None] | None = None,
                 callback: Callable[[Any], None] | None = None) -> list[Output | Exception]:
        """Read every task's photo, stack photos of one size ``batch_size`` at a time, one
        forward pass per stack. A photo that cannot be read fails alone; a stack whose forward
        pass fails (out of memory) is retried one photo at a time, so only what fails alone
        is reported as failed."""
        configs = list(configs) if configs is not None else [None] * len(tasks)
        results: list[Output | Exception | None] = [None] * len(tasks)
        contents: dict[int, Tensor] = {}
        for i, (task, config) in enumerate(zip(tasks, configs, strict=True)):
            try:
                contents[i] = self._load(task, config or self.config)
            except Exception as exc:  # this photo only
                results[i] = exc
        by_size: dict[tuple[int, ...], list[int]] = {}
        for i, content in contents.items():
            by_size.setdefault(tuple(content.shape), []).append(i)
        for members in by_size.values():
            for first in range(0, len(members), self.batch_size):
                chunk = members[first: first + self.batch_size]
                for i, output in self._forward(chunk, contents, tasks, configs):
                    results[i] = output
        return results

    def _forward(self, chunk: list[int], contents: dict[int, Tensor], tasks: Sequence[Task],
                 configs: Sequence[Config | None]) -> list[tuple[int, Output | Exception]]:
        start = time.perf_counter()
        try:
            with torch.inference_mode():
                images = self.look(torch.cat([contents[i] for i in chunk]))
                if tuple(images.shape) != (len(chunk), *contents[chunk[0]].shape[1:]):
                    raise InputError(f"the look returned {tuple(images.shape)} for a batch "
                                     f"of {len(chunk)} photos "
                                     f"{tuple(contents[chunk[0]].shape[1:])}")
                finished = [self._finish(images[j: j + 1], contents[i],
                                         configs[i] or self.config)
                            for j, i in enumerate(chunk)]
                if self.torch_device.type == "cuda":  # the forward pass's own time
                    torch.cuda.synchronize(self.torch_device)
        except Exception as exc:
            if len(chunk) == 1:
                return [(chunk[0], exc)]
            return [pair for i in chunk for pair in self._forward([i], contents, tasks,
                                                                   configs)]
        each = (time.perf_counter() - start) / len(chunk)
        return [(i, Output(image, contents[i], None, None, None, each))
                for i, image in zip(chunk, finished, strict=True)]
