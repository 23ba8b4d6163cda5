"""The objective of one pyramid level: weighted content, style (Gram and/or histogram), total
variation and, in stage 2, matting terms, with every target computed once, in either form of
the loss (:data:`photostyle.config.LOSS_FORMS`; see :mod:`photostyle.neural.losses`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch
from torch import Tensor

from matting import MattingRegularizer
from segment import mask_pyramid

from ..config import Config
from .gram import GramLabel, MaskedGramLoss, gram_labels, paper_gram_labels
from .histogram import HistogramLoss, histogram_target
from .inputs import blend_weights
from .losses import ContentLoss, paper_style_targets, paper_tv_loss, style_targets, tv_loss
from .vgg import VGG19Features, feature_size, layer_ops

__all__ = ["Objective"]


class Objective:
    """Weighted loss terms at one level, with targets computed once (in inference mode).

    The form of the terms is ``config.loss_for(model.input_format)``: ``"paper"`` (the Lua
    code's objective; masks carried with :func:`segment.mask_pyramid`'s ``mode="lua"``, which
    matches the network only when it pools in ceil mode) or ``"relative"``.

    Several style images are blended as jcjohnson/neural-style does: each label's Gram target
    is the blend of the styles' Gram matrices; the histogram targets are the quantiles of the
    blended distributions (:func:`photostyle.neural.histogram.histogram_target`).
    """

    def __init__(self, model: VGG19Features, features: Callable[..., dict[str, Tensor]],
                 config: Config, content: Tensor, styles: Sequence[Tensor],
                 content_masks: Tensor | None, style_masks: Sequence[Tensor] | None,
                 region_weights: Tensor | None, channels_last: bool) -> None:
        self.features = features
        self.config = config
        self.channels_last = channels_last
        self.form = config.loss_for(model.input_format)
        paper = self.form == "paper"
        if paper != model.ceil_mode:
            raise ValueError(f"loss {self.form!r} carries the masks to the sizes of "
                             f"{'ceil' if paper else 'floor'}-mode pooling; set "
                             f"model.ceil_mode = {paper}")
        self.layers = config.feature_layers
        style_layers = tuple(dict.fromkeys(config.gram_layers + config.histogram_loss_layers))
        blend = blend_weights(config.style_blend_weights, len(styles))
        with torch.inference_mode():
            c_feats = model(content, config.content_layers)
            s_feats = [model(s, style_layers) for s in styles]
        c_feats = {k: v.clone() for k, v in c_feats.items()}  # normal tensors: usable in autograd
        s_feats = [{k: v.clone() for k, v in f.items()} for f in s_feats]
        ops = layer_ops(model.names)
        mode = "lua" if paper else "photostyle"
        c_pyr: dict[str, Tensor] | None = None
        s_pyrs: list[dict[str, Tensor | None]] = [dict.fromkeys(style_layers) for _ in styles]
        with torch.no_grad():
            if content_masks is not None:
                c_pyr = dict(zip(model.names, mask_pyramid(content_masks, ops, mode),
                                 strict=True))
                s_pyrs = [dict(zip(model.names, mask_pyramid(m, ops, mode), strict=True))
                          for m in style_masks]
            self.content_losses = {name: ContentLoss(c_feats[name], self.form)
                                   for name in config.content_layers}
            self.style_terms: dict[str, tuple[GramLabel, ...]] = {}
            h, w = content.shape[-2:]
            for name in config.gram_layers:
                c_mask = None if c_pyr is None else c_pyr[name]
                size = feature_size(h, w, name, model.ceil_mode)
                if paper:
                    targets = sum(b * paper_style_targets(f[name], p[name])
                                  for b, f, p in zip(blend, s_feats, s_pyrs, strict=True))
                    self.style_terms[name] = paper_gram_labels(targets, c_mask, size)
                else:
                    targets = sum(b * style_targets(f[name], p[name])
                                  for b, f, p in zip(blend, s_feats, s_pyrs, strict=True))
                    self.style_terms[name] = gram_labels(targets, c_mask, region_weights,
                                                         size[0] * size[1])
            self.histogram_terms: dict[str, HistogramLoss] = {}
            for name in config.histogram_loss_layers:
                if paper:
                    raise ValueError("the histogram loss has no paper form; use loss "
                                     "'relative'")
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
        self.tv_loss = paper_tv_loss if paper else tv_loss
        self.content = content
        self.matting: MattingRegularizer | None = None

    def add_matting(self, reference_pixels: int | None = None) -> None:
        """Add the photorealism term (stage 2) with the matting Laplacian of this level's
        content (:class:`matting.MattingRegularizer`): λ·Σ_c V_cᵀ L V_c in the paper's form,
        times ``reference_pixels / N`` when given (a coarse level then keeps the balance of the
        final size, ``reference_pixels`` pixels); λ·Σ_c V_cᵀ L V_c / N in the relative form."""
        config = self.config
        weight = config.weight("matting_weight")
        paper = self.form == "paper"
        if paper and reference_pixels is not None:
            weight *= reference_pixels / (self.content.shape[-2] * self.content.shape[-1])
        self.matting = MattingRegularizer(self.content, eps=config.matting_eps,
                                          radius=config.matting_radius, weight=weight,
                                          normalize=not paper,
                                          operator=config.matting_operator)

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
                MaskedGramLoss.apply(feats[name], labels)
                for name, labels in self.style_terms.items())
        if self.histogram_terms:
            terms["histogram"] = self.weights["histogram"] * sum(
                loss(feats[name]) for name, loss in self.histogram_terms.items())
        terms["tv"] = self.weights["tv"] * self.tv_loss(image)
        if self.matting is not None:
            terms["matting"] = self.matting(image)
        total = sum(terms.values())
        return total, terms
