"""What every method's runner shares: the task (files in), its headers read before any decoding
(:func:`inspect_task`), the output, the masks of a task (parsed before the photos are decoded:
:func:`parse_task_masks`), a small cache of decoded style images and masks, and the device of
``--device``/``--devices`` (:func:`resolve_device`).

numpy only (no torch): the weight-free runner and the batch's main process use this module;
:func:`resolve_device` imports torch when it is called.
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
from ..io.images import (
    REDUCING_GAP,
    ImageInfo,
    check_mask_pixels,
    check_working_size,
    image_info,
    pil_pixel_check_off,
)

if TYPE_CHECKING:
    import torch

    from segment import AlignedMasks, ParsedMask

__all__ = ["LOOK_BATCH_SIZE", "SEGMENTATIONS", "Output", "Prepared", "Runner", "Segmentation",
           "Task", "TaskInfo", "image_hw", "inspect_task", "parse_task_masks", "resolve_device",
           "task_masks"]

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


@dataclass(frozen=True)
class TaskInfo:
    """The headers of a task's photos (read before any decoding: :func:`inspect_task`) and the
    long sides they are decoded for.

    Attributes
    ----------
    content : ImageInfo
    styles : tuple of ImageInfo
        One per style photo.
    content_side, style_side : int or None
        The working long sides of the content and of the style photos, for
        :func:`photostyle.io.images.read_image`'s ``long_side`` (``None``: their own sizes).
    """

    content: ImageInfo
    styles: tuple[ImageInfo, ...]
    content_side: int | None
    style_side: int | None


def inspect_task(task: Task, config: Config, *, style_scale: float = 1.0,
                 network: bool = False) -> TaskInfo:
    """Read every input's header, decoding nothing: a missing or unreadable photo, an image
    or mask over ``config.max_pixels`` and, for a feature network (``network``), a photo too
    thin for VGG-19 at its working size stop the task here, each in one line naming the file
    and the fix.

    Parameters
    ----------
    task : Task
    config : Config
        ``size`` (the working long side) and ``max_pixels``.
    style_scale : float
        The style photos' working size relative to ``config.size`` (``Config.style_scale`` for
        the neural method).
    network : bool
        Also check the working sizes against VGG-19's smallest
        (:func:`photostyle.io.images.check_working_size`).

    Raises
    ------
    InputError
    """
    content = image_info(task.content, max_pixels=config.max_pixels)
    styles = tuple(image_info(path, max_pixels=config.max_pixels) for path in task.styles)
    for path in (task.content_mask, *(task.style_masks or ())):
        if path is not None:
            check_mask_pixels(path, config.max_pixels)
    size = config.size
    if network:
        check_working_size(task.content, content.height, content.width, size)
        for path, info in zip(task.styles, styles, strict=True):
            check_working_size(path, info.height, info.width, size, style_scale)
    style_side = None if size is None else max(1, round(size * style_scale))
    return TaskInfo(content, styles, size, style_side)


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
        The content as decoded (its own size, or reduced for the working size when much
        larger: :func:`photostyle.io.images.read_image`; same kind as ``image``).
    style : np.ndarray or Tensor or None
        The first style photo as decoded (None for a trained look).
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


def resolve_device(choice: str | torch.device) -> torch.device:
    """The device of ``--device``/``--devices``: ``"auto"`` (CUDA when available), ``"cpu"``,
    ``"cuda"`` or ``"cuda:N"`` (imports torch).

    Raises
    ------
    InputError
        An unknown name, or a CUDA device that is not there.
    """
    import torch

    if str(choice) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, ValueError):
        raise InputError(f"device {choice!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {choice}: no CUDA device is available; use cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {choice}: there are {torch.cuda.device_count()} CUDA "
                             "devices (cuda:0 …); choose one of them")
    return device


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


def _decoded_side(long_side: int | None) -> int | None:
    """Longest side a mask is parsed at for a photo decoded for ``long_side``: at least the
    photo's decoded size (:func:`photostyle.io.images.read_image` keeps at least
    ``REDUCING_GAP × long_side``, less than twice that)."""
    return None if long_side is None else int(2 * REDUCING_GAP * long_side)


def parse_task_masks(task: Task, info: TaskInfo, *, cache: LRU | None = None,
                     ) -> tuple[ParsedMask, list[ParsedMask]] | None:
    """The drawn masks of a task (the content's and one per style), checked against their
    photos' displayed sizes and parsed *before* the photos are decoded, a large mask shrunk
    first (nearest neighbour) to about the scale its photo will be decoded at; ``None``
    without drawn masks. :func:`task_masks` brings them to the decoded photos' sizes.

    Parameters
    ----------
    task : Task
    info : TaskInfo
        The photos' headers (:func:`inspect_task`; the masks' pixels were checked there).
    cache : LRU, optional
        Where parsed style masks are kept between tasks.

    Raises
    ------
    MaskError
        A missing or unreadable mask, one of the wrong size, one without the DPST colours.
    """
    from segment import load_color_mask

    if task.content_mask is None:
        return None

    def parse(path: Path, photo: ImageInfo, long_side: int | None) -> ParsedMask:
        with pil_pixel_check_off():  # its pixels were checked against max_pixels (inspect_task)
            return load_color_mask(path, (photo.height, photo.width),
                                   max_side=_decoded_side(long_side))

    def style_mask(path: Path, photo: ImageInfo) -> ParsedMask:
        if cache is None:
            return parse(path, photo, info.style_side)
        key = ("mask", _file_key(path), (photo.height, photo.width),
               _decoded_side(info.style_side))
        return cache.get(key, lambda: parse(path, photo, info.style_side))

    content = parse(task.content_mask, info.content, info.content_side)
    styles = [style_mask(path, photo)
              for path, photo in zip(task.style_masks, info.styles, strict=True)]
    return content, styles


def task_masks(task: Task, segmentation: Segmentation, content: Any, styles: Sequence[Any],
               parsed: tuple[ParsedMask, Sequence[ParsedMask]] | None = None, *,
               features: Callable[[Any], Any] | None = None, seed: int = 0,
               ) -> tuple[AlignedMasks | None, list[np.ndarray] | None]:
    """The masks of a task: drawn (``parsed``: :func:`parse_task_masks`) or automatic
    (``segmentation``); ``(None, None)`` without either.

    Parameters
    ----------
    task : Task
    segmentation : Segmentation
    content, styles : array or Tensor
        The images as decoded (``(H,W,3)`` arrays or ``(1,3,H,W)`` tensors): drawn masks are
        brought to their sizes (nearest neighbour); automatic masks need tensors.
    parsed : tuple, optional
        The drawn masks, parsed: the content's and one per style (required when the task has
        drawn masks).
    features : callable, optional
        Deep features for ``--seg cluster``/the ``auto`` fallback (trained weights only).
    seed : int
        Seed of the clustering.

    Returns
    -------
    masks : AlignedMasks or None
        The content's labels and the first style's, on one label set.
    style_labels : list of np.ndarray or None
        Every style's label map on that label set.
    """
    from segment import align_masks, resize_mask

    if task.content_mask is not None:
        if parsed is None:
            raise ValueError("a task with drawn masks needs them parsed (parse_task_masks)")
        c_parsed = resize_mask(parsed[0], image_hw(content))
        # Each style mask is matched to the content's colours; the content's labels do not
        # depend on the style, so all styles share the first alignment's label set.
        alignments = [align_masks(c_parsed, resize_mask(s_parsed, image_hw(s)))
                      for s_parsed, s in zip(parsed[1], styles, strict=True)]
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

    @classmethod
    def inspect(cls, task: Task, config: Config) -> TaskInfo:
        """The task's headers, before anything is decoded (:func:`inspect_task`; here its
        pixel limits and readability, photos decoded for ``config.size``); a method adds its
        own checks (the neural method: sizes VGG-19 can take).

        Raises
        ------
        InputError
        """
        return inspect_task(task, config)

    def cached(self, path: Path, read: Callable[[Path], Any], variant: Hashable = None) -> Any:
        """``read(path)``, kept between tasks while the file is unchanged (``variant``: what
        else the result depends on, such as the size it is decoded for)."""
        return self.cache.get(("image", _file_key(path), variant), lambda: read(path))

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
