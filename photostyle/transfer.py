"""The two-stage optimization of Deep Photo Style Transfer and the Python API.

Stage 1 minimizes content + masked style + total-variation losses, starting from the content
image (or noise, or the content's regional colour transfer). Stage 2 starts from stage 1's
result and adds the photorealism regularizer λ·Σ_c V_cᵀ L V_c / N built from the content's
matting Laplacian. The result is then passed through the local-affine post-process (the
paper's "best local affine" output).

Reference: F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from matting import MattingRegularizer, local_affine_post
from segment import mask_pyramid

from .color_transfer import regional_color_transfer
from .config import Config
from .errors import InputError
from .images import MIN_SIDE, fit_long_side, resize
from .losses import ContentLoss, StyleLoss, style_targets, tv_loss
from .vgg import VGG19Features, deepest, layer_ops


@dataclass(frozen=True)
class StepInfo:
    """What the callback receives after each optimizer step.

    Attributes
    ----------
    stage : int
        1 (style) or 2 (style + matting).
    step, steps : int
        This step (1-based) and the stage's number of steps.
    losses : dict of str to float
        Each weighted loss term (``content``, ``style``, ``tv``, and ``matting`` in stage 2).
    total : float
        Their sum.
    elapsed : float
        Seconds since the stage started.
    image : Tensor
        The current image ``(1,3,H,W)`` (live optimizer state: read it, copy it to keep it,
        never modify it).
    """

    stage: int
    step: int
    steps: int
    losses: dict[str, float]
    total: float
    elapsed: float
    image: Tensor = field(repr=False)


@dataclass
class TransferResult:
    """Images and measurements of a transfer.

    Attributes
    ----------
    image : Tensor
        Final image ``(1,3,H,W)`` in [0, 1] (after the post-process when enabled).
    stage1 : Tensor
        Stage 1's result, clamped to [0, 1].
    stage2 : Tensor or None
        Stage 2's result before the post-process (``None`` if stage 2 had no steps).
    history : list of dict
        One row per step: stage, step, elapsed, and each loss term.
    timings : dict of str to float
        Wall-clock seconds of each phase (``setup``, ``laplacian``, ``stage1``, ``stage2``,
        ``post``).
    """

    image: Tensor
    stage1: Tensor
    stage2: Tensor | None
    history: list[dict[str, float]]
    timings: dict[str, float]


class TransferInterrupted(KeyboardInterrupt):
    """Raised when the run is interrupted (Ctrl-C); carries the best image so far.

    Attributes
    ----------
    image : Tensor or None
        The lowest-loss image reached so far, clamped to [0, 1] (``None`` if no step finished).
    stage, step : int
        Where the run stopped.
    """

    def __init__(self, image: Tensor | None, stage: int, step: int) -> None:
        super().__init__(f"interrupted in stage {stage} at step {step}")
        self.image = image
        self.stage = stage
        self.step = step


Callback = Callable[[StepInfo], None]


def _as_image(image: Tensor, name: str) -> Tensor:
    if not isinstance(image, Tensor):
        raise InputError(f"{name} must be a torch.Tensor (1,3,H,W) in [0, 1]")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise InputError(f"{name} must have shape (1,3,H,W) or (3,H,W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor in [0, 1], got {image.dtype}")
    if min(image.shape[-2:]) < MIN_SIDE:
        raise InputError(f"{name} is {image.shape[-1]}x{image.shape[-2]} px; VGG-19 needs at "
                         f"least {MIN_SIDE} px on each side")
    return image


def _as_labels(mask: np.ndarray | Tensor, name: str) -> Tensor:
    labels = torch.as_tensor(np.array(mask.cpu() if isinstance(mask, Tensor) else mask))
    if labels.dim() != 2 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise InputError(f"{name} must be an integer label map (H,W), got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    if labels.numel() and int(labels.min()) < 0:
        raise InputError(f"{name} has negative labels")
    return labels.long()


def _onehot(labels: Tensor, num: int, size: tuple[int, int], like: Tensor) -> Tensor:
    """``(K,h,w)`` one-hot masks of a label map resized (nearest) to ``size``."""
    resized = F.interpolate(labels[None, None].float(), size=size, mode="nearest")[0, 0].long()
    return F.one_hot(resized, num).permute(2, 0, 1).to(device=like.device, dtype=like.dtype)


def prepare_masks(content_mask: np.ndarray | Tensor, style_mask: np.ndarray | Tensor,
                  content_size: tuple[int, int], style_size: tuple[int, int],
                  like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One-hot masks on the working sizes and each label's weight (its share of the content).

    Labels used only by the style are dropped; a content label absent from the style gets an
    all-ones style mask, i.e. the whole style image's statistics.

    Returns
    -------
    content_masks : Tensor
        ``(K,Hc,Wc)``.
    style_masks : Tensor
        ``(K,Hs,Ws)``.
    weights : Tensor
        ``(K,)``, summing to 1.
    """
    c_labels = _as_labels(content_mask, "content mask")
    s_labels = _as_labels(style_mask, "style mask")
    num = int(max(c_labels.max(), s_labels.max())) + 1
    c = _onehot(c_labels, num, content_size, like)
    s = _onehot(s_labels, num, style_size, like)
    c_area = c.flatten(1).sum(1)
    keep = c_area > 0
    s_area = s.flatten(1).sum(1)
    s = torch.where((s_area == 0)[:, None, None], torch.ones_like(s), s)
    c, s, c_area = c[keep], s[keep], c_area[keep]
    return c, s, c_area / c_area.sum()


