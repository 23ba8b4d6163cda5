"""The objective of one pyramid level: weighted content, style (Gram and/or histogram), total
variation and, in stage 2, matting terms, with every target computed once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch
from torch import Tensor

from matting import MattingRegularizer
from segment import mask_pyramid

from ..config import Config
from .gram import GramLabel, MaskedGramLoss, gram_labels
from .histogram import HistogramLoss, histogram_target
from .inputs import blend_weights
from .losses import ContentLoss, style_targets, tv_loss
from .vgg import VGG19Features, layer_ops

__all__ = ["Objective"]


class Objective:
    """Weighted loss terms at one level, with targets computed once (in inference mode).

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
        self.layers = config.feature_layers
        style_layers = tuple(dict.fromkeys(config.gram_layers + config.histogram_loss_layers))
        blend = blend_weights(config.style_blend_weights, len(styles))
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
            self.style_terms: dict[str, tuple[GramLabel, ...]] = {}
            for name in config.gram_layers:
                c_mask = None if c_pyr is None else c_pyr[name]
                targets = sum(b * style_targets(f[name], p[name])
                              for b, f, p in zip(blend, s_feats, s_pyrs, strict=True))
                h, w = content.shape[-2:]
                n_pools = sum(1 for n in model.names[: model.names.index(name)]
                              if n.startswith("pool"))
                pixels = (h >> n_pools) * (w >> n_pools)
                self.style_terms[name] = gram_labels(targets, c_mask, region_weights, pixels)
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
        self.content = content
        self.matting: MattingRegularizer | None = None

    def add_matting(self) -> None:
        """Add the photorealism term (stage 2): λ·Σ_c V_cᵀ L V_c with the matting Laplacian of
        this level's content (:class:`matting.MattingRegularizer`)."""
        config = self.config
        self.matting = MattingRegularizer(self.content, eps=config.matting_eps,
                                          radius=config.matting_radius,
                                          weight=config.weight("matting_weight"),
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
        terms["tv"] = self.weights["tv"] * tv_loss(image)
        if self.matting is not None:
            terms["matting"] = self.matting(image)
        total = sum(terms.values())
        return total, terms
