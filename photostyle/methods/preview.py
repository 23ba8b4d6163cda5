"""The weight-free runner: ``--quality preview`` (:func:`photostyle.classic.preview`).

numpy, scipy and OpenCV only: a batch of previews never imports torch, in its main process or
in its workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..classic.memory import check_preview_memory
from ..config import Config
from ..errors import InputError
from ..io.images import read_image
from .base import (
    Output,
    Prepared,
    Runner,
    Segmentation,
    Task,
    parse_task_masks,
    task_masks,
)

__all__ = ["PreviewRunner"]


def _read_fixed(path: Path, long_side: int | None, max_pixels: int | None) -> np.ndarray:
    """:func:`read_image`, read-only (it is shared between tasks)."""
    image = read_image(path, long_side=long_side, max_pixels=max_pixels)
    image.flags.writeable = False
    return image


def _label_count(parsed: tuple | None, segmentation: Segmentation) -> int:
    """Labels of a task for the memory estimate: the drawn masks', or the most automatic
    masks make."""
    if parsed is not None:
        return max(1, len(parsed[0].colors))
    if segmentation.method != "none":
        from segment.cluster import MAX_K

        return segmentation.k or MAX_K
    return 1


class PreviewRunner(Runner):
    """Regional colour transfer + local-affine post-process, no network
    (:func:`photostyle.classic.preview`); one style photo per task.

    Before anything is decoded: the headers (:meth:`inspect`), the drawn masks
    (:func:`~photostyle.methods.base.parse_task_masks`) and the memory estimate
    (:func:`photostyle.classic.memory.check_preview_memory`: refused, naming a ``--size``
    that fits, when it exceeds ``Config.memory_limit`` or else the memory available). Photos
    much larger than ``Config.size`` are decoded at a reduced scale.
    """

    name = "preview"

    @classmethod
    def check(cls, task: Task, config: Config, segmentation: Segmentation) -> None:
        super().check(task, config, segmentation)
        if len(task.styles) > 1:
            raise InputError("--quality preview takes one style photo; give one, or use "
                             "--quality draft to blend several")

    def __call__(self, task: Task, *, config: Config | None = None,
                 callback: Callable[[Any], None] | None = None) -> Output:
        from ..classic.preview import preview

        config = config or self.config
        self.check(task, config, self.segmentation)
        info = self.inspect(task, config)
        parsed = parse_task_masks(task, info, cache=self.cache)
        check_preview_memory(info.content, info.styles[0], config.size,
                             _label_count(parsed, self.segmentation), config.memory_limit)
        content = read_image(task.content, long_side=info.content_side,
                             max_pixels=config.max_pixels)
        style = self.cached(task.styles[0],
                            lambda path: _read_fixed(path, info.style_side, config.max_pixels),
                            (info.style_side, config.max_pixels))
        masks, labels = task_masks(task, self.segmentation, content, [style], parsed,
                                   seed=config.seed)
        if callback is not None:
            callback(Prepared(task, config, content, style, masks, labels))
        start = time.perf_counter()
        image = preview(content, style, None if masks is None else masks.content_labels,
                        None if labels is None else labels[0], config=config)
        return Output(image, content, style, masks, labels, time.perf_counter() - start)
