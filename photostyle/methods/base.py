"""What every method's runner shares: the task (files in), the output, the masks of a task and
a small cache of decoded style images and masks.

numpy only (no torch): the weight-free runner and the batch's main process use this module.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..config import Config
from ..errors import InputError, require_both

if TYPE_CHECKING:
    from segment import AlignedMasks, ParsedMask

__all__ = ["LOOK_BATCH_SIZE", "SEGMENTATIONS", "Output", "Prepared", "Runner", "Segmentation",
           "Task", "image_hw", "task_masks"]

#: Automatic masks (``--seg``): ``none`` or one of :data:`segment.METHODS`.
SEGMENTATIONS = ("none", "auto", "cluster")

#: Photos a trained look stacks into one forward pass (``--batch-size``).
LOOK_BATCH_SIZE = 8

#: Decoded style images (and parsed style masks) a runner keeps, the least recently used
#: dropped first (a 12-megapixel photo takes ~290 MB as float64).
STYLE_CACHE_SIZE = 4


@dataclass(frozen=True)
class Task:
    """The files of one transfer.

    Attributes
    ----------
    content : Path
        Content photo.
    styles : tuple of Path
        One style photo, or several (blended by the neural method); none for a trained look
        (its style is in its weights).
    content_mask : Path or None
        Colour-coded mask of the content (DPST colour code).
    style_masks : tuple of Path or None
        One colour-coded mask per style photo; given with ``content_mask`` or not at all.
    """

    content: Path
    styles: tuple[Path, ...]
    content_mask: Path | None = None
    style_masks: tuple[Path, ...] | None = None

    def __post_init__(self) -> None:
        require_both(self.content_mask, self.style_masks, ("a content mask", "style masks"))
        if self.style_masks is not None and len(self.style_masks) != len(self.styles):
            raise InputError(f"{len(self.style_masks)} style masks for {len(self.styles)} style "
                             "photos; give one mask per style photo, in the same order")

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every file the task reads."""
        masks = () if self.content_mask is None else (self.content_mask, *self.style_masks)
        return (self.content, *self.styles, *masks)


@dataclass(frozen=True)
class Segmentation:
    """Automatic masks for tasks without drawn ones (``--seg``, ``--seg-model``, ``--seg-k``).

    Attributes
    ----------
    method : {"none", "auto", "cluster"}
        ``"auto"``: semantic segmentation (ADE20K weights; falls back to ``"cluster"``),
        ``"cluster"``: co-segmentation (no weights). Drawn masks always win.
    model : str or None
        ``"auto"``: Hugging Face Hub id or local folder of the checkpoint (``None``: segment's
        default).
    k : int or None
        ``"cluster"``: number of clusters (``None``: chosen automatically).
    """

    method: Literal["none", "auto", "cluster"] = "none"
    model: str | None = None
    k: int | None = None

    def __post_init__(self) -> None:
        if self.method not in SEGMENTATIONS:
            raise InputError(f"--seg {self.method!r} must be one of {', '.join(SEGMENTATIONS)}")
        if self.k is not None:
            from segment.cluster import MAX_K

            if not 1 <= self.k <= MAX_K:
                raise InputError(f"--seg-k must be in 1..{MAX_K}, got {self.k}")


@dataclass
class Output:
    """What a runner returns for one task.

    Attributes
    ----------
    image : np.ndarray or Tensor
        The result in [0, 1]: an ``(h,w,3)`` array (weight-free methods) or a ``(1,3,h,w)``
        tensor (networks), at the working size; :func:`photostyle.io.images.save_image` takes
        either.
    content : np.ndarray or Tensor
        The content as read (full size, same kind as ``image``).
    style : np.ndarray or Tensor or None
        The first style photo as read (None for a trained look).
    masks : AlignedMasks or None
        The masks in use (drawn or automatic), at the images' sizes.
    style_labels : list of np.ndarray or None
        Each style photo's label map on ``masks``' label set.
    seconds : float
        Wall time of the method proper (reading the files excluded).
    details : object
        The method's own record (the neural method's :class:`~photostyle.TransferResult`), or
        None.
    network : object
        The feature network the method used (for VGG metrics), or None.
    """

    image: Any
    content: Any
    style: Any
    masks: AlignedMasks | None
    style_labels: list[np.ndarray] | None
    seconds: float
    details: Any = None
    network: Any = None

    @property
    def content_labels(self) -> np.ndarray | None:
        """The content's label map, or None without masks."""
        return None if self.masks is None else self.masks.content_labels


@dataclass(frozen=True)
class Prepared:
    """Sent to a runner's callback once a task's photos are read and its masks made, before the
    method runs (so masks can be saved even if the run is then interrupted).

    Attributes
    ----------
    task : Task
    config : Config
        The task's settings.
    content, style : np.ndarray or Tensor
        The content and the first style photo as read (arrays or tensors, as the method
        works); ``style`` is None for a trained look.
    masks : AlignedMasks or None
        The masks in use.
    style_labels : list of np.ndarray or None
        Each style photo's label map.
    levels : tuple of Level or None
        The neural method's pyramid, coarsest first (before any shrinking to fit
        ``Config.memory_limit``); None for the other methods.
    """

    task: Task
    config: Config
    content: Any = field(repr=False)
    style: Any = field(repr=False)
    masks: AlignedMasks | None = field(repr=False)
    style_labels: list[np.ndarray] | None = field(repr=False)
    levels: tuple[Any, ...] | None = None


