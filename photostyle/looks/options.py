"""Settings of training a look, each default written once (no torch: the command line reads
them at start-up).

The loss settings of a look (style loss, weights, VGG weights and pooling, style scale, seed)
are those of :class:`photostyle.config.Config`, shared with the optimization; what only
training has is here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ..errors import InputError

__all__ = ["ARCHS", "MIN_PHOTOS", "TrainOptions"]

#: The architectures of a look: ``"bilateral"`` (photorealistic by construction: a bilateral
#: grid of local affine colour transforms, Gharbi et al. 2017) and ``"johnson"`` (Johnson et
#: al. 2016's image transformation network, which repaints).
ARCHS: tuple[str, ...] = ("bilateral", "johnson")

#: Fewest training photos: one batch of distinct photos at the default batch size.
MIN_PHOTOS = 4


@dataclass(frozen=True)
class TrainOptions:
    """How a look is trained (Johnson et al. 2016's recipe by default).

    Attributes
    ----------
    arch : {"bilateral", "johnson"}
        The network (:data:`ARCHS`).
    size : int
        Side in pixels of the square random crops trained on (each photo is first resized so
        that its short side is ``size``). The style photo is resized to a long side of
        ``size * Config.style_scale``.
    batch : int
        Crops per step.
    steps : int
        Total optimizer steps (a resumed run continues up to this count). Johnson et al.
        trained 40,000 steps of batch 4 (two epochs of COCO).
    lr : float
        Adam's learning rate (Johnson et al.: 1e-3).
    checkpoint_every : int
        Write the checkpoint every this many steps (and after the last one).
    """

    arch: Literal["bilateral", "johnson"] = "bilateral"
    size: int = 256
    batch: int = 4
    steps: int = 40000
    lr: float = 1e-3
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise InputError(f"arch {self.arch!r} must be one of {', '.join(ARCHS)}")
        if self.size < 32:
            raise InputError(f"size {self.size} is too small: crops need at least 32 px")
        if self.batch < 1:
            raise InputError(f"batch must be >= 1, got {self.batch}")
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if not self.lr > 0:
            raise InputError(f"lr must be > 0, got {self.lr}")
        if self.checkpoint_every < 1:
            raise InputError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")

    def replace(self, **changes: object) -> TrainOptions:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        """The fields as a plain dict (what a checkpoint records)."""
        return dataclasses.asdict(self)
