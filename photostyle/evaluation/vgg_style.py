"""The masked Gram style loss of training as a metric (needs a VGG model, hence torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from segment import mask_pyramid

from ..config import STYLE_LAYERS
from ..errors import require_both
from ..io.images import fit_long_side
from ..io.tensors import from_array, resize
from ..neural.inputs import prepare_masks
from ..neural.losses import style_loss, style_targets
from ..neural.vgg import VGG19Features, layer_ops
from .metrics import check_image, check_labels, labels_to

__all__ = ["vgg_style_distance"]


def vgg_style_distance(image: np.ndarray, style: np.ndarray,
                       image_labels: np.ndarray | None = None,
                       style_labels: np.ndarray | None = None, *, model: VGG19Features,
                       layers: Sequence[str] = STYLE_LAYERS) -> float:
    r"""The unweighted masked Gram style loss of training, summed over the style layers.

    .. math:: L_s = \sum_{\ell} \sum_k a_k \frac{\lVert G_{\ell,k}(O) - G_{\ell,k}(S)\rVert_F^2}
                                                {\lVert G_{\ell,k}(S)\rVert_F^2}

    as :mod:`photostyle.neural.losses` computes it (masks
    carried through the VGG pyramid, :math:`a_k` each label's share of the image, a label
    missing from the style matched against the whole style), without the style weight. As in
    the transfer, the style is first resized so that its long side equals the image's.

    Parameters
    ----------
    image, style : np.ndarray
        ``(H,W,3)`` / ``(H',W',3)`` float in [0, 1], each at least 32 px on a side.
    image_labels, style_labels : np.ndarray, optional
        Integer label maps on one label set (both or neither), resized like the images.
    model : VGG19Features
        Feature network reaching the deepest of ``layers``; its device and dtype are used.
    layers : sequence of str
        Style layers (default: the paper's relu1_1 … relu5_1).

    Returns
    -------
    float
        :math:`L_s \geq 0` (0 when the image has the style's Gram statistics in every region).
    """
    img = check_image(image, "image")
    sty = check_image(style, "style")
    require_both(image_labels, style_labels, ("an image mask", "a style mask"))
    like = model.mean
    img_t = from_array(img, device=like.device, dtype=like.dtype)
    s_size = fit_long_side(sty.shape[0], sty.shape[1], max(img.shape[:2]))
    layers = tuple(layers)
    with torch.no_grad():
        sty_t = resize(from_array(sty, device=like.device, dtype=like.dtype), s_size)
        feats = model(img_t, layers)
        s_feats = model(sty_t, layers)
        c_pyr: dict[str, Tensor] | None = None
        s_pyr: dict[str, Tensor] | None = None
        weights = None
        if image_labels is not None:
            i_lab = check_labels(image_labels, "image mask")
            s_lab = check_labels(style_labels, "style mask")
            labels_to(i_lab, img.shape[:2], "image mask", "its image")  # aspect check only
            labels_to(s_lab, sty.shape[:2], "style mask", "the style image")
            c_masks, s_masks, weights = prepare_masks(i_lab, s_lab, tuple(img.shape[:2]),
                                                      s_size, img_t)
            ops = layer_ops(model.names)
            c_pyr = dict(zip(model.names, mask_pyramid(c_masks, ops), strict=True))
            s_pyr = dict(zip(model.names, mask_pyramid(s_masks, ops), strict=True))
        total = 0.0
        for name in layers:
            targets = style_targets(s_feats[name], None if s_pyr is None else s_pyr[name])
            masks = None if c_pyr is None else c_pyr[name]
            total += float(style_loss(feats[name], targets, masks, weights))
    return total
