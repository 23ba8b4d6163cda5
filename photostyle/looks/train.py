"""Training a look: Johnson et al.'s recipe (random crops, batch 4, Adam 1e-3) with the
optimizer's own perceptual loss (:class:`photostyle.looks.perceptual.PerceptualLoss`).

The library never prints: :func:`train` hands a :class:`TrainStep` to its callback every
``Config.progress_every`` steps (and at each checkpoint and the last step), writes the
checkpoint atomically every ``TrainOptions.checkpoint_every`` steps and after the last one, and
on Ctrl-C raises :class:`TrainInterrupted`, leaving the last checkpoint as it was. A run is
resumed from its checkpoint (:func:`photostyle.looks.checkpoint.read_checkpoint`) with the same
settings; it then continues the step count, the loss history, Adam's state and the crop
sampler's random stream, so a resumed run takes the steps an uninterrupted one would have.

Reference: J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer
and Super-Resolution", ECCV 2016.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..config import Config
from ..errors import InputError
from ..io.images import fit_long_side
from ..io.tensors import resize
from ..neural.vgg import VGG19Features, build_network
from .bilateral import low_res_for
from .checkpoint import Checkpoint, vgg_kind, write_checkpoint
from .look import Look, new_look
from .options import MIN_PHOTOS, TrainOptions
from .perceptual import PerceptualLoss

__all__ = ["TrainInterrupted", "TrainResult", "TrainStep", "check_steps_left", "default_hparams",
           "prepare_photo", "style_hash", "train"]


@dataclass(frozen=True)
class TrainStep:
    """What the callback receives.

    Attributes
    ----------
    step, steps : int
        This step (1-based, counted over resumed runs) and the total.
    losses : dict of str to float
        Each weighted loss term of this step's batch (``content``, ``style`` and/or
        ``histogram``, ``tv``).
    total : float
        Their sum.
    elapsed : float
        Seconds since this call of :func:`train` started.
    look : Look
        The look being trained (live: in training mode; use it under ``torch.no_grad()`` and
        never modify it).
    checkpoint : Path or None
        The checkpoint file written at this step, if one was.
    """

    step: int
    steps: int
    losses: dict[str, float]
    total: float
    elapsed: float
    look: Look = field(repr=False)
    checkpoint: Path | None = None


@dataclass
class TrainResult:
    """The trained look and its loss history (one row per read: step, total, each term)."""

    look: Look
    steps: int
    history: list[dict[str, float]]
    elapsed: float


class TrainInterrupted(KeyboardInterrupt):
    """Ctrl-C during training.

    Attributes
    ----------
    step : int
        The last step completed.
    saved : int or None
        The step of the last checkpoint on disk (``None``: none was written).
    """

    def __init__(self, step: int, saved: int | None) -> None:
        kept = (f"the checkpoint of step {saved} is kept" if saved is not None
                else "no checkpoint was written yet")
        super().__init__(f"interrupted after step {step}; {kept}")
        self.step = step
        self.saved = saved


Callback = Callable[[TrainStep], None]


def style_hash(style: Tensor | np.ndarray) -> str:
    """SHA-256 of a style photo's 8-bit RGB pixels and size: ``(1,3,H,W)``/``(3,H,W)`` tensor
    or ``(H,W,3)`` array in [0, 1]. The same picture gives the same hash whatever its file
    format."""
    from ..io.images import to_uint8

    pixels = np.ascontiguousarray(to_uint8(style))
    digest = hashlib.sha256(f"{pixels.shape[0]}x{pixels.shape[1]}:".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def prepare_photo(image: Tensor | np.ndarray, size: int) -> Tensor:
    """A training photo as kept in memory: ``(3,h,w)`` uint8 on the CPU with its short side
    resized to ``size`` (antialiased bicubic). ``image``: ``(H,W,3)`` array or
    ``(1,3,H,W)``/``(3,H,W)`` tensor in [0, 1], or a uint8 one already prepared."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise InputError(f"a training photo is one image, got shape {tuple(image.shape)}")
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise InputError(f"a training photo must be (3,H,W) or (H,W,3), got "
                         f"{tuple(image.shape)}")
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    target = (max(size, round(h * scale)), max(size, round(w * scale)))
    if image.dtype == torch.uint8:
        if (h, w) == target:
            return image.cpu()
        x = image.to("cpu", torch.float32) / 255.0
    else:
        x = image.detach().to("cpu", torch.float32)
    x = resize(x[None], target)[0]
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def _sample(photos: Sequence[Tensor], size: int, batch: int, generator: torch.Generator,
            device: torch.device, dtype: torch.dtype) -> Tensor:
    """``batch`` random ``size × size`` crops (random photo, position and horizontal flip) as
    ``(batch,3,size,size)`` in [0, 1]."""
    crops = []
    for index in torch.randint(len(photos), (batch,), generator=generator).tolist():
        photo = photos[index]
        h, w = photo.shape[-2:]
        top = int(torch.randint(h - size + 1, (1,), generator=generator))
        left = int(torch.randint(w - size + 1, (1,), generator=generator))
        crop = photo[:, top:top + size, left:left + size]
        if bool(torch.rand((), generator=generator) < 0.5):
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.stack(crops).to(device=device, dtype=dtype).div_(255.0)


