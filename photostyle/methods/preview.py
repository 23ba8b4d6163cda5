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

from ..config import Config
from ..errors import InputError
from ..io.images import read_image
from .base import Output, Prepared, Runner, Segmentation, Task, task_masks

__all__ = ["PreviewRunner"]


def _read_fixed(path: Path) -> np.ndarray:
    """:func:`read_image`, read-only (it is shared between tasks)."""
    image = read_image(path)
    image.flags.writeable = False
    return image


class PreviewRunner(Runner):
    """Regional colour transfer + local-affine post-process, no network
    (:func:`photostyle.classic.preview`); one style photo per task."""

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
        content = read_image(task.content)
        style = self.cached(task.styles[0], _read_fixed)
        masks, labels = task_masks(task, self.segmentation, content, [style], seed=config.seed,
                                   cache=self.cache)
        if callback is not None:
            callback(Prepared(task, config, content, style, masks, labels))
        start = time.perf_counter()
        image = preview(content, style, None if masks is None else masks.content_labels,
                        None if labels is None else labels[0], config=config)
        return Output(image, content, style, masks, labels, time.perf_counter() - start)
