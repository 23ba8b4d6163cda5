"""Loss terms of photorealistic style transfer, as pure functions plus thin modules, in the two
forms of :data:`photostyle.config.LOSS_FORMS`.

**Paper form** (``loss="paper"``): the objective of the authors' Lua code
(luanfujun/deep-photo-styletransfer, ``neuralstyle_seg.lua`` and ``deepmatting_seg.lua``), term
by term, on activations ``F`` (``C×h×w``) of the Caffe VGG-19 fed 0–255-scale BGR images:

* content (``ContentLoss``, ``nn.MSECriterion``): ``mean((F − F_c)²)`` at ``relu4_2``
  (:func:`paper_content_loss`);
* style (``StyleLossWithSeg``), per layer and label ``j`` with the content mask ``M_j`` carried
  to the layer (:func:`segment.mask_pyramid` with ``mode="lua"``) and ``μ_j = mean(M_j)``:
  ``μ_j · mean_{C×C}((G_j − S_j)²)``, ``G_j = (M_j⊙F)(M_j⊙F)ᵀ / (C·h·w·μ_j)`` (no division
  when ``μ_j = 0``: the label adds 0), ``S_j`` the same on the style image with its masks
  (:func:`paper_gram`, :func:`paper_style_loss`);
* total variation (``TVLoss``, which the Lua code only differentiates):
  ``½ Σ_{c, i<H−1, j<W−1} [(x_{i,j} − x_{i,j+1})² + (x_{i,j} − x_{i+1,j})²]`` on the image in
  Caffe units ``x = 256·v`` (the mean cancels; :func:`paper_tv_loss`);
* the matting term is ``λ Σ_c V_cᵀ L V_c`` (``matting.matting_energy`` with
  ``normalize=False``).

The weights (5, 100, 1e-3, λ = 1e4) multiply these terms. The Lua code's style *gradient* is
not the gradient of its style loss: it back-propagates through ``M⊙F`` without the mask
factor (``M·A·F`` instead of ``M²·A·F``; the two agree where the carried mask is 0 or 1).
photostyle optimizes the true gradient of the objective above.

**Relative form** (``loss="relative"``, photostyle's own): every feature term is made
dimensionless — a squared error divided by the squared norm of its target:

* content: ``‖F − F_c‖² / ‖F_c‖²`` at each content layer;
* style (per layer): ``Σ_k a_k ‖G_k − S_k‖² / ‖S_k‖²`` over mask labels ``k``, where ``G_k`` and
  ``S_k`` are the masked Gram matrices of the output and of the style, and ``a_k`` the share of
  the content image covered by label ``k`` (Σ a_k = 1);
* total variation: the mean squared difference of neighbouring pixels of the image in [0, 1];

so that any rescaling of the feature network (ImageNet vs Caffe weights, other inputs ranges)
leaves the losses unchanged. The matting term (``matting.matting_energy``) is divided by the
number of pixels, so λ does not depend on the resolution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .support import TINY
from .vgg import CAFFE_SCALE

__all__ = ["ContentLoss", "StyleLoss", "TVLoss", "check_features", "content_loss",
           "gram_matrix", "paper_content_loss", "paper_gram", "paper_style_loss",
           "paper_style_targets", "paper_tv_loss", "style_loss", "style_targets", "tv_loss"]


def _energy(t: Tensor) -> Tensor:
    """Squared norm of a target, kept away from zero without breaking scale invariance."""
    return t.square().sum().clamp_min(torch.finfo(t.dtype).tiny)


def check_features(features: Tensor, name: str) -> Tensor:
    """``(C,H,W)`` view of ``(C,H,W)`` or ``(1,C,H,W)`` features (ValueError otherwise)."""
    if features.dim() == 4:
        if features.shape[0] != 1:
            raise ValueError(f"{name}: expected batch size 1, got shape {tuple(features.shape)}")
        features = features[0]
    if features.dim() != 3:
        raise ValueError(f"{name}: expected (C,H,W) or (1,C,H,W), got {tuple(features.shape)}")
    return features


def _masked_product(features: Tensor, mask: Tensor | None, name: str) -> tuple[Tensor, Tensor]:
    """``(F m)(F m)ᵀ`` (``F Fᵀ`` without a mask) of ``(C,H,W)`` or ``(1,C,H,W)`` features and
    an ``(H,W)`` mask, and the ``(C,H,W)`` features."""
    f = check_features(features, name)
    c, h, w = f.shape
    flat = f.reshape(c, h * w)
    if mask is None:
        return flat @ flat.T, f
    if mask.shape != (h, w):
        raise ValueError(f"{name}: mask {tuple(mask.shape)} does not match features {(h, w)}")
    weighted = flat * mask.reshape(1, h * w).to(flat.dtype)
    return weighted @ weighted.T, f


def gram_matrix(features: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""Masked Gram matrix, the mean outer product of feature vectors weighted by the mask.

    .. math:: G = \frac{\sum_p m(p)^2 F(p) F(p)^\top}{\sum_p m(p)^2}

    This is the Gram of the masked features ``F·m`` (as in DPST), divided by the mask's
    energy so that regions of any size give comparable statistics. With ``mask=None`` (or all
    ones) it is ``F Fᵀ / (H W)``.

    Parameters
    ----------
    features : Tensor
        ``(C,H,W)`` or ``(1,C,H,W)`` activations.
    mask : Tensor, optional
        ``(H,W)`` weights in [0, 1], the label's mask at this layer's resolution.

    Returns
    -------
    Tensor
        ``(C,C)`` symmetric matrix.
    """
    product, f = _masked_product(features, mask, "gram_matrix")
    if mask is None:
        return product / (f.shape[1] * f.shape[2])
    return product / (mask.to(f.dtype).square().sum() + TINY)


