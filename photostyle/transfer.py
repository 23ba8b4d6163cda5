"""The two-stage optimization of Deep Photo Style Transfer, coarse to fine, and the Python API.

Stage 1 minimizes content + masked style + total-variation losses, starting from the content
image (or noise, or the content's regional colour transfer). Stage 2 starts from stage 1's
result and adds the photorealism regularizer λ·Σ_c V_cᵀ L V_c / N built from the content's
matting Laplacian. The result is then passed through the local-affine post-process (the
paper's "best local affine" output).

Differences from the paper (which runs 1000 + 1000 steps at the final size, ``quality="max"``
here): by default the stages run over an image pyramid (:data:`photostyle.config.QUALITY`),
each level starting from the upsampled result of the level below, with its own style targets,
masks, content target and matting Laplacian; stage 1 runs at the coarsest level only, where a
step costs 1/16 of a full-size one. The optimizer is an L-BFGS with the paper's settings that
never reads a value back from the device (:mod:`photostyle.optim`), the masked Gram losses are
computed on each label's support only with a fused backward, and the loss is read back every
``progress_every`` steps.

Reference: F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from matting import MattingRegularizer, local_affine_post
from segment import mask_pyramid

from .color_transfer import regional_color_transfer
from .config import Config
from .errors import InputError
from .histogram import HistogramLoss, histogram_target
from .images import MIN_SIDE, fit_long_side, resize
from .losses import ContentLoss, style_targets, tv_loss
from .memory import check_memory
from .optim import LBFGS
from .original_colors import keep_original_colors
from .vgg import VGG19Features, deepest, layer_ops

_TINY = 1e-12  # as photostyle.losses


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
        ``Config.style_loss``), ``tv``, and ``matting`` in stage 2.
    total : float
        Their sum.
    elapsed : float
        Seconds since the stage started (at this level).
    image : Tensor
        The current image ``(1,3,h,w)`` at this level's size (live optimizer state: read it,
        copy it to keep it, never modify it).
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


@dataclass(frozen=True)
class Level:
    """One level of the coarse-to-fine pyramid.

    Attributes
    ----------
    long_side : int
        Long side of the content (and of the style) at this level.
    height, width : int
        The content's size at this level.
    iters : (int, int)
        Steps of stage 1 and stage 2 run at this level.
    style_long_sides : tuple of int
        Long side of each style image at this level: ``long_side`` times
        ``Config.style_scale`` (with ``Config.size`` None, each image's own long side at the
        finest level, halved per level below, times ``style_scale``).
    """

    long_side: int
    height: int
    width: int
    iters: tuple[int, int]
    style_long_sides: tuple[int, ...]


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
    """Raised when the run is interrupted (Ctrl-C); carries the best image so far.

    Attributes
    ----------
    image : Tensor or None
        The lowest-loss image of the stage that was running (or that stage's start), clamped
        to [0, 1] and upsampled to the working size when a coarser level was running.
    stage, step, level : int
        Where the run stopped.
    """

    def __init__(self, image: Tensor | None, stage: int, step: int, level: int = 1) -> None:
        where = f"level {level}, " if level > 1 else ""
        super().__init__(f"interrupted in {where}stage {stage} at step {step}")
        self.image = image
        self.stage = stage
        self.step = step
        self.level = level


Callback = Callable[[StepInfo], None]


def _sizes(style_size: tuple[int, int] | Sequence[tuple[int, int]] | None,
           content_size: tuple[int, int]) -> list[tuple[int, int]]:
    """One ``(h, w)`` per style image (the content's when none is given)."""
    if style_size is None:
        return [tuple(int(v) for v in content_size)]
    if len(style_size) == 2 and all(isinstance(v, (int, np.integer)) for v in style_size):
        return [tuple(int(v) for v in style_size)]  # one (h, w)
    return [tuple(int(v) for v in hw) for hw in style_size]


def plan_levels(config: Config, content_size: tuple[int, int],
                style_size: tuple[int, int] | Sequence[tuple[int, int]] | None = None,
                ) -> tuple[Level, ...]:
    """The pyramid a transfer runs for inputs of these sizes (before resizing).

    Level ``i`` of ``L`` has the long side ``round(S / 2**(L-1-i))``, ``S`` the working long
    side (``config.size``, or the content's own). Coarse levels where the content's or a
    style's short side would be under ``config.min_level_side`` are dropped and their steps
    added to the coarsest level that runs. ``style_size`` is one ``(h, w)`` or one per style.
    """
    steps = config.level_steps
    h0, w0 = (int(v) for v in content_size)
    styles = _sizes(style_size, (h0, w0))
    top = config.size if config.size is not None else max(h0, w0)
    style_tops = [config.size if config.size is not None else max(hw) for hw in styles]
    levels: list[Level] = []
    carry = (0, 0)
    count = len(steps)
    for i, (n1, n2) in enumerate(steps):
        scale = 2 ** (count - 1 - i)
        side = max(1, round(top / scale))
        style_sides = tuple(max(1, round(t * config.style_scale / scale)) for t in style_tops)
        h, w = fit_long_side(h0, w0, side)
        short = min(h, w, *(min(fit_long_side(*hw, s)) for hw, s in zip(styles, style_sides,
                                                                         strict=True)))
        n1, n2 = n1 + carry[0], n2 + carry[1]
        if i < count - 1 and short < config.min_level_side:
            carry = (n1, n2)
            continue
        carry = (0, 0)
        levels.append(Level(side, h, w, (n1, n2), style_sides))
    return tuple(levels)


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


def _as_styles(styles: Sequence[Tensor]) -> list[Tensor]:
    """:func:`_as_image` of each style image (named "style", or "style 2" … when several)."""
    if len(styles) == 1:
        return [_as_image(styles[0], "style")]
    return [_as_image(s, f"style {i}") for i, s in enumerate(styles, start=1)]


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
    c, styles, c_masks, s_masks, weights = _prepare(
        content, [style], content_mask, None if style_mask is None else [style_mask], size,
        (size,))
    return c, styles[0], c_masks, None if s_masks is None else s_masks[0], weights


def _prepare(content: Tensor, styles: Sequence[Tensor],
             content_mask: np.ndarray | Tensor | None,
             style_masks: Sequence[np.ndarray | Tensor] | None, size: int | None,
             style_sizes: Sequence[int | None],
             ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor] | None, Tensor | None]:
    """:func:`prepare_inputs` for several styles, each with its own long side."""
    content = _as_image(content, "content")
    styles = _as_styles(styles)
    if (content_mask is None) != (style_masks is None):
        raise InputError("give both a content mask and a style mask, or neither")
    c_size = fit_long_side(*content.shape[-2:], size)
    s_sizes = [fit_long_side(*s.shape[-2:], side)
               for s, side in zip(styles, style_sizes, strict=True)]
    if min(c_size + sum(s_sizes, ())) < MIN_SIDE:
        hint = " or --style-scale" if any(s != size for s in style_sizes) else ""
        raise InputError(f"at size {size} an image would be under {MIN_SIDE} px on a side;"
                         f" use a larger --size{hint}")
    with torch.no_grad():
        content = resize(content, c_size)
        styles = [resize(s.to(device=content.device, dtype=content.dtype), hw)
                  for s, hw in zip(styles, s_sizes, strict=True)]
    if content_mask is None:
        return content, styles, None, None, None
    c_masks = weights = None
    s_masks = []
    for mask, hw in zip(style_masks, s_sizes, strict=True):
        c_masks, s, weights = prepare_masks(content_mask, mask, c_size, hw, content)
        s_masks.append(s)
    return content, styles, c_masks, s_masks, weights


@dataclass(frozen=True)
class _Label:
    """Constants of one label's masked Gram term at one layer."""

    index: Tensor | None  # pixels where the mask is > 0 (None: all of them)
    mask: Tensor | None  # the mask at those pixels (None: all ones)
    inv_energy: float  # 1 / Σ m²
    coef: float  # a_k / ‖S_k‖²
    target: Tensor  # S_k (C, C)


def _pixels(features: Tensor) -> tuple[Tensor, int]:
    """A 2-D view of ``(1,C,h,w)`` features and its pixel dimension: ``(C, N)`` for NCHW,
    ``(N, C)`` for channels-last tensors (no copy either way)."""
    c = features.shape[1]
    if features.is_contiguous():
        return features.reshape(c, -1), 1
    if features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(-1, c), 0
    return features.contiguous().reshape(c, -1), 1


def _gather(flat: Tensor, dim: int, label: _Label, power: int = 1) -> Tensor:
    """The label's pixels of ``flat`` times its mask to the ``power`` (a new tensor)."""
    if label.index is None:
        w = flat.clone() if label.mask is not None else flat
    else:
        w = flat.index_select(dim, label.index)
    if label.mask is not None:
        m = label.mask if power == 1 else label.mask.square()
        w.mul_(m[None] if dim == 1 else m[:, None])
    return w


class _MaskedGramLoss(torch.autograd.Function):
    """Σ_k a_k ‖G_k − S_k‖² / ‖S_k‖² of one layer (:func:`photostyle.losses.style_loss`), each
    Gram computed on its label's support only, with the backward fused into one product per
    label: ∂/∂F = Σ_k 4 a_k (G_k − S_k) (F ⊙ m_k²) / (‖S_k‖² Σm_k²) on the support. Saves only
    the residuals (the features are saved by the network's own backward anyway)."""

    @staticmethod
    def forward(ctx: FunctionCtx, features: Tensor, labels: tuple[_Label, ...]) -> Tensor:
        flat, dim = _pixels(features)
        total = flat.new_zeros(())
        residuals = []
        for label in labels:
            w = _gather(flat, dim, label)
            gram = w @ w.T if dim == 1 else w.T @ w
            res = gram.mul_(label.inv_energy).sub_(label.target)
            total = total + label.coef * res.square().sum()
            residuals.append(res)
        ctx.save_for_backward(features, *residuals)
        ctx.labels = labels
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> tuple[Tensor, None]:
        features, *residuals = ctx.saved_tensors
        flat, dim = _pixels(features)
        grad = torch.zeros_like(flat)
        for label, res in zip(ctx.labels, residuals, strict=True):
            w2 = _gather(flat, dim, label, power=2)  # (R W) ⊙ m = R (F ⊙ m²), column-wise
            r = res * (grad_output * (4.0 * label.coef * label.inv_energy))
            dw = r @ w2 if dim == 1 else w2 @ r
            if label.index is None:
                grad.add_(dw)
            else:
                grad.index_add_(dim, label.index, dw)
        if dim == 1:
            return grad.view_as(features), None
        n, c, h, w = features.shape
        return grad.reshape(n, h, w, c).permute(0, 3, 1, 2), None


def _blend(config: Config, count: int) -> list[float]:
    """The styles' mixing weights, normalized to sum 1 (equal when not given)."""
    weights = config.style_blend_weights
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise InputError(f"{len(weights)} style blend weights for {count} style images; give "
                         "one weight per style")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def _style_labels(targets: Tensor, masks: Tensor | None, weights: Tensor | None,
                  pixels: int) -> tuple[_Label, ...]:
    """The per-label constants of one style layer (masks at the layer's size, ``pixels`` of
    the content's features there)."""
    energies = targets.flatten(1).square().sum(1).clamp_min(torch.finfo(targets.dtype).tiny)
    if masks is None:
        coef = 1.0 if weights is None else float(weights[0])
        return (_Label(None, None, 1.0 / pixels, coef / float(energies[0]), targets[0]),)
    flat = masks.flatten(1)
    shares = weights.tolist() if weights is not None else None
    out = []
    for k in range(flat.shape[0]):
        share = shares[k] if shares is not None else float(flat[k].mean())
        if share <= 0:
            continue
        m = flat[k]
        support = m > 0
        index = None
        if float(support.float().mean()) < 0.9:  # gather only where the mask is non-zero
            index = support.nonzero().squeeze(1)
            m = m[index]
        mask = None if bool((m == 1).all()) else m
        inv = 1.0 / (float(m.square().sum()) + _TINY)
        out.append(_Label(index, mask, inv, share / float(energies[k]), targets[k]))
    return tuple(out)


class _Objective:
    """Weighted loss terms at one level, with targets computed once (in inference mode).

    Several style images are blended as jcjohnson/neural-style does: each label's Gram target
    is the blend of the styles' Gram matrices; the histogram targets are the quantiles of the
    blended distributions (:func:`photostyle.histogram.histogram_target`).
    """

    def __init__(self, model: VGG19Features, features: Callable[..., dict[str, Tensor]],
                 config: Config, content: Tensor, styles: Sequence[Tensor],
                 content_masks: Tensor | None, style_masks: Sequence[Tensor] | None,
                 region_weights: Tensor | None, channels_last: bool) -> None:
        self.features = features
        self.config = config
        self.channels_last = channels_last
        self.layers = config.feature_layers
        style_layers = tuple(dict.fromkeys(config.gram_layers + config.histogram_loss_layers))
        blend = _blend(config, len(styles))
        with torch.inference_mode():
            c_feats = model(content, config.content_layers)
            s_feats = [model(s, style_layers) for s in styles]
        c_feats = {k: v.clone() for k, v in c_feats.items()}  # normal tensors: usable in autograd
        s_feats = [{k: v.clone() for k, v in f.items()} for f in s_feats]
        ops = layer_ops(model.names)
        c_pyr: dict[str, Tensor] | None = None
        s_pyrs: list[dict[str, Tensor | None]] = [dict.fromkeys(style_layers) for _ in styles]
        with torch.no_grad():
            if content_masks is not None:
                c_pyr = dict(zip(model.names, mask_pyramid(content_masks, ops), strict=True))
                s_pyrs = [dict(zip(model.names, mask_pyramid(m, ops), strict=True))
                          for m in style_masks]
            self.content_losses = {name: ContentLoss(c_feats[name])
                                   for name in config.content_layers}
            self.style_terms: dict[str, tuple[_Label, ...]] = {}
            for name in config.gram_layers:
                c_mask = None if c_pyr is None else c_pyr[name]
                targets = sum(b * style_targets(f[name], p[name])
                              for b, f, p in zip(blend, s_feats, s_pyrs, strict=True))
                h, w = content.shape[-2:]
                n_pools = sum(1 for n in model.names[: model.names.index(name)]
                              if n.startswith("pool"))
                pixels = (h >> n_pools) * (w >> n_pools)
                self.style_terms[name] = _style_labels(targets, c_mask, region_weights,
                                                       pixels)
            self.histogram_terms: dict[str, HistogramLoss] = {}
            for name in config.histogram_loss_layers:
                c_mask = None if c_pyr is None else c_pyr[name]
                labels = 1 if c_mask is None else c_mask.shape[0]
                targets = [histogram_target(
                    [f[name] for f in s_feats],
                    None if c_mask is None else [p[name][k] for p in s_pyrs], blend)
                    for k in range(labels)]
                self.histogram_terms[name] = HistogramLoss(targets, c_mask, region_weights)
        self.weights = {
            "content": config.weight("content_weight"),
            "style": config.weight("style_weight"),
            "histogram": config.weight("histogram_weight"),
            "tv": config.weight("tv_weight"),
        }
        self.matting: MattingRegularizer | None = None

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        x = image.contiguous(memory_format=torch.channels_last) if self.channels_last else image
        autocast = (torch.autocast(image.device.type, dtype=torch.bfloat16)
                    if self.config.autocast else nullcontext())
        with autocast:
            feats = self.features(x, self.layers)
        if self.config.autocast:  # losses in the image's precision
            feats = {k: v.to(image.dtype) for k, v in feats.items()}
        terms = {
            "content": self.weights["content"]
            * sum(loss(feats[name]) for name, loss in self.content_losses.items()),
        }
        if self.style_terms:
            terms["style"] = self.weights["style"] * sum(
                _MaskedGramLoss.apply(feats[name], labels)
                for name, labels in self.style_terms.items())
        if self.histogram_terms:
            terms["histogram"] = self.weights["histogram"] * sum(
                loss(feats[name]) for name, loss in self.histogram_terms.items())
        terms["tv"] = self.weights["tv"] * tv_loss(image)
        if self.matting is not None:
            terms["matting"] = self.matting(image)
        total = sum(terms.values())
        return total, terms


@contextmanager
def _cuda_flags(enabled: bool) -> Iterator[None]:
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


def _run_stage(stage: int, level: int, levels: int, start: Tensor, steps: int,
               objective: _Objective, config: Config, every: int, callback: Callback | None,
               history: list[dict[str, float]]) -> Tensor:
    """Optimize the image from ``start`` for ``steps`` steps; returns the final image.

    Nothing is read back from the device except every ``every`` steps and at the last one;
    the lowest-loss image is tracked on the device (for Ctrl-C).
    """
    x = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    if steps == 0:
        return x.detach()
    if config.optimizer == "lbfgs":
        # One function evaluation per step and no line search, as optim.lbfgs in the Lua code,
        # never stopping early (tolX = tolFun = -1 there); see photostyle.optim.
        opt: LBFGS | torch.optim.Adam = LBFGS(x, history_size=config.history_size)
    else:
        opt = torch.optim.Adam([x], lr=config.lr)
    best = x.detach().clone()
    best_loss = torch.full((), math.inf, dtype=x.dtype, device=x.device)
    t0 = time.perf_counter()
    step = 0
    try:
        for step in range(1, steps + 1):
            x.grad = None
            total, terms = objective(x)
            total.backward()
            loss = total.detach()
            better = loss < best_loss  # the image this loss belongs to, before the step
            best = torch.where(better, x.detach(), best)
            best_loss = torch.where(better, loss, best_loss)
            if isinstance(opt, LBFGS):
                opt.step(x.grad)
            else:
                opt.step()
            if step % every and step != steps:
                continue
            value = float(loss)  # the only host-device synchronization of the loop
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"stage {stage}: the loss became {value} by step {step}; lower the weights "
                    "or use --optimizer adam")
            losses = {k: float(v.detach()) for k, v in terms.items()}
            elapsed = time.perf_counter() - t0
            history.append({"level": level, "stage": stage, "step": step, "elapsed": elapsed,
                            "total": value, **losses})
            if callback is not None:
                callback(StepInfo(stage, step, steps, losses, value, elapsed, x.detach(),
                                  level, levels))
    except KeyboardInterrupt as exc:
        raise TransferInterrupted(best.clamp(0, 1), stage, step, level) from exc
    return x.detach()