def prepare_inputs(content: Tensor, style: Tensor, content_mask: np.ndarray | Tensor | None,
                   style_mask: np.ndarray | Tensor | None, size: int | None,
                   ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Check the inputs, resize both images to ``size`` on their long side, build the masks.

    Returns
    -------
    content, style : Tensor
        ``(1,3,h,w)`` working images (style on the content's device and dtype).
    content_masks, style_masks, weights : Tensor or None
        As :func:`prepare_masks`, or ``None`` without masks.
    """
    content = _as_image(content, "content")
    style = _as_image(style, "style").to(device=content.device, dtype=content.dtype)
    if (content_mask is None) != (style_mask is None):
        raise InputError("give both a content mask and a style mask, or neither")
    c_size = fit_long_side(*content.shape[-2:], size)
    s_size = fit_long_side(*style.shape[-2:], size)
    if min(c_size + s_size) < MIN_SIDE:
        raise InputError(f"at size {size} an image would be under {MIN_SIDE} px on a side;"
                         " use a larger --size")
    with torch.no_grad():
        content = resize(content, c_size)
        style = resize(style, s_size)
    if content_mask is None:
        return content, style, None, None, None
    c_masks, s_masks, weights = prepare_masks(content_mask, style_mask, c_size, s_size, content)
    return content, style, c_masks, s_masks, weights


class _Objective:
    """Weighted loss terms of one stage, with targets computed once."""

    def __init__(self, model: VGG19Features, config: Config, content: Tensor, style: Tensor,
                 content_masks: Tensor | None, style_masks: Tensor | None,
                 region_weights: Tensor | None) -> None:
        self.model = model
        self.config = config
        self.layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
        with torch.no_grad():
            c_feats = model(content, config.content_layers)
            s_feats = model(style, config.style_layers)
        ops = layer_ops(model.names)
        c_pyr = s_pyr = None
        if content_masks is not None:
            c_pyr = dict(zip(model.names, mask_pyramid(content_masks, ops), strict=True))
            s_pyr = dict(zip(model.names, mask_pyramid(style_masks, ops), strict=True))
        self.content_losses = {name: ContentLoss(c_feats[name]) for name in config.content_layers}
        self.style_losses = {}
        for name in config.style_layers:
            s_mask = None if s_pyr is None else s_pyr[name]
            c_mask = None if c_pyr is None else c_pyr[name]
            targets = style_targets(s_feats[name], s_mask)
            self.style_losses[name] = StyleLoss(targets, c_mask, region_weights)
        self.weights = {
            "content": config.weight("content_weight"),
            "style": config.weight("style_weight"),
            "tv": config.weight("tv_weight"),
        }
        self.matting: MattingRegularizer | None = None

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self.model(image, self.layers)
        terms = {
            "content": self.weights["content"]
            * sum(loss(feats[name]) for name, loss in self.content_losses.items()),
            "style": self.weights["style"]
            * sum(loss(feats[name]) for name, loss in self.style_losses.items()),
            "tv": self.weights["tv"] * tv_loss(image),
        }
        if self.matting is not None:
            terms["matting"] = self.matting(image)
        total = sum(terms.values())
        return total, terms


def _run_stage(stage: int, start: Tensor, steps: int, objective: _Objective, config: Config,
               callback: Callback | None, history: list[dict[str, float]]) -> Tensor:
    """Optimize the image from ``start`` for ``steps`` steps; returns the final image."""
    x = start.detach().clone().requires_grad_(True)
    if steps == 0:
        return x.detach()
    if config.optimizer == "lbfgs":
        # One function evaluation per step and no line search, as optim.lbfgs in the Lua code;
        # tolerances < 0 so it never stops early (tolX = tolFun = -1 there).
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [x], lr=1.0, max_iter=1, history_size=config.history_size,
            tolerance_grad=-1.0, tolerance_change=-1.0, line_search_fn=None)
    else:
        opt = torch.optim.Adam([x], lr=config.lr)
    best_loss = float("inf")
    best: Tensor | None = None
    last_terms: dict[str, Tensor] = {}
    last_total: list[Tensor] = []

    def closure() -> Tensor:
        nonlocal best, best_loss
        opt.zero_grad(set_to_none=False)
        total, terms = objective(x)
        total.backward()
        last_terms.clear()
        last_terms.update(terms)
        last_total[:] = [total.detach()]
        value = float(total.detach())
        if value < best_loss:  # the image this loss belongs to, before the optimizer moves it
            best_loss = value
            best = x.detach().clamp(0, 1).clone()
        return total

    t0 = time.perf_counter()
    step = 0
    try:
        for step in range(1, steps + 1):
            if config.optimizer == "lbfgs":
                opt.step(closure)
            else:
                closure()
                opt.step()
            total = float(last_total[0])
            if not np.isfinite(total):
                raise FloatingPointError(
                    f"stage {stage}: the loss became {total} at step {step}; lower the weights "
                    "or use --optimizer adam")
            losses = {k: float(v.detach()) for k, v in last_terms.items()}
            elapsed = time.perf_counter() - t0
            history.append({"stage": stage, "step": step, "elapsed": elapsed, "total": total,
                            **losses})
            if callback is not None:
                callback(StepInfo(stage, step, steps, losses, total, elapsed, x.detach()))
    except KeyboardInterrupt as exc:
        image = best if best is not None else start.detach().clamp(0, 1).clone()
        raise TransferInterrupted(image, stage, step) from exc
    return x.detach()


def transfer(content: Tensor, style: Tensor, content_mask: np.ndarray | Tensor | None = None,
             style_mask: np.ndarray | Tensor | None = None, *, config: Config | None = None,
             callback: Callback | None = None,
             model: VGG19Features | None = None) -> TransferResult:
    """Photorealistic style transfer of ``style`` onto ``content`` (Luan et al. 2017).

    Parameters
    ----------
    content, style : Tensor
        RGB images ``(1,3,H,W)`` or ``(3,H,W)`` in [0, 1]; sizes may differ. Device and dtype of
        the work follow ``content``. Both are resized to ``config.size`` on their long side.
    content_mask, style_mask : array or Tensor, optional
        Integer label maps ``(H,W)`` over one shared label set (e.g. from
        :func:`segment.align_masks`), each the size of its image (resized with nearest
        neighbour). Give both or neither; without masks the whole images are matched.
    config : Config, optional
        Settings (default ``Config()``).
    callback : callable, optional
        Called with a :class:`StepInfo` after every optimizer step.
    model : VGG19Features, optional
        A prebuilt feature network to reuse between calls (must reach the deepest layer used);
        default: built from ``config.vgg_weights``.

    Returns
    -------
    TransferResult
        The final image, each stage's image, the loss history and the timings.

    Raises
    ------
    TransferInterrupted
        On KeyboardInterrupt, carrying the best image so far.
    InputError, WeightsError
        Bad inputs; weights not available.
    """
    config = config or Config()
    timings: dict[str, float] = {}
    t_setup = time.perf_counter()
    content, style, c_masks, s_masks, weights = prepare_inputs(
        content, style, content_mask, style_mask, config.size)
    if model is None:
        last = deepest(config.content_layers + config.style_layers)
        model = VGG19Features(config.vgg_weights, last=last, pooling=config.pooling,
                              seed=config.seed)
    model = model.to(device=content.device, dtype=content.dtype)
    objective = _Objective(model, config, content, style, c_masks, s_masks, weights)
    if config.init == "noise":
        gen = torch.Generator().manual_seed(config.seed)
        start = torch.rand(content.shape, generator=gen).to(content.device, content.dtype)
    elif config.init == "transfer":  # regional colour transfer (the preview, before its post)
        with torch.no_grad():
            start = regional_color_transfer(content, style, c_masks, s_masks,
                                            method=config.transfer_method,
                                            space=config.transfer_space,
                                            blend_radius=config.transfer_blend)
    else:
        start = content
    timings["setup"] = time.perf_counter() - t_setup

    history: list[dict[str, float]] = []
    t = time.perf_counter()
    stage1 = _run_stage(1, start, config.iters[0], objective, config, callback, history)
    timings["stage1"] = time.perf_counter() - t
    stage1_img = stage1.clamp(0, 1)

    stage2_img: Tensor | None = None
    result = stage1
    if config.iters[1] > 0:
        t = time.perf_counter()
        objective.matting = MattingRegularizer(
            content, eps=config.matting_eps, radius=config.matting_radius,
            weight=config.weight("matting_weight"))
        timings["laplacian"] = time.perf_counter() - t
        t = time.perf_counter()
        try:
            result = _run_stage(2, stage1, config.iters[1], objective, config, callback, history)
        except TransferInterrupted as exc:
            if exc.image is None:
                exc.image = stage1_img
            raise
        timings["stage2"] = time.perf_counter() - t
        stage2_img = result.clamp(0, 1)

    final = result.clamp(0, 1)
    if config.post:
        t = time.perf_counter()
        with torch.no_grad():
            final = local_affine_post(final, content, radius=config.post_radius,
                                      eps=config.post_eps,
                                      smooth_radius=config.post_smooth_radius,
                                      sigma_range=config.post_sigma)
        timings["post"] = time.perf_counter() - t
    return TransferResult(final, stage1_img, stage2_img, history, timings)