def _squared_error(features: Tensor, target: Tensor, name: str) -> Tensor:
    """``(F − F_c)²`` elementwise, for features and a target of the same shape."""
    if features.shape != target.shape:
        raise ValueError(f"{name}: shapes differ {tuple(features.shape)} vs "
                         f"{tuple(target.shape)}")
    return (features - target).square()


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    r"""Relative squared error of content features, :math:`‖F − F_c‖² / ‖F_c‖²`.

    Parameters
    ----------
    features, target : Tensor
        Activations of the same shape (target is treated as a constant).
    """
    return _squared_error(features, target, "content_loss").sum() / _energy(target)


def style_loss(features: Tensor, targets: Tensor, masks: Tensor | None = None,
               region_weights: Tensor | None = None) -> Tensor:
    r"""Masked Gram style loss of one layer.

    .. math:: L = \sum_k a_k \frac{‖G_k(F) − S_k‖_F^2}{‖S_k‖_F^2}

    Parameters
    ----------
    features : Tensor
        ``(1,C,H,W)`` or ``(C,H,W)`` activations of the image being optimized.
    targets : Tensor
        ``(K,C,C)`` style Gram matrices ``S_k`` (constants), one per label.
    masks : Tensor, optional
        ``(K,H,W)`` content masks at this layer's resolution; ``None`` means one label covering
        the whole image (then ``K`` must be 1).
    region_weights : Tensor, optional
        ``(K,)`` weights ``a_k`` (default: the masks' shares of the image; ``1`` without masks).
        Labels with weight 0 are skipped.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    f = check_features(features, "style_loss")
    k = targets.shape[0]
    if masks is None:
        if k != 1:
            raise ValueError(f"style_loss: {k} targets but no masks")
        weights = [1.0] if region_weights is None else region_weights.tolist()
        gram = gram_matrix(f)
        t = targets[0]
        return weights[0] * (gram - t).square().sum() / _energy(t)
    if masks.shape[0] != k:
        raise ValueError(f"style_loss: {masks.shape[0]} masks but {k} targets")
    if region_weights is None:
        region_weights = masks.flatten(1).mean(1)
        region_weights = region_weights / (region_weights.sum() + TINY)
    total = f.new_zeros(())
    for label, weight in enumerate(region_weights.tolist()):
        if weight <= 0:
            continue
        gram = gram_matrix(f, masks[label])
        t = targets[label]
        total = total + weight * (gram - t).square().sum() / _energy(t)
    return total


def tv_loss(image: Tensor) -> Tensor:
    r"""Squared total variation: mean of squared differences of neighbouring pixels.

    .. math:: L = \frac{1}{2}\left(\overline{(x_{i,j+1}-x_{i,j})^2}
                               + \overline{(x_{i+1,j}-x_{i,j})^2}\right)

    Parameters
    ----------
    image : Tensor
        ``(B,C,H,W)``, typically RGB in [0, 1].
    """
    if image.dim() != 4:
        raise ValueError(f"tv_loss: expected (B,C,H,W), got {tuple(image.shape)}")
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return 0.5 * (dx.square().mean() + dy.square().mean())


def paper_content_loss(features: Tensor, target: Tensor) -> Tensor:
    r"""Mean squared error of content features (the Lua ``ContentLoss``, an
    ``nn.MSECriterion``), :math:`\overline{(F − F_c)^2}`.

    Parameters
    ----------
    features, target : Tensor
        Activations of the same shape (target is treated as a constant).
    """
    return _squared_error(features, target, "paper_content_loss").mean()


def paper_gram(features: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""The Lua code's masked Gram matrix of one label.

    .. math:: G = \frac{(M \odot F)(M \odot F)^\top}{C h w \, \mu}, \qquad \mu = \overline{M}

    without the division when :math:`\mu = 0` (then ``G = 0``). With ``mask=None`` it is
    ``F Fᵀ / (C h w)``, neural-style's ``StyleLoss`` Gram.

    Parameters
    ----------
    features : Tensor
        ``(C,H,W)`` or ``(1,C,H,W)`` activations.
    mask : Tensor, optional
        ``(H,W)`` mask carried to this layer (:func:`segment.mask_pyramid`, ``mode="lua"``).

    Returns
    -------
    Tensor
        ``(C,C)`` symmetric matrix.
    """
    product, f = _masked_product(features, mask, "paper_gram")
    mu = 1.0 if mask is None else float(mask.mean())
    return product / (f.numel() * mu) if mu > 0 else product