def _start_image(config: Config, content: Tensor, styles: Sequence[Tensor],
                 c_masks: Tensor | None, s_masks: Sequence[Tensor] | None) -> Tensor:
    if config.start == "noise":
        gen = torch.Generator().manual_seed(config.seed)
        return torch.rand(content.shape, generator=gen).to(content.device, content.dtype)
    if config.start == "transfer":  # regional colour transfer (the preview, before its post)
        # Several styles: the colours of the one with the largest blend weight.
        blend = _blend(config, len(styles))
        i = blend.index(max(blend))
        with torch.no_grad():
            return regional_color_transfer(content, styles[i], c_masks,
                                           None if s_masks is None else s_masks[i],
                                           method=config.transfer_method,
                                           space=config.transfer_space,
                                           blend_radius=config.transfer_blend)
    return content


def _matting(content: Tensor, config: Config) -> MattingRegularizer:
    return MattingRegularizer(content, eps=config.matting_eps, radius=config.matting_radius,
                              weight=config.weight("matting_weight"),
                              operator=config.matting_operator)


def _label_count(mask: np.ndarray | Tensor | None) -> int:
    if mask is None:
        return 1
    return int(np.unique(np.asarray(mask.cpu() if isinstance(mask, Tensor) else mask)).size)


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
        dtype (``Module.to``, in place); its memory format is restored after the run.

    Returns
    -------
    TransferResult
        The final image, stage images, the loss history, the timings and the levels run.

    Raises
    ------
    TransferInterrupted
        On KeyboardInterrupt, carrying the best image so far.
    InputError, WeightsError
        Bad inputs; weights not available; a working size whose estimated memory exceeds the
        budget (:mod:`photostyle.memory`; the message names a size that fits) unless
        ``config.fit_memory``.
    """
    config = config or Config()
    timings: dict[str, float] = {"setup": 0.0, "laplacian": 0.0, "stage1": 0.0, "stage2": 0.0}
    t_setup = time.perf_counter()
    content = _as_image(content, "content")
    styles = [style] if isinstance(style, Tensor) else list(style)
    if not styles:
        raise InputError("give at least one style image")
    styles = _as_styles(styles)
    if (content_mask is None) != (style_mask is None):
        raise InputError("give both a content mask and a style mask, or neither")
    style_masks = None
    if style_mask is not None:
        single = isinstance(style_mask, (np.ndarray, Tensor))
        style_masks = [style_mask] if single else list(style_mask)
        if len(style_masks) != len(styles):
            raise InputError(f"{len(style_masks)} style masks for {len(styles)} style images; "
                             "give one mask per style")
    _blend(config, len(styles))  # check the blend weights before any work
    device, dtype = content.device, content.dtype
    style_sizes = [tuple(s.shape[-2:]) for s in styles]
    levels = plan_levels(config, content.shape[-2:], style_sizes)
    work = (levels[-1].height, levels[-1].width)
    fit_side = check_memory(*work, config, device, dtype, _label_count(content_mask))
    requested: tuple[int, int] | None = None
    if fit_side is not None:
        requested = work
        levels = plan_levels(config.replace(size=fit_side), content.shape[-2:], style_sizes)
    if model is None:
        last = deepest(config.feature_layers)
        model = VGG19Features(config.vgg_weights, last=last, pooling=config.pooling,
                              seed=config.seed)
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
    try:
        with _cuda_flags(device.type == "cuda" and config.tf32):
            for i, level in enumerate(levels, start=1):
                t_level = t = time.perf_counter()
                c, s, c_masks, s_masks, weights = _prepare(
                    content, styles, content_mask, style_masks, level.long_side,
                    level.style_long_sides)
                objective = _Objective(model, features, config, c, s, c_masks, s_masks,
                                       weights, channels_last)
                if result is None:
                    start = _start_image(config, c, s, c_masks, s_masks)
                else:  # the level below, upsampled
                    with torch.no_grad():
                        start = resize(result.clamp(0, 1), (level.height, level.width))
                timings["setup"] += time.perf_counter() - t
                n1, n2 = level.iters
                t = time.perf_counter()
                result = _run_stage(1, i, count, start, n1, objective, config, every, callback,
                                    history)
                timings["stage1"] += time.perf_counter() - t
                if n1 > 0 or stage1_img is None:  # without steps: the start
                    stage1_img = result.clamp(0, 1)
                if n2 > 0:
                    t = time.perf_counter()
                    objective.matting = _matting(c, config)
                    timings["laplacian"] += time.perf_counter() - t
                    t = time.perf_counter()
                    result = _run_stage(2, i, count, result, n2, objective, config, every,
                                        callback, history)
                    timings["stage2"] += time.perf_counter() - t
                    ran_stage2 = True
                objective = None  # free this level's targets and Laplacian before the next
                timings[f"level{i}"] = time.perf_counter() - t_level
    except TransferInterrupted as exc:
        if exc.image is not None and tuple(exc.image.shape[-2:]) != work:
            with torch.no_grad():
                exc.image = resize(exc.image, requested or work)
        raise
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)

    final = result.clamp(0, 1)
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
