r"""The perceptual loss of a look: the optimizer's own terms, per crop, averaged over a batch.

For a batch of content crops :math:`I_i` and the network's outputs :math:`O_i`,

.. math::

    L = \frac{1}{B}\sum_{i=1}^{B} \Big( w_c \sum_{l \in \mathcal C}
        \frac{‖F_l(O_i) − F_l(I_i)‖^2}{‖F_l(I_i)‖^2}
        + w_s \sum_{l \in \mathcal S} \frac{‖G_l(O_i) − S_l‖^2}{‖S_l‖^2}
        + w_h \sum_{l \in \mathcal H} H_l(O_i) \Big) + w_{tv}\,\mathrm{TV}(O),

which is, crop by crop, the objective of stage 1 of the optimization without masks
(:class:`photostyle.neural.objective.Objective`): the same VGG-19 features, the same relative
content term (:func:`photostyle.neural.losses.content_loss`), Gram term
(:class:`photostyle.neural.gram.MaskedGramLoss` with one label) and/or histogram term
(:class:`photostyle.neural.histogram.HistogramLoss`) as ``Config.style_loss`` says, the same
total variation (:func:`photostyle.neural.losses.tv_loss`) and the weights of ``Config``'s
preset. The style targets :math:`S_l` are computed once, from the style photo.

Johnson et al. (2016) used the raw squared errors of the Caffe network's activations; the
relative form (:data:`LOSS_FORM`) is the optimizer's, so that the preset's weights mean the
same balance here as there.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

from ..config import Config
from ..neural.gram import GramLabel, MaskedGramLoss, gram_labels
from ..neural.histogram import HistogramLoss, histogram_target
from ..neural.losses import content_loss, style_targets, tv_loss
from ..neural.vgg import VGG19Features

__all__ = ["LOSS_FORM", "PerceptualLoss"]

#: The form of the feature terms: relative squared errors (:mod:`photostyle.neural.losses`).
LOSS_FORM = "relative"


class PerceptualLoss:
    """Weighted content, style and TV terms of a batch against one style photo.

    Parameters
    ----------
    model : VGG19Features
        The feature network (frozen), on the style's device and dtype, reaching the deepest
        layer ``config`` uses.
    style : Tensor
        ``(1,3,H,W)`` style photo in [0, 1], at the size whose statistics are to be matched.
    config : Config
        ``style_loss``, the layers, the weights (explicit or the preset's) and ``autocast``.

    ``loss(output, content_features)`` returns the weighted terms (``content``, ``style``
    and/or ``histogram``, ``tv``), each a scalar tensor averaged over the batch;
    :meth:`content_features` gives the targets of the content crops.
    """

    def __init__(self, model: VGG19Features, style: Tensor, config: Config) -> None:
        self.model = model
        self.config = config
        self.layers = config.feature_layers
        style_layers = tuple(dict.fromkeys(config.gram_layers + config.histogram_loss_layers))
        with torch.no_grad():
            feats = self._features(style, style_layers)
            self.gram_targets = {name: style_targets(feats[name], None)
                                 for name in config.gram_layers}
            self.histograms = {name: HistogramLoss([histogram_target(feats[name])])
                               for name in config.histogram_loss_layers}
        self.weights = {
            "content": config.weight("content_weight"),
            "style": config.weight("style_weight"),
            "histogram": config.weight("histogram_weight"),
            "tv": config.weight("tv_weight"),
        }
        self._labels: dict[tuple[str, int], tuple[GramLabel, ...]] = {}

    def record(self) -> dict[str, object]:
        """What a checkpoint records of this loss (compared when training is resumed)."""
        c = self.config
        return {"form": LOSS_FORM, "style_loss": c.style_loss,
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

    def _gram_labels(self, name: str, pixels: int) -> tuple[GramLabel, ...]:
        key = (name, pixels)
        if key not in self._labels:
            self._labels[key] = gram_labels(self.gram_targets[name], None, None, pixels)
        return self._labels[key]

    def __call__(self, output: Tensor, content_features: dict[str, Tensor],
                 ) -> dict[str, Tensor]:
        feats = self._features(output, self.layers)
        batch = output.shape[0]
        sums = dict.fromkeys(self.terms[:-1], output.new_zeros(()))
        for i in range(batch):
            sums["content"] = sums["content"] + sum(
                content_loss(feats[name][i], content_features[name][i])
                for name in self.config.content_layers)
            if "style" in sums:
                sums["style"] = sums["style"] + sum(
                    MaskedGramLoss.apply(feats[name][i:i + 1],
                                         self._gram_labels(name, feats[name][0, 0].numel()))
                    for name in self.gram_targets)
            if "histogram" in sums:
                sums["histogram"] = sums["histogram"] + sum(
                    loss(feats[name][i:i + 1]) for name, loss in self.histograms.items())
        terms = {k: self.weights[k] * v / batch for k, v in sums.items()}
        terms["tv"] = self.weights["tv"] * tv_loss(output)
        return terms
