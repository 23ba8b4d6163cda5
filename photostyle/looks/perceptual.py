r"""The perceptual loss of a look: the optimizer's own terms, per crop, averaged over a batch.

For a batch of content crops :math:`I_i` and the network's outputs :math:`O_i`,

.. math::

    L = \frac{1}{B}\sum_{i=1}^{B} \Big( w_c\,C(O_i, I_i) + w_s\,S(O_i) + w_h\,H(O_i)
        + w_{tv}\,\mathrm{TV}(O_i) \Big),

which is, crop by crop, the objective of stage 1 of the optimization without masks
(:class:`photostyle.neural.objective.Objective`), in the loss form in force
(``Config.loss_for`` of the network's input format, :data:`photostyle.config.LOSS_FORMS`) and
through the same functions:

* ``"relative"`` (photostyle's dimensionless terms): content
  :math:`‖F(O)−F(I)‖²/‖F(I)‖²` (:func:`photostyle.neural.losses.content_loss`), the Gram term
  :math:`Σ_l ‖G_l(O) − S_l‖²/‖S_l‖²` (:func:`~photostyle.neural.losses.style_targets`,
  :func:`photostyle.neural.gram.gram_labels`) and/or the histogram term
  (:class:`photostyle.neural.histogram.HistogramLoss`), TV the mean squared neighbour difference
  (:func:`~photostyle.neural.losses.tv_loss`);
* ``"paper"`` (the Lua code's terms on the Caffe VGG-19, Johnson et al.'s own network and
  units): content :math:`\overline{(F(O)−F(I))^2}`
  (:func:`~photostyle.neural.losses.paper_content_loss`), the Gram term
  :math:`Σ_l \overline{(G_l(O) − S_l)^2}` with :math:`G = FFᵀ/(Chw)`
  (:func:`~photostyle.neural.losses.paper_style_targets`,
  :func:`photostyle.neural.gram.paper_gram_labels`), TV the Lua energy on the 0–255 scale
  (:func:`~photostyle.neural.losses.paper_tv_loss`);

with the weights of ``Config``'s preset (or explicit ones). The style targets :math:`S_l` are
computed once, from the style photo. The form is recorded in the look file.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

from ..config import Config
from ..neural.gram import GramLabel, MaskedGramLoss, gram_labels, paper_gram_labels
from ..neural.histogram import HistogramLoss, histogram_target
from ..neural.losses import (
    content_loss,
    paper_content_loss,
    paper_style_targets,
    paper_tv_loss,
    style_targets,
    tv_loss,
)
from ..neural.vgg import VGG19Features

__all__ = ["PerceptualLoss"]


class PerceptualLoss:
    """Weighted content, style and TV terms of a batch against one style photo.

    Parameters
    ----------
    model : VGG19Features
        The feature network (frozen), on the style's device and dtype, reaching the deepest
        layer ``config`` uses (:func:`photostyle.neural.vgg.build_network`); its input format
        sets the loss form (``config.loss_for``).
    style : Tensor
        ``(1,3,H,W)`` style photo in [0, 1], at the size whose statistics are to be matched.
    config : Config
        ``style_loss``, the layers, the weights (explicit or the preset's) and ``autocast``.

    ``loss(output, content_features)`` returns the weighted terms (``content``, ``style``
    and/or ``histogram``, ``tv``), each a scalar tensor averaged over the batch;
    :meth:`content_features` gives the targets of the content crops.

    Raises
    ------
    ValueError
        The histogram loss with the paper form (it has only the relative one).
    """

    def __init__(self, model: VGG19Features, style: Tensor, config: Config) -> None:
        self.model = model
        self.config = config
        self.form = config.loss_for(model.input_format)
        paper = self.form == "paper"
        if paper and config.histogram_loss_layers:
            raise ValueError("the histogram loss has no paper form; use loss 'relative'")
        self.layers = config.feature_layers
        self._content_loss = paper_content_loss if paper else content_loss
        targets = paper_style_targets if paper else style_targets
        style_layers = tuple(dict.fromkeys(config.gram_layers + config.histogram_loss_layers))
        with torch.no_grad():
            feats = self._features(style, style_layers)
            self.gram_targets = {name: targets(feats[name], None)
                                 for name in config.gram_layers}
            self.histograms = {name: HistogramLoss([histogram_target(feats[name])])
                               for name in config.histogram_loss_layers}
        self.weights = {
            "content": config.weight("content_weight"),
            "style": config.weight("style_weight"),
            "histogram": config.weight("histogram_weight"),
            "tv": config.weight("tv_weight"),
        }
        self._labels: dict[tuple[str, int, int], tuple[GramLabel, ...]] = {}

    def record(self) -> dict[str, object]:
        """What a checkpoint records of this loss (compared when training is resumed)."""
        c = self.config
        return {"form": self.form, "vgg_format": self.model.input_format,
                "style_loss": c.style_loss,
                "weights": {k: v for k, v in self.weights.items()
                            if k in self.terms},
                "content_layers": list(c.content_layers), "style_layers": list(c.gram_layers),
                "histogram_layers": list(c.histogram_loss_layers), "pooling": c.pooling,
                "style_scale": c.style_scale}

    @property
    def terms(self) -> tuple[str, ...]:
        """Names of the terms computed, in order."""
        style = {"gram": ("style",), "histogram": ("histogram",),
                 "both": ("style", "histogram")}[self.config.style_loss]
        return ("content", *style, "tv")

    def _features(self, images: Tensor, layers: tuple[str, ...]) -> dict[str, Tensor]:
        autocast = (torch.autocast(images.device.type, dtype=torch.bfloat16)
                    if self.config.autocast else nullcontext())
        with autocast:
            feats = self.model(images, layers)
        return {k: v.to(images.dtype) for k, v in feats.items()}

    def content_features(self, content: Tensor) -> dict[str, Tensor]:
        """The content targets of a batch ``(B,3,h,w)`` (no gradient)."""
        with torch.no_grad():
            return self._features(content, self.config.content_layers)

    def _gram_labels(self, name: str, size: tuple[int, int]) -> tuple[GramLabel, ...]:
        """The Gram term's constants of layer ``name`` for features of ``size`` (cached)."""
        key = (name, *size)
        if key not in self._labels:
            targets = self.gram_targets[name]
            self._labels[key] = (paper_gram_labels(targets, None, size)
                                 if self.form == "paper"
                                 else gram_labels(targets, None, None, size[0] * size[1]))
        return self._labels[key]

    def __call__(self, output: Tensor, content_features: dict[str, Tensor],
                 ) -> dict[str, Tensor]:
        feats = self._features(output, self.layers)
        batch = output.shape[0]
        sums = dict.fromkeys(self.terms[:-1], output.new_zeros(()))
        for i in range(batch):
            sums["content"] = sums["content"] + sum(
                self._content_loss(feats[name][i], content_features[name][i])
                for name in self.config.content_layers)
            if "style" in sums:
                sums["style"] = sums["style"] + sum(
                    MaskedGramLoss.apply(feats[name][i:i + 1],
                                         self._gram_labels(name, tuple(feats[name].shape[-2:])))
                    for name in self.gram_targets)
            if "histogram" in sums:
                sums["histogram"] = sums["histogram"] + sum(
                    loss(feats[name][i:i + 1]) for name, loss in self.histograms.items())
        terms = {k: self.weights[k] * v / batch for k, v in sums.items()}
        # Per crop, averaged: tv_loss is a mean over the batch already, paper_tv_loss a sum.
        tv = paper_tv_loss(output) / batch if self.form == "paper" else tv_loss(output)
        terms["tv"] = self.weights["tv"] * tv
        return terms