def default_hparams(arch: str, size: int) -> dict[str, int]:
    """The network's settings for ``size`` px training crops: a bilateral network predicts
    its grid from a copy at most ``size`` px a side (:func:`~photostyle.looks.bilateral.
    low_res_for`); a Johnson network has one size."""
    return {"low_res": low_res_for(size)} if arch == "bilateral" else {}


def _check_resume(resume: Checkpoint, arch: str, style_id: str, record: dict,
                  config: Config, options: TrainOptions) -> None:
    """Raise :class:`InputError` unless ``resume`` was trained with these settings."""
    differences = []
    if resume.arch != arch:
        differences.append(f"architecture {resume.arch} (now {arch})")
    if resume.style_sha256 != style_id:
        differences.append("another style photo")
    if resume.vgg_weights != config.vgg_weights:
        differences.append(f"VGG weights {resume.vgg_weights} (now {config.vgg_weights})")
    if resume.loss != record:
        changed = sorted(k for k in set(resume.loss) | set(record)
                         if resume.loss.get(k) != record.get(k))
        differences.append(f"other loss settings ({', '.join(changed)})")
    for name in ("size", "batch", "lr"):
        if resume.options.get(name) != getattr(options, name):
            differences.append(f"{name} {resume.options.get(name)} (now "
                               f"{getattr(options, name)})")
    if resume.options.get("seed") != config.seed:
        differences.append(f"seed {resume.options.get('seed')} (now {config.seed})")
    if resume.resume is None:
        differences.append("no optimizer state (an exported look)")
    if differences:
        raise InputError(f"cannot resume: the checkpoint was trained with "
                         f"{'; '.join(differences)}; resume with its settings or train anew")
    check_steps_left(resume, options.steps)


def check_steps_left(resume: Checkpoint, steps: int) -> None:
    """Raise :class:`InputError` unless ``resume`` has done fewer than ``steps`` steps."""
    if resume.steps >= steps:
        raise InputError(f"the checkpoint has done {resume.steps} steps already; ask for more "
                         f"(--steps more than {resume.steps})")


