"""The two-stage optimization of Deep Photo Style Transfer, coarse to fine, and the Python API.

Stage 1 minimizes content + masked style + total-variation losses, starting from the content's
regional colour transfer (or the content, noise, the Lua code's mean colour, or an image file).
Stage 2 starts from stage 1's result and adds the photorealism regularizer λ·Σ_c V_cᵀ L V_c
(divided by N in the relative form) built from the content's matting Laplacian. The result is
then passed through the local-affine post-process (the paper's "best local affine" output).
The loss terms are the Lua code's (``loss="paper"``, the default on the Caffe network) or
photostyle's relative ones (:mod:`photostyle.neural.losses`).

Differences from the paper (which runs 1000 + 1000 steps at the final size, ``quality="max"``
here): by default the stages run over an image pyramid (:data:`photostyle.config.QUALITY`),
each level starting from the upsampled result of the level below, with its own style targets,
masks, content target and matting Laplacian; stage 1 runs at the coarsest level only, where a
step costs 1/16 of a full-size one. The optimizer is an L-BFGS with the paper's settings that
never reads a value back from the device (:mod:`photostyle.neural.optim`), the masked Gram
losses are computed on each label's support only with a fused backward, and the loss is read
back every ``progress_every`` steps.

Reference: F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from matting import local_affine_post

from ..classic.regional import regional_color_transfer
from ..config import INITS, Config
from ..errors import InputError, PhotostyleError, require_both
from ..io.tensors import from_array, load_image, resize, to_array
from .inputs import as_image, as_styles, blend_weights, label_count, prepare
from .memory import check_memory
from .objective import Objective
from .optim import LBFGS
from .original_colors import keep_original_colors
from .schedule import Level, plan_levels
from .vgg import VGG19Features, build_network, from_caffe, to_caffe

__all__ = ["Callback", "StepInfo", "TransferDiverged", "TransferInterrupted", "TransferResult",
           "cuda_flags", "run_stage", "transfer"]


@dataclass(frozen=True)
class StepInfo:
    """What the callback receives every ``Config.progress_every`` steps (and at each stage's
    last step).

    Attributes
    ----------
    stage : int
        1 (style) or 2 (style + matting).
    step, steps : int
        This step (1-based) and the stage's number of steps at this level.
    losses : dict of str to float
        Each weighted loss term: ``content``, ``style`` (Gram) and/or ``histogram`` (as
        ``Config.style_loss``), ``tv``, and ``matting`` in stage 2, of the image this step
        started from (before its update: step 1 reports the stage's start image).
    total : float
        Their sum.
    elapsed : float
        Seconds since the stage started (at this level).
    image : Tensor
        The current image ``(1,3,h,w)`` (RGB, nominally in [0, 1], not clamped) at this
        level's size, after this step's update (read it, copy it to keep it, never modify it).
    level, levels : int
        This pyramid level (1 = coarsest) and the number of levels run.
    """

    stage: int
    step: int
    steps: int
    losses: dict[str, float]
    total: float
    elapsed: float
    image: Tensor = field(repr=False)
    level: int = 1
    levels: int = 1


@dataclass
class TransferResult:
    """Images and measurements of a transfer.

    Attributes
    ----------
    image : Tensor
        Final image ``(1,3,H,W)`` in [0, 1] (after the post-process when enabled), at the
        working size (``Config.size``).
    stage1 : Tensor
        The last stage-1 result, clamped to [0, 1], upsampled to the size the optimization
        finished at (with the default schedules stage 1 runs at the coarsest level).
    stage2 : Tensor or None
        The optimization's result before the post-process (``None`` if no stage-2 step ran).
    history : list of dict
        One row per progress read (every step on the CPU by default): level, stage, step,
        elapsed, total and each loss term.
    timings : dict of str to float
        Wall-clock seconds of each phase, summed over levels (``setup``: inputs, network and
        targets; ``laplacian``; ``stage1``; ``stage2``; ``post``) and of each level
        (``level1`` …).
    levels : tuple of Level
        The pyramid that ran (coarsest first). Its last size is smaller than ``image`` when
        ``Config.fit_memory`` had to shrink the work.
    """

    image: Tensor
    stage1: Tensor | None
    stage2: Tensor | None
    history: list[dict[str, float]]
    timings: dict[str, float]
    levels: tuple[Level, ...] = ()


class TransferInterrupted(KeyboardInterrupt):
    """Raised when the run is interrupted (Ctrl-C, or SIGTERM under
    :func:`photostyle.interrupts.signals_as_interrupts`); carries the best image so far.

    Attributes
    ----------
    image : Tensor or None
        The best image so far, clamped to [0, 1], at the working size: the lowest-loss image
        of the stage that was running (or that stage's start); between levels, the level
        below's result upsampled; during the post-process, the optimization's result before
        it. ``None`` if the run stopped before it had one.
    stage, step, level : int
        Where the run stopped (stage 0 while setting up a level, 3 in the post-process).
    where : str
        The same in words ("in stage 1 at step 3", "during the post-process" …).
    """

    def __init__(self, image: Tensor | None, stage: int, step: int, level: int = 1,
                 where: str | None = None) -> None:
        if where is None:
            at_level = f"level {level}, " if level > 1 else ""
            where = f"in {at_level}stage {stage} at step {step}"
        super().__init__(f"interrupted {where}")
        self.image = image
        self.stage = stage
        self.step = step
        self.level = level
        self.where = where


class TransferDiverged(PhotostyleError):
    """The loss became NaN or infinite during a run: an error, carrying the best image so far
    (as :class:`TransferInterrupted`) so that the work done is not lost.

    Attributes
    ----------
    image : Tensor
        The lowest-loss image of the stage that diverged (or its start), clamped to [0, 1],
        at the working size.
    stage, step, level : int
        Where the loss was found non-finite (it is read every ``Config.progress_every`` steps).
    """

    def __init__(self, image: Tensor, stage: int, step: int, level: int, value: float) -> None:
        where = f"level {level}, " if level > 1 else ""
        remedy = ("lower --lambda" if stage == 2 else "lower --style-weight or --content-weight"
                  ) + " or use --optimizer adam"
        super().__init__(f"the optimization diverged: the loss became {value} in {where}stage "
                         f"{stage} by step {step}; {remedy}")
        self.image = image
        self.stage = stage
        self.step = step
        self.level = level


Callback = Callable[[StepInfo], None]


@contextmanager
def cuda_flags(enabled: bool) -> Iterator[None]:
    """TF32 matmuls/convolutions and cuDNN autotuning for the duration of a run; the previous
    (process-wide) settings are restored afterwards."""
    if not enabled:
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
         torch.backends.cudnn.benchmark) = saved


def _variable(config: Config) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """The maps image → optimized variable → image of ``config.variable``."""
    if config.variable == "caffe":
        return to_caffe, from_caffe
    return (lambda image: image), (lambda x: x)


def run_stage(stage: int, level: int, levels: int, start: Tensor, steps: int,
               objective: Objective, config: Config, every: int, callback: Callback | None,
               history: list[dict[str, float]]) -> Tensor:
    """Optimize the image from ``start`` for ``steps`` steps; returns the final image.

    The optimizer updates the image, or the image in Caffe units (``config.variable``). Nothing
    is read back from the device except at the first step, every ``every`` steps and at the
    last one; the lowest-loss image is tracked on the device (for Ctrl-C).
    """
    to_variable, to_image = _variable(config)
    x = to_variable(start.detach()).clone(memory_format=torch.contiguous_format)
    x.requires_grad_(True)
    if steps == 0:
        return start.detach().clone()
    if config.optimizer == "lbfgs":
        # One function evaluation per step and no line search, as optim.lbfgs in the Lua code,
        # never stopping early (tolX = tolFun = -1 there); see photostyle.optim.
        opt: LBFGS | torch.optim.Adam = LBFGS(x, history_size=config.history_size)
    else:
        opt = torch.optim.Adam([x], lr=config.lr)
    best = start.detach().clone()
    best_loss = torch.full((), math.inf, dtype=x.dtype, device=x.device)
    t0 = time.perf_counter()
    step = 0
    try:
        for step in range(1, steps + 1):
            x.grad = None
            image = to_image(x)
            total, terms = objective(image)
            total.backward()
            loss = total.detach()
            better = loss < best_loss  # the image this loss belongs to, before the step
            best = torch.where(better, image.detach(), best)
            best_loss = torch.where(better, loss, best_loss)
            if isinstance(opt, LBFGS):
                opt.step(x.grad)
            else:
                opt.step()
            if step % every and step not in (1, steps):
                continue
            value = float(loss)  # the only host-device synchronization of the loop
            if not math.isfinite(value):
                raise TransferDiverged(best.clamp(0, 1), stage, step, level, value)
            losses = {k: float(v.detach()) for k, v in terms.items()}
            elapsed = time.perf_counter() - t0
            history.append({"level": level, "stage": stage, "step": step, "elapsed": elapsed,
                            "total": value, **losses})
            if callback is not None:
                with torch.no_grad():
                    current = to_image(x.detach())
                callback(StepInfo(stage, step, steps, losses, value, elapsed, current,
                                  level, levels))
    except KeyboardInterrupt as exc:
        raise TransferInterrupted(best.clamp(0, 1), stage, step, level) from exc
    with torch.no_grad():
        return to_image(x.detach())


def _start_image(config: Config, content: Tensor, styles: Sequence[Tensor],
                 c_masks: Tensor | None, s_masks: Sequence[Tensor] | None,
                 init_image: Tensor | None) -> Tensor:
    if init_image is not None:  # an image file, at this level's size
        with torch.no_grad():
            return resize(init_image.to(device=content.device, dtype=content.dtype),
                          tuple(content.shape[-2:]))
    if config.start == "noise":
        gen = torch.Generator().manual_seed(config.seed)
        return torch.rand(content.shape, generator=gen).to(content.device, content.dtype)
    if config.start == "mean":  # the Lua code's start: randn * 1e-4 in Caffe units
        gen = torch.Generator().manual_seed(config.seed)
        noise = torch.randn(content.shape, generator=gen, dtype=torch.float64) * 1e-4
        return from_caffe(noise).to(content.device, content.dtype)
    if config.start == "transfer":  # regional colour transfer (the preview, before its post)
        # Several styles: the colours of the one with the largest blend weight.
        blend = blend_weights(config.style_blend_weights, len(styles))
        i = blend.index(max(blend))
        start = regional_color_transfer(
            to_array(content), to_array(styles[i]),
            None if c_masks is None else c_masks.cpu().double().numpy(),
            None if s_masks is None else s_masks[i].cpu().double().numpy(),
            method=config.transfer_method, space=config.transfer_space,
            blend_radius=config.transfer_blend)
        return from_array(start, device=content.device, dtype=content.dtype)
    return content


def _features(model: VGG19Features, config: Config) -> Callable[..., dict[str, Tensor]]:
    if not config.compile:
        return model
    if config.compile is True:
        return torch.compile(model)
    return torch.compile(model, backend=config.compile)


def transfer(content: Tensor, style: Tensor | Sequence[Tensor],
             content_mask: np.ndarray | Tensor | None = None,
             style_mask: np.ndarray | Tensor | Sequence[np.ndarray | Tensor] | None = None, *,
             config: Config | None = None,
             callback: Callback | None = None,
             model: VGG19Features | None = None) -> TransferResult:
    """Style transfer of ``style`` onto ``content``: photorealistic (Luan et al. 2017) or,
    with ``config.mode="artistic"``, Gatys et al.'s neural style.

    Parameters
    ----------
    content : Tensor
        RGB image ``(1,3,H,W)`` or ``(3,H,W)`` in [0, 1]. Device and dtype of the work follow
        it. Resized to ``config.size`` on its long side (and to each pyramid level's size).
    style : Tensor or sequence of Tensor
        One style image, or several (blended with ``config.style_blend_weights``), RGB in
        [0, 1], any sizes; resized to ``config.size * config.style_scale``. Not modified.
    content_mask, style_mask : array or Tensor, optional
        Integer label maps ``(H,W)`` over one shared label set (e.g. from
        :func:`segment.align_masks`), each the size of its image (resized with nearest
        neighbour); with several styles, ``style_mask`` is a sequence, one per style, all on
        the content mask's label set. Give both or neither; without masks the whole images
        are matched.
    config : Config, optional
        Settings (default ``Config()``: photo mode, the ``"default"`` coarse-to-fine
        schedule).
    callback : callable, optional
        Called with a :class:`StepInfo` every ``config.progress_every`` steps and at the last
        step of each stage at each level.
    model : VGG19Features, optional
        A prebuilt feature network to reuse between calls (must reach the deepest layer used);
        default: built from ``config.vgg_weights``. It is moved to the content's device and
        dtype (``Module.to``, in place); its memory format and pooling mode (ceil mode for
        the paper's loss form) are restored after the run. Its ``input_format`` decides the
        loss form when ``config.loss`` is None (:meth:`Config.loss_for`).

    Returns
    -------
    TransferResult
        The final image, stage images, the loss history, the timings and the levels run.

    Raises
    ------
    TransferInterrupted
        On KeyboardInterrupt (anywhere after the setup: in a stage, between levels, in the
        post-process), carrying the best image so far.
    TransferDiverged
        The loss became NaN or infinite; carries the best image so far.
    InputError, WeightsError
        Bad inputs; weights not available; a working size whose estimated memory exceeds the
        budget (:mod:`photostyle.memory`; the message names a size that fits) unless
        ``config.fit_memory``.
    """
    config = config or Config()
    timings: dict[str, float] = {"setup": 0.0, "laplacian": 0.0, "stage1": 0.0, "stage2": 0.0}
    t_setup = time.perf_counter()
    content = as_image(content, "content")
    styles = [style] if isinstance(style, Tensor) else list(style)
    if not styles:
        raise InputError("give at least one style image")
    styles = as_styles(styles)
    require_both(content_mask, style_mask)
    style_masks = None
    if style_mask is not None:
        single = isinstance(style_mask, (np.ndarray, Tensor))
        style_masks = [style_mask] if single else list(style_mask)
        if len(style_masks) != len(styles):
            raise InputError(f"{len(style_masks)} style masks for {len(styles)} style images; "
                             "give one mask per style")
    blend_weights(config.style_blend_weights, len(styles))  # checked before any work
    device, dtype = content.device, content.dtype
    style_sizes = [tuple(s.shape[-2:]) for s in styles]
    levels = plan_levels(config, content.shape[-2:], style_sizes)
    work = (levels[-1].height, levels[-1].width)
    fit_side = check_memory(*work, config, device, dtype, label_count(content_mask))
    requested: tuple[int, int] | None = None
    if fit_side is not None:
        requested = work
        levels = plan_levels(config.replace(size=fit_side), content.shape[-2:], style_sizes)
    init_image = None
    if config.start not in INITS:  # an image file (Config checked that it exists)
        init_image = load_image(config.start, device=device, dtype=dtype,
                                long_side=max(levels[-1].height, levels[-1].width),
                                max_pixels=config.max_pixels)
    if model is None:
        model = build_network(config)
    form = config.loss_for(model.input_format)
    ceil_mode = model.ceil_mode
    model.ceil_mode = form == "paper"  # the Lua code's network pools in ceil mode
    model = model.to(device=device, dtype=dtype)
    channels_last = config.channels_last if config.channels_last is not None \
        else device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    features = _features(model, config)
    every = config.progress_every or (1 if device.type == "cpu" else 20)
    timings["setup"] += time.perf_counter() - t_setup

    history: list[dict[str, float]] = []
    stage1_img: Tensor | None = None
    ran_stage2 = False
    result: Tensor | None = None
    count = len(levels)
    i = 1
    try:
        with cuda_flags(device.type == "cuda" and config.tf32):
            for i, level in enumerate(levels, start=1):
                t_level = t = time.perf_counter()
                c, s, c_masks, s_masks, weights = prepare(
                    content, styles, content_mask, style_masks, level.long_side,
                    level.style_long_sides)
                objective = Objective(model, features, config, c, s, c_masks, s_masks,
                                       weights, channels_last)
                if result is None:
                    start = _start_image(config, c, s, c_masks, s_masks, init_image)
                else:  # the level below, upsampled
                    with torch.no_grad():
                        start = resize(result.clamp(0, 1), (level.height, level.width))
                timings["setup"] += time.perf_counter() - t
                n1, n2 = level.iters
                t = time.perf_counter()
                result = run_stage(1, i, count, start, n1, objective, config, every, callback,
                                    history)
                timings["stage1"] += time.perf_counter() - t
                if n1 > 0 or stage1_img is None:  # without steps: the start
                    stage1_img = result.clamp(0, 1)
                if n2 > 0:
                    t = time.perf_counter()
                    objective.add_matting(levels[-1].height * levels[-1].width)
                    timings["laplacian"] += time.perf_counter() - t
                    t = time.perf_counter()
                    result = run_stage(2, i, count, result, n2, objective, config, every,
                                        callback, history)
                    timings["stage2"] += time.perf_counter() - t
                    ran_stage2 = True
                objective = None  # free this level's targets and Laplacian before the next
                timings[f"level{i}"] = time.perf_counter() - t_level
    except (TransferInterrupted, TransferDiverged) as exc:
        if exc.image is not None and tuple(exc.image.shape[-2:]) != work:
            with torch.no_grad():
                exc.image = resize(exc.image, requested or work)
        raise
    except KeyboardInterrupt as exc:  # setting up a level: the level below's result is kept
        best = None
        if result is not None:
            with torch.no_grad():
                best = resize(result.clamp(0, 1), requested or work)
        raise TransferInterrupted(best, 0, 0, i, f"while setting up level {i}") from exc
    finally:
        model.ceil_mode = ceil_mode
        if channels_last:
            model.to(memory_format=torch.contiguous_format)

    final = result.clamp(0, 1)
    try:
        return _finish(final, stage1_img, ran_stage2, content, c, requested, config, history,
                       timings, levels)
    except KeyboardInterrupt as exc:  # the post-process: keep the optimization's result
        with torch.no_grad():
            best = final if requested is None else resize(final, requested)
        raise TransferInterrupted(best, 3, 0, len(levels), "during the post-process") from exc


def _finish(final: Tensor, stage1_img: Tensor, ran_stage2: bool, content: Tensor, c: Tensor,
            requested: tuple[int, int] | None, config: Config,
            history: list[dict[str, float]], timings: dict[str, float],
            levels: tuple[Level, ...]) -> TransferResult:
    """The post-process (and the fit to the requested size, the original colours) of the
    optimization's result ``final`` at the working size of ``c``."""
    size = final.shape[-2:]
    with torch.no_grad():
        stage1_img = resize(stage1_img, size)
    stage2_img = final if ran_stage2 else None
    t = time.perf_counter()
    with torch.no_grad():
        if requested is not None:
            # fit_memory: the colours of the smaller result mapped onto the full-size content
            # (the post-process fitted at the working size, applied at the requested one).
            full = resize(content, requested)
            final = local_affine_post(resize(final, requested), full, radius=config.post_radius,
                                      eps=config.post_eps,
                                      smooth_radius=config.post_smooth_radius,
                                      sigma_range=config.post_sigma,
                                      scale=max(size) / max(requested))
        elif config.use_post:
            final = local_affine_post(final, c, radius=config.post_radius,
                                      eps=config.post_eps,
                                      smooth_radius=config.post_smooth_radius,
                                      sigma_range=config.post_sigma)
        if config.original_colors:  # last: the content's chrominance, the result's luminance
            final = keep_original_colors(final, resize(content, tuple(final.shape[-2:])))
    if requested is not None or config.use_post or config.original_colors:
        timings["post"] = time.perf_counter() - t
    return TransferResult(final, stage1_img, stage2_img, history, timings, levels)