def image_hw(image: Any) -> tuple[int, int]:
    """``(H, W)`` of an ``(H,W,3)`` array or a ``(1,3,H,W)`` tensor."""
    shape = tuple(image.shape)
    if len(shape) == 3:
        return int(shape[0]), int(shape[1])
    return int(shape[-2]), int(shape[-1])


class LRU:
    """A small least-recently-used cache: ``get(key, make)`` returns the stored value or stores
    ``make()``'s."""

    def __init__(self, size: int = STYLE_CACHE_SIZE) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


def _file_key(path: Path) -> tuple[str, int, int]:
    """A cache key that changes when the file does (path, size, modification time)."""
    stat = os.stat(path)
    return str(Path(path).absolute()), stat.st_size, stat.st_mtime_ns


def task_masks(task: Task, segmentation: Segmentation, content: Any, styles: Sequence[Any], *,
               features: Callable[[Any], Any] | None = None, seed: int = 0,
               cache: LRU | None = None,
               ) -> tuple[AlignedMasks | None, list[np.ndarray] | None]:
    """The masks of a task: drawn (``task.content_mask`` and one style mask per style) or
    automatic (``segmentation``); ``(None, None)`` without either.

    Parameters
    ----------
    task : Task
    segmentation : Segmentation
    content, styles : array or Tensor
        The images as read (``(H,W,3)`` arrays or ``(1,3,H,W)`` tensors): masks are parsed at
        their sizes; automatic masks need tensors.
    features : callable, optional
        Deep features for ``--seg cluster``/the ``auto`` fallback (trained weights only).
    seed : int
        Seed of the clustering.
    cache : LRU, optional
        Where parsed style masks are kept between tasks.

    Returns
    -------
    masks : AlignedMasks or None
        The content's labels and the first style's, on one label set.
    style_labels : list of np.ndarray or None
        Every style's label map on that label set.
    """
    from segment import align_masks, load_color_mask

    if task.content_mask is not None:
        c_parsed = load_color_mask(task.content_mask, image_hw(content))

        def style_mask(path: Path, image: Any) -> ParsedMask:
            hw = image_hw(image)
            if cache is None:
                return load_color_mask(path, hw)
            return cache.get(("mask", _file_key(path), hw), lambda: load_color_mask(path, hw))

        # Each style mask is matched to the content's colours; the content's labels do not
        # depend on the style, so all styles share the first alignment's label set.
        alignments = [align_masks(c_parsed, style_mask(path, s))
                      for path, s in zip(task.style_masks, styles, strict=True)]
        return alignments[0], [a.style_labels for a in alignments]
    if segmentation.method != "none":
        from segment import automatic_masks

        aligned = automatic_masks(content, styles[0], segmentation.method,
                                  model=segmentation.model, k=segmentation.k,
                                  features=features, seed=seed)
        return aligned, [aligned.style_labels]
    return None, None


class Runner(ABC):
    """A method built once (network, weights, look) and applied to one task after another.

    Subclasses set :attr:`name` and implement :meth:`__call__`; a runner that can stack
    several images into one forward pass sets :attr:`batch_size` and overrides
    :meth:`run_many`. Style photos and style masks are decoded once and kept
    (:data:`STYLE_CACHE_SIZE` of them), so a batch with one style reads it once per runner.

    Parameters
    ----------
    config : Config
        The settings of every task (a task may pass its own, of the same method).
    segmentation : Segmentation, optional
        Automatic masks for tasks without drawn ones.
    device : str
        Where the work runs (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` …); ignored by the
        weight-free methods.
    """

    #: The method's name in :data:`photostyle.methods.METHODS`.
    name: ClassVar[str] = ""
    #: How many tasks :meth:`run_many` puts through the method at once (1: one at a time).
    batch_size: int = 1

    def __init__(self, config: Config, *, segmentation: Segmentation | None = None,
                 device: str = "auto") -> None:
        self.config = config
        self.segmentation = segmentation or Segmentation()
        self.device = device
        self.cache = LRU()

    @classmethod
    def check(cls, task: Task, config: Config, segmentation: Segmentation) -> None:
        """Raise :class:`InputError` if the method cannot run ``task`` (before reading it):
        here, a task without a style photo."""
        if not task.styles:
            raise InputError(f"{task.content}: give a style photo")

    def cached(self, path: Path, read: Callable[[Path], Any]) -> Any:
        """``read(path)``, kept between tasks while the file is unchanged."""
        return self.cache.get(("image", _file_key(path)), lambda: read(path))

    @abstractmethod
    def __call__(self, task: Task, *, config: Config | None = None,
                 callback: Callable[[Any], None] | None = None) -> Output:
        """Run one task (``config``: the task's own settings, default the runner's);
        ``callback`` receives the method's progress events."""

    def run_many(self, tasks: Sequence[Task], *, configs: Sequence[Config | None] | None = None,
                 callback: Callable[[Any], None] | None = None) -> list[Output | Exception]:
        """Run several tasks; each entry is the task's output or the exception that stopped it
        (``KeyboardInterrupt`` stops them all). One at a time here; runners with
        ``batch_size > 1`` stack them."""
        configs = list(configs) if configs is not None else [None] * len(tasks)
        results: list[Output | Exception] = []
        for task, config in zip(tasks, configs, strict=True):
            try:
                results.append(self(task, config=config, callback=callback))
            except Exception as exc:  # one task's failure, reported with it
                results.append(exc)
        return results