def paper_style_targets(features: Tensor, masks: Tensor | None) -> Tensor:
    """The style image's :func:`paper_gram` ``(K,C,C)``, one per label of ``masks`` ``(K,H,W)``
    (carried to the layer; ``None``: one label, the whole image)."""
    with torch.no_grad():
        if masks is None:
            return paper_gram(features).unsqueeze(0)
        return torch.stack([paper_gram(features, m) for m in masks])


def paper_style_loss(features: Tensor, targets: Tensor, masks: Tensor | None = None) -> Tensor:
    r"""The Lua code's style loss of one layer (``StyleLossWithSeg``), before its weight.

    .. math:: L = \sum_j \mu_j \, \overline{(G_j − S_j)^2}

    over the ``C×C`` entries, with :math:`G_j` = :func:`paper_gram` of label ``j`` and
    :math:`\mu_j` the mean of its content mask at this layer (1 without masks). A reference:
    the optimization uses the fused :class:`photostyle.neural.gram.MaskedGramLoss`.

    Parameters
    ----------
    features : Tensor
        ``(1,C,H,W)`` or ``(C,H,W)`` activations of the image being optimized.
    targets : Tensor
        ``(K,C,C)`` style Gram matrices ``S_j`` (:func:`paper_style_targets`).
    masks : Tensor, optional
        ``(K,H,W)`` content masks carried to this layer; ``None``: one label, ``K = 1``.
    """
    f = check_features(features, "paper_style_loss")
    if masks is None:
        if targets.shape[0] != 1:
            raise ValueError(f"paper_style_loss: {targets.shape[0]} targets but no masks")
        return (paper_gram(f) - targets[0]).square().mean()
    if masks.shape[0] != targets.shape[0]:
        raise ValueError(f"paper_style_loss: {masks.shape[0]} masks but {targets.shape[0]} "
                         "targets")
    total = f.new_zeros(())
    for mask, target in zip(masks, targets, strict=True):
        mu = float(mask.mean())
        if mu > 0:
            total = total + mu * (paper_gram(f, mask) - target).square().mean()
    return total


def paper_tv_loss(image: Tensor) -> Tensor:
    r"""The energy whose gradient the Lua ``TVLoss`` computes, on the image in Caffe units
    :math:`x = 256 v` (the mean cancels in the differences):

    .. math:: L = \frac{1}{2} \sum_{c,\ i<H-1,\ j<W-1}
              \left[(x_{i,j} − x_{i,j+1})^2 + (x_{i,j} − x_{i+1,j})^2\right]

    (both differences on the top-left ``(H−1)×(W−1)`` block: the last row's horizontal and the
    last column's vertical differences are left out, as in the Lua code).

    Parameters
    ----------
    image : Tensor
        ``(B,C,H,W)`` RGB in [0, 1].
    """
    if image.dim() != 4:
        raise ValueError(f"paper_tv_loss: expected (B,C,H,W), got {tuple(image.shape)}")
    block = image[..., :-1, :-1]
    dx = block - image[..., :-1, 1:]
    dy = block - image[..., 1:, :-1]
    return 0.5 * CAFFE_SCALE**2 * (dx.square().sum() + dy.square().sum())


class ContentLoss(nn.Module):
    """The content term against a fixed target (stored as a buffer): :func:`content_loss`
    (``form="relative"``) or :func:`paper_content_loss` (``form="paper"``)."""

    def __init__(self, target: Tensor, form: str = "relative") -> None:
        super().__init__()
        if form not in ("relative", "paper"):
            raise ValueError(f"form must be 'relative' or 'paper', got {form!r}")
        self.form = form
        self.register_buffer("target", target.detach().clone())

    def forward(self, features: Tensor) -> Tensor:
        if self.form == "paper":
            return paper_content_loss(features, self.target)
        return content_loss(features, self.target)


class StyleLoss(nn.Module):
    """:func:`style_loss` against fixed Gram targets and content masks (buffers)."""

    def __init__(self, targets: Tensor, masks: Tensor | None = None,
                 region_weights: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("targets", targets.detach().clone())
        self.register_buffer("masks", None if masks is None else masks.detach().clone())
        self.register_buffer(
            "region_weights", None if region_weights is None else region_weights.detach().clone()
        )

    def forward(self, features: Tensor) -> Tensor:
        return style_loss(features, self.targets, self.masks, self.region_weights)


class TVLoss(nn.Module):
    """:func:`tv_loss` as a module."""

    def forward(self, image: Tensor) -> Tensor:
        return tv_loss(image)


def style_targets(features: Tensor, masks: Tensor | None) -> Tensor:
    """Style Gram matrices ``(K,C,C)`` of the style image, one per label of ``masks`` ``(K,H,W)``.

    Without masks, ``K = 1`` (the whole image).
    """
    with torch.no_grad():
        if masks is None:
            return gram_matrix(features).unsqueeze(0)
        return torch.stack([gram_matrix(features, m) for m in masks])
