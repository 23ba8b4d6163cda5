"""A trained look: a callable module that stylizes photos in one forward pass.

::

    look = photostyle.Look.load("dusk.pt")
    out = look(images)                 # (B,3,H,W) in [0, 1] -> (B,3,H,W) in [0, 1]
    out = look(images, post=True)      # + the local-affine post-process

The work runs on the device and in the dtype of the input (the module moves itself there, as
:func:`photostyle.transfer` moves its VGG network).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch
from torch import Tensor, nn

from ..config import Config
from ..errors import InputError, WeightsError
from .bilateral import BilateralGridNet
from .checkpoint import Checkpoint, read_checkpoint
from .johnson import JohnsonNet

__all__ = ["ARCHITECTURES", "MIN_LOOK_SIDE", "Look", "build_network", "new_look",
           "post_process"]

#: The network of each architecture (:data:`photostyle.looks.options.ARCHS`).
ARCHITECTURES: dict[str, type[nn.Module]] = {"bilateral": BilateralGridNet,
                                             "johnson": JohnsonNet}

#: Smallest image side a look takes (the Johnson network halves the resolution twice).
MIN_LOOK_SIDE = 8


def build_network(arch: str, hparams: dict[str, Any] | None = None) -> nn.Module:
    """A new (untrained) network of architecture ``arch`` with constructor arguments
    ``hparams`` (default: the architecture's defaults)."""
    if arch not in ARCHITECTURES:
        raise InputError(f"architecture {arch!r} must be one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**(hparams or {}))


class Look(nn.Module):
    """A per-style feed-forward network and what it was trained with.

    Parameters
    ----------
    network : nn.Module
        A :class:`~photostyle.looks.bilateral.BilateralGridNet` or
        :class:`~photostyle.looks.johnson.JohnsonNet`.
    arch : str
        Its architecture name.
    info : Checkpoint, optional
        What it was trained with (the checkpoint's metadata, without the weights and the
        optimizer state, which the network holds or training alone needs); ``None`` for a new
        network.

    Calling it: ``look(image, post=False, config=None)`` with ``image`` ``(B,3,H,W)`` floating
    point in [0, 1] returns ``(B,3,H,W)`` in [0, 1]. ``post=True`` adds the local-affine
    post-process (:func:`matting.local_affine_post`, with ``config``'s ``post_*`` settings),
    which makes a Johnson look photorealistic and smooths a bilateral one further.
    """

    def __init__(self, network: nn.Module, arch: str, info: Checkpoint | None = None) -> None:
        super().__init__()
        self.network = network
        self.arch = arch
        self.info = info

    @property
    def photorealistic(self) -> bool:
        """Whether the output is a locally affine recolouring of the input by construction."""
        return self.arch == "bilateral"

    @property
    def for_tests_only(self) -> bool:
        """Trained on untrained (random) VGG features."""
        return self.info is not None and self.info.for_tests_only

    @classmethod
    def load(cls, path: str | os.PathLike) -> Look:
        """A look from its file, in eval mode with frozen weights, on the CPU in float32
        (calling it moves it to the input's device and dtype).

        Raises
        ------
        WeightsError
            Not a look file, a newer format, or damaged (one line naming the file).
        """
        checkpoint = read_checkpoint(path)
        try:
            network = build_network(checkpoint.arch, checkpoint.hparams)
            network.load_state_dict(checkpoint.state_dict)
        except (InputError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WeightsError(f"look {path} is damaged: its weights do not fit a "
                               f"{checkpoint.arch} network ({first})") from exc
        info = dataclasses.replace(checkpoint, state_dict={}, resume=None)
        look = cls(network, checkpoint.arch, info)  # small to send to a batch's workers
        look.requires_grad_(False)
        return look.eval()

    def forward(self, image: Tensor, post: bool = False, config: Config | None = None) -> Tensor:
        if not isinstance(image, Tensor) or image.dim() != 4 or image.shape[1] != 3:
            shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
            raise InputError(f"a look takes a (B,3,H,W) tensor in [0, 1], got {shape}")
        if not image.is_floating_point():
            raise InputError(f"a look takes a floating-point image in [0, 1], got {image.dtype}")
        if min(image.shape[-2:]) < MIN_LOOK_SIDE:
            raise InputError(f"image is {image.shape[-1]}x{image.shape[-2]} px; a look needs at "
                             f"least {MIN_LOOK_SIDE} px on each side")
        reference = next(self.parameters())
        if reference.device != image.device or reference.dtype != image.dtype:
            self.to(device=image.device, dtype=image.dtype)
        out = self.network(image).clamp(0.0, 1.0)
        return post_process(out, image, config or Config()) if post else out

    def extra_repr(self) -> str:
        if self.info is None:
            return f"arch={self.arch}, untrained"
        tests = ", for tests only (random VGG weights)" if self.info.for_tests_only else ""
        return f"arch={self.arch}, steps={self.info.steps}, style={self.info.style_name!r}{tests}"


def post_process(image: Tensor, content: Tensor, config: Config) -> Tensor:
    """The local-affine post-process of a look's output ``image`` against its ``content``
    (both ``(B,3,H,W)``; :func:`matting.local_affine_post` with ``config``'s ``post_*``
    settings): each output pixel becomes a smoothed local affine function of the content."""
    from matting import local_affine_post

    return local_affine_post(image, content, radius=config.post_radius, eps=config.post_eps,
                             smooth_radius=config.post_smooth_radius,
                             sigma_range=config.post_sigma)


def new_look(arch: str, hparams: dict[str, Any] | None = None, *, seed: int = 0,
             device: torch.device | str | None = None,
             dtype: torch.dtype = torch.float32) -> Look:
    """An untrained look of ``arch`` with weights drawn from a private generator seeded with
    ``seed`` (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = build_network(arch, hparams)
    return Look(network, arch).to(device=device, dtype=dtype)
