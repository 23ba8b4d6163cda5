"""The neural runner: Luan et al.'s photorealistic optimization and Gatys et al.'s artistic
mode (:func:`photostyle.neural.transfer.transfer`), with the VGG-19 network built once and
reused by every task."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config import INITS, Config
from ..errors import InputError
from ..io.images import image_info
from ..io.tensors import load_image
from ..neural.schedule import plan_levels
from ..neural.transfer import transfer
from ..neural.vgg import VGG19Features, build_network, deepest
from .base import (
    Output,
    Prepared,
    Runner,
    Segmentation,
    Task,
    TaskInfo,
    inspect_task,
    parse_task_masks,
    resolve_device,
    task_masks,
)

__all__ = ["NeuralRunner", "network"]


def network(config: Config) -> VGG19Features:
    """The VGG-19 feature network of ``config`` (weights, pooling, deepest layer used).

    Raises
    ------
    WeightsError
        The weights cannot be found or loaded.
    """
    return build_network(config)


def _network_key(config: Config) -> tuple[Any, ...]:
    seed = config.seed if config.vgg_weights == "random" else None
    return (config.vgg_weights, config.network_format, config.loss_form, config.pooling,
            deepest(config.feature_layers), seed)


class NeuralRunner(Runner):
    """The optimization (:func:`photostyle.neural.transfer.transfer`) with its network built
    when the runner is (missing weights fail here, once) and kept for every task; tasks whose
    settings need another network (pooling, deepest layer, the seed of random weights) get
    theirs built once too.

    ``callback`` receives a :class:`~photostyle.methods.base.Prepared` and then the transfer's
    :class:`~photostyle.neural.transfer.StepInfo` events. Ctrl-C (and SIGTERM under
    :func:`photostyle.interrupts.signals_as_interrupts`) raises
    :class:`~photostyle.neural.transfer.TransferInterrupted` and a loss that becomes NaN or
    infinite :class:`~photostyle.neural.transfer.TransferDiverged`, each with the best image
    so far. Headers and drawn masks are checked before anything is decoded (:meth:`inspect`,
    :func:`~photostyle.methods.base.parse_task_masks`); photos much larger than the working
    size are decoded at a reduced scale.
    """

    name = "neural"

    def __init__(self, config: Config, *, segmentation: Segmentation | None = None,
                 device: str = "auto") -> None:
        super().__init__(config, segmentation=segmentation, device=device)
        self.torch_device = resolve_device(device)
        self.networks: dict[tuple[Any, ...], VGG19Features] = {}
        self.network(config)

    def network(self, config: Config) -> VGG19Features:
        """The network of ``config``, built on first use."""
        key = _network_key(config)
        if key not in self.networks:
            self.networks[key] = network(config)
        return self.networks[key]

    @classmethod
    def check(cls, task: Task, config: Config, segmentation: Segmentation) -> None:
        super().check(task, config, segmentation)
        if len(task.styles) > 1 and segmentation.method != "none" \
                and task.content_mask is None:
            raise InputError(f"--seg {segmentation.method} takes one style photo; draw "
                             "masks for each (a content mask and one style mask per style) or "
                             "give one style")

    @classmethod
    def inspect(cls, task: Task, config: Config) -> TaskInfo:
        """The task's headers (:func:`~photostyle.methods.base.inspect_task`) with the working
        sizes checked against VGG-19's smallest, the style photos' at ``Config.style_scale``;
        and the header of an ``init`` image file."""
        info = inspect_task(task, config, style_scale=config.style_scale, network=True)
        if config.start not in INITS:
            image_info(config.start, max_pixels=config.max_pixels)
        return info

    def __call__(self, task: Task, *, config: Config | None = None,
                 callback: Callable[[Any], None] | None = None) -> Output:
        config = config or self.config
        self.check(task, config, self.segmentation)
        info = self.inspect(task, config)
        parsed = parse_task_masks(task, info, cache=self.cache)
        device = self.torch_device
        content = load_image(task.content, device=device, long_side=info.content_side,
                             max_pixels=config.max_pixels)

        def read_style(path: Any) -> Any:
            return load_image(path, long_side=info.style_side, max_pixels=config.max_pixels)

        # Kept on the host (device memory is the optimization's), copied over per task.
        styles = [self.cached(path, read_style, (info.style_side, config.max_pixels)).to(device)
                  for path in task.styles]
        model = self.network(config)
        features = None
        if config.vgg_weights != "random":  # trained features help the clustering
            model.to(device=content.device, dtype=content.dtype)

            def features(image: Any) -> Any:
                return model(image, ["relu4_1"])["relu4_1"]

        masks, labels = task_masks(task, self.segmentation, content, styles, parsed,
                                   features=features, seed=config.seed)
        several = len(styles) > 1
        if callback is not None:
            levels = plan_levels(config, content.shape[-2:], [s.shape[-2:] for s in styles])
            callback(Prepared(task, config, content, styles[0], masks, labels, levels))
        start = time.perf_counter()
        result = transfer(content, styles if several else styles[0],
                          None if masks is None else masks.content_labels,
                          None if labels is None else (labels if several else labels[0]),
                          config=config, callback=callback, model=model)
        return Output(result.image, content, styles[0], masks, labels,
                      time.perf_counter() - start, details=result, network=model)
