"""An instant, network-free preview: regional colour transfer + the local-affine post-process.

About a second on a CPU at 512 px, no VGG weights needed. It reproduces the colour and tone of
each style region but none of what the optimization adds (local contrast, texture, spatially
varying effects); see :mod:`photostyle.color_transfer`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from matting import local_affine_post

from .color_transfer import regional_color_transfer
from .config import Config
from .errors import InputError
from .transfer import prepare_inputs

__all__ = ["preview"]


def preview(content: Tensor, style: Tensor, content_mask: np.ndarray | Tensor | None = None,
            style_mask: np.ndarray | Tensor | None = None, *,
            config: Config | None = None) -> Tensor:
    """A fast photorealistic colour transfer with no neural network (``--quality preview``).

    1. Resize content and style to ``config.size`` on their long side, as :func:`transfer`.
    2. Regional colour transfer (:func:`photostyle.color_transfer.regional_color_transfer`):
       each content region gets the colour statistics (``config.transfer_method``: mean and
       covariance, or per-channel histograms; in ``config.transfer_space``) of the matching
       style region, blended softly across region borders.
    3. Unless ``config.post`` is False, the local-affine post-process
       (:func:`matting.local_affine_post`, Luan et al.'s "best local affine") with the config's
       ``post_*`` parameters, its coefficients computed at ``config.preview_post_scale`` of the
       resolution: the colour change becomes a locally affine, edge-aware recolouring of the
       content, so region transitions follow the content's edges rather than the masks'.

    No VGG network is built and no weights are read; optimization settings (``iters``,
    ``optimizer``, loss weights, ``vgg_weights``) are not used.

    Parameters
    ----------
    content, style : Tensor
        RGB images ``(1,3,H,W)`` or ``(3,H,W)`` in [0, 1]; sizes may differ. The work follows
        the device and dtype of ``content``. Not modified.
    content_mask, style_mask : array or Tensor, optional
        Integer label maps ``(H,W)`` on one label set (e.g. from :func:`segment.align_masks`),
        each the size of its image. Give both or neither; without masks the whole images are
        one region. A content label absent from the style takes the whole style image.
    config : Config, optional
        Settings (default ``Config()``).

    Returns
    -------
    Tensor
        ``(1,3,h,w)`` in [0, 1], the content's size scaled to ``config.size``.

    Raises
    ------
    InputError
        Bad images or masks, only one mask, a size that makes an image too small, or
        ``config.mode="artistic"`` (a preview is a photographic colour transfer).
    """
    config = config or Config()
    if config.mode != "photo":
        raise InputError("the preview is a photographic colour transfer; it has no artistic "
                         "mode (use --quality draft for a fast artistic run)")
    content, style, c_masks, s_masks, _ = prepare_inputs(content, style, content_mask,
                                                         style_mask, config.size)
    with torch.no_grad():
        result = regional_color_transfer(content, style, c_masks, s_masks,
                                         method=config.transfer_method,
                                         space=config.transfer_space,
                                         blend_radius=config.transfer_blend)
        if config.use_post:
            result = local_affine_post(result, content, radius=config.post_radius,
                                       eps=config.post_eps,
                                       smooth_radius=config.post_smooth_radius,
                                       sigma_range=config.post_sigma,
                                       scale=config.preview_post_scale)
    return result
