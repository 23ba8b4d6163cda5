"""The masked Gram style term of one layer as a fused autograd function (the per-step form of
:func:`photostyle.neural.losses.style_loss`, which stays as the readable reference it is tested
against).

Each label's Gram matrix is computed on the label's support only (:mod:`.support`), and the
backward is one product per label: ∂/∂F = Σ_k 4 c_k s_k (s_k G_k − S_k)(F ⊙ m_k²) on the
support, where ``s_k`` is the Gram's normalization and ``c_k`` the label's coefficient. The two
loss forms differ only in these constants (:func:`gram_labels`, :func:`paper_gram_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from .support import TINY, LabelSupport, label_support

__all__ = ["GramLabel", "MaskedGramLoss", "gram_labels", "paper_gram_labels"]


@dataclass(frozen=True)
class GramLabel:
    """Constants of one label's masked Gram term at one layer (fixed for a level).

    The term is ``coef · ‖inv_energy · (F m)(F m)ᵀ − target‖²``.
    """

    support: LabelSupport
    inv_energy: float  # 1 / Σ m²: the Gram's normalization
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


def _gather(flat: Tensor, dim: int, support: LabelSupport, power: int = 1) -> Tensor:
    """The label's pixels of ``flat`` times its mask to the ``power`` (a new tensor)."""
    if support.index is None:
        w = flat.clone() if support.mask is not None else flat
    else:
        w = flat.index_select(dim, support.index)
    if support.mask is not None:
        m = support.mask if power == 1 else support.mask.square()
        w.mul_(m[None] if dim == 1 else m[:, None])
    return w


class MaskedGramLoss(torch.autograd.Function):
    """Σ_k coef_k ‖inv_k (F m_k)(F m_k)ᵀ − S_k‖² of one layer's ``(1,C,h,w)`` features, with
    the backward fused; saves only the residuals (the features are saved by the network's own
    backward anyway). ``MaskedGramLoss.apply(features, labels)``."""

    @staticmethod
    def forward(ctx: FunctionCtx, features: Tensor, labels: tuple[GramLabel, ...]) -> Tensor:
        flat, dim = _pixels(features)
        total = flat.new_zeros(())
        residuals = []
        for label in labels:
            w = _gather(flat, dim, label.support)
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
            w2 = _gather(flat, dim, label.support, power=2)  # (R W) ⊙ m = R (F ⊙ m²)
            r = res * (grad_output * (4.0 * label.coef * label.inv_energy))
            dw = r @ w2 if dim == 1 else w2 @ r
            if label.support.index is None:
                grad.add_(dw)
            else:
                grad.index_add_(dim, label.support.index, dw)
        if dim == 1:
            return grad.view_as(features), None
        n, c, h, w = features.shape
        return grad.reshape(n, h, w, c).permute(0, 3, 1, 2), None


def gram_labels(targets: Tensor, masks: Tensor | None, weights: Tensor | None,
                pixels: int) -> tuple[GramLabel, ...]:
    """The per-label constants of one style layer: ``targets`` ``(K,C,C)``, content masks
    ``(K,h,w)`` at the layer's size (``None``: one label, the whole image), region weights
    ``(K,)`` (``None``: the masks' means), ``pixels`` = ``h·w`` of the content's features."""
    energies = targets.flatten(1).square().sum(1).clamp_min(torch.finfo(targets.dtype).tiny)
    if masks is None:
        coef = 1.0 if weights is None else float(weights[0])
        return (GramLabel(LabelSupport(None, None), 1.0 / pixels, coef / float(energies[0]),
                          targets[0]),)
    flat = masks.flatten(1)
    shares = weights.tolist() if weights is not None else flat.mean(1).tolist()
    out = []
    for k in range(flat.shape[0]):
        support = label_support(flat[k]) if shares[k] > 0 else None
        if support is None:
            continue
        m = flat[k] if support.index is None else flat[k].index_select(0, support.index)
        inv = 1.0 / (float(m.square().sum()) + TINY)
        out.append(GramLabel(support, inv, shares[k] / float(energies[k]), targets[k]))
    return tuple(out)


def paper_gram_labels(targets: Tensor, masks: Tensor | None, size: tuple[int, int]
                      ) -> tuple[GramLabel, ...]:
    """The per-label constants of one style layer in the paper's form
    (:func:`photostyle.neural.losses.paper_style_loss`): label ``j`` contributes
    ``μ_j/C² · ‖(F m_j)(F m_j)ᵀ/(C h w μ_j) − S_j‖²``, ``μ_j`` the mean of its content mask.

    ``targets`` ``(K,C,C)``: the style's :func:`~photostyle.neural.losses.paper_gram` per label;
    ``masks`` ``(K,h,w)``: the content masks carried to the layer (``None``: one label, the
    whole image, ``μ = 1``); ``size``: ``(h, w)`` of the content's features at the layer.
    Labels with ``μ_j = 0`` add nothing and are left out.
    """
    channels = targets.shape[1]
    numel = channels * size[0] * size[1]
    if masks is None:
        return (GramLabel(LabelSupport(None, None), 1.0 / numel, 1.0 / channels**2,
                          targets[0]),)
    if tuple(masks.shape[-2:]) != tuple(size):
        raise ValueError(f"paper_gram_labels: masks {tuple(masks.shape[-2:])} do not match the "
                         f"features {tuple(size)}")
    flat = masks.flatten(1)
    out = []
    for k in range(flat.shape[0]):
        mu = float(flat[k].mean())
        support = label_support(flat[k]) if mu > 0 else None
        if support is None:
            continue
        out.append(GramLabel(support, 1.0 / (numel * mu), mu / channels**2, targets[k]))
    return tuple(out)