def train(photos: Sequence[Tensor | np.ndarray], style: Tensor, *,
          config: Config | None = None, options: TrainOptions | None = None,
          checkpoint: str | os.PathLike | None = None, resume: Checkpoint | None = None,
          callback: Callback | None = None, model: VGG19Features | None = None,
          look: Look | None = None, style_name: str = "") -> TrainResult:
    """Train a look of ``style`` on ``photos``.

    Parameters
    ----------
    photos : sequence of Tensor or array
        At least :data:`~photostyle.looks.options.MIN_PHOTOS` photos in [0, 1] (``(3,H,W)``
        or ``(1,3,H,W)`` tensors, ``(H,W,3)`` arrays) or already prepared by
        :func:`prepare_photo` (uint8; kept in host memory at the crop size).
    style : Tensor
        ``(1,3,H,W)`` style photo in [0, 1]. The work runs on its device and in its dtype;
        it is resized to a long side of ``options.size * config.style_scale``.
    config : Config, optional
        The loss settings shared with the optimization: ``loss`` (the form,
        :class:`~photostyle.looks.perceptual.PerceptualLoss`), ``style_loss``, weights (or the
        preset's), ``vgg_weights`` (``"auto"`` is the Caffe VGG-19 here: training has no
        weight-free stand-in), ``vgg_format``, ``pooling``, layers, ``style_scale``, ``seed``
        (network initialization, crop sampling, random VGG weights), ``progress_every`` and
        ``autocast``.
    options : TrainOptions, optional
        Architecture, crop size, batch, steps, learning rate, checkpoint interval.
    checkpoint : path, optional
        Where to write the checkpoint (atomically) every ``options.checkpoint_every`` steps
        and after the last step; ``None``: not written.
    resume : Checkpoint, optional
        A checkpoint of this training to continue (same style, architecture and settings):
        training goes on from its step to ``options.steps``.
    callback : callable, optional
        Called with a :class:`TrainStep` every ``config.progress_every`` steps (``None``: 1 on
        the CPU, 20 elsewhere), at each checkpoint and at the last step.
    model : VGG19Features, optional
        A prebuilt feature network (default: :func:`photostyle.neural.vgg.build_network` of
        ``config``); moved to the style's device and dtype. Its input format sets the loss
        form.
    look : Look, optional
        The (new) network to train, e.g. a smaller one (default: ``options.arch`` with
        :func:`default_hparams`, initialized from ``config.seed``).
    style_name : str
        The style photo's name, recorded in the checkpoint.

    Returns
    -------
    TrainResult

    Raises
    ------
    InputError
        Too few photos, a resume with other settings, a non-finite loss.
    TrainInterrupted
        On Ctrl-C; the last checkpoint written stays as it was.
    """
    config = config or Config()
    if config.vgg_weights == "auto":  # no weight-free method stands in for training
        config = config.replace(vgg_weights="caffe")
    options = options or TrainOptions()
    if len(photos) < MIN_PHOTOS:
        raise InputError(f"training needs at least {MIN_PHOTOS} photos, got {len(photos)}")
    if not isinstance(style, Tensor) or style.dim() != 4 or style.shape[:2] != (1, 3):
        raise InputError("style must be a (1,3,H,W) tensor in [0, 1]")
    device, dtype = style.device, style.dtype
    prepared = [prepare_photo(p, options.size) for p in photos]
    style_id = style_hash(style)
    if model is None:
        model = build_network(config)
    model = model.to(device=device, dtype=dtype)
    side = max(32, round(options.size * config.style_scale))
    with torch.no_grad():
        target_style = resize(style, fit_long_side(*style.shape[-2:], side))
    loss = PerceptualLoss(model, target_style, config)
    record = loss.record()
    if look is None:
        arch = resume.arch if resume is not None else options.arch
        hparams = resume.hparams if resume is not None else default_hparams(arch, options.size)
        look = new_look(arch, hparams, seed=config.seed)
    look = look.to(device=device, dtype=dtype).requires_grad_(True)  # a loaded look is frozen
    net = look.network
    optimizer = torch.optim.Adam(net.parameters(), lr=options.lr)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    start = 0
    if resume is not None:
        _check_resume(resume, look.arch, style_id, record, config, options)
        net.load_state_dict(resume.state_dict)
        optimizer.load_state_dict(resume.resume["optimizer"])
        generator.set_state(resume.resume["generator"])
        history = list(resume.history)
        start = resume.steps
    every = config.progress_every or (1 if device.type == "cpu" else 20)
    net.train()
    saved: int | None = start if resume is not None else None
    done = start
    t0 = time.perf_counter()

    def save(at: int) -> Path:
        meta = Checkpoint(
            arch=look.arch, hparams=dict(net.hparams), state_dict=net.state_dict(), steps=at,
            style_sha256=style_id, style_name=style_name, vgg_weights=config.vgg_weights,
            vgg_kind=vgg_kind(config.vgg_weights),
            for_tests_only=config.vgg_weights == "random", loss=record,
            options={**options.as_dict(), "seed": config.seed}, history=history,
            resume={"optimizer": optimizer.state_dict(), "generator": generator.get_state()})
        path = write_checkpoint(checkpoint, meta)
        look.info = dataclasses.replace(meta, state_dict={}, history=list(history), resume=None)
        return path

    try:
        for step in range(start + 1, options.steps + 1):
            content = _sample(prepared, options.size, options.batch, generator, device, dtype)
            targets = loss.content_features(content)
            terms = loss(net(content), targets)
            total = sum(terms.values())
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            done = step
            last = step == options.steps
            due = checkpoint is not None and (step % options.checkpoint_every == 0 or last)
            if step % every and not due and not last:
                continue
            value = float(total.detach())  # the only host-device synchronization
            if not math.isfinite(value):
                raise InputError(f"the training loss became {value} at step {step}; lower the "
                                 "learning rate or the loss weights (the last checkpoint is "
                                 "kept)")
            losses = {k: float(v.detach()) for k, v in terms.items()}
            history.append({"step": float(step), "total": value, **losses})
            written = None
            if due:
                written = save(step)
                saved = step
            if callback is not None:
                callback(TrainStep(step, options.steps, losses, value,
                                   time.perf_counter() - t0, look, written))
    except KeyboardInterrupt as exc:
        raise TrainInterrupted(done, saved) from exc
    net.eval()
    return TrainResult(look, options.steps, history, time.perf_counter() - t0)
