"""An instant, network-free preview: regional colour transfer + the local-affine post-process.

Well under a second on a CPU at 512 px, no VGG weights and no torch. It reproduces the colour
and tone of each style region but none of what the optimization adds (local contrast, texture,
spatially varying effects); see :mod:`photostyle.classic.regional`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matting.local_affine_numpy import local_affine_post_numpy
from segment import region_masks

from ..config import PREVIEW, Config
from ..errors import InputError, require_both
from ..io.images import fit_long_side, resize_image
from .regional import regional_color_transfer

__all__ = ["as_array", "preview", "working_inputs"]


def as_array(image: Any, name: str) -> np.ndarray:
    """An RGB image as an ``(H,W,3)`` float array: an ``(H,W,3)`` float array (as is) or a
    ``(1,3,H,W)``/``(3,H,W)`` tensor (copied to the host; no torch import here)."""
    if hasattr(image, "detach"):  # a torch tensor
        data = image.detach()
        if data.dim() == 4 and data.shape[0] == 1:
            data = data[0]
        if data.dim() != 3 or data.shape[0] != 3 or not data.is_floating_point():
            raise InputError(f"{name} must be a float tensor (1,3,H,W) or (3,H,W) in [0, 1], "
                             f"got {data.dtype} {tuple(image.shape)}")
        return data.permute(1, 2, 0).cpu().double().numpy()
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype.kind != "f":
        raise InputError(f"{name} must be a float array (H,W,3) in [0, 1], got {arr.dtype} "
                         f"{arr.shape}")
    return arr


def working_inputs(content: np.ndarray, style: np.ndarray,
                   content_labels: np.ndarray | None, style_labels: np.ndarray | None,
                   size: int | None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Content and style resized to ``size`` on their long side (antialiased bicubic) and their
    regions there (:func:`segment.region_masks`: ``(K,h,w)`` and ``(K,h',w')`` one-hot masks, or
    ``None`` without labels)."""
    require_both(content_labels, style_labels)
    c_size = fit_long_side(*content.shape[:2], size)
    s_size = fit_long_side(*style.shape[:2], size)
    if min(c_size + s_size) < 1:
        raise InputError(f"at size {size} an image would be empty; use a larger --size")
    content = resize_image(content, c_size)
    style = resize_image(style, s_size)
    if content_labels is None:
        return content, style, None, None
    for name, labels in (("content mask", content_labels), ("style mask", style_labels)):
        labels = np.asarray(labels)
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) \
                or (labels.size and labels.min() < 0):
            raise InputError(f"{name} must be an integer label map (H,W) with labels >= 0, "
                             f"got {labels.dtype} {labels.shape}")
    c_masks, s_masks, _ = region_masks(content_labels, style_labels, c_size, s_size,
                                       content.dtype)
    return content, style, c_masks, s_masks


def preview(content: Any, style: Any, content_mask: np.ndarray | None = None,
            style_mask: np.ndarray | None = None, *, config: Config | None = None) -> Any:
    """A fast photorealistic colour transfer with no neural network (``--quality preview``).

    1. Resize content and style to ``config.size`` on their long side, as the neural
       :func:`photostyle.transfer` does.
    2. Regional colour transfer (:func:`photostyle.classic.regional.regional_color_transfer`):
       each content region gets the colour statistics (``config.transfer_method``: mean and
       covariance, or per-channel histograms; in ``config.transfer_space``) of the matching
       style region, blended softly across region borders.
    3. Unless ``config.post`` is False, the local-affine post-process
       (:func:`matting.local_affine_numpy.local_affine_post_numpy`, Luan et al.'s "best local
       affine") with the config's ``post_*`` parameters, its coefficients computed at
       ``config.preview_post_scale`` of the resolution: the colour change becomes a locally
       affine, edge-aware recolouring of the content, so region transitions follow the
       content's edges rather than the masks'.

    numpy, scipy and OpenCV only; optimization settings (``iters``, ``optimizer``, loss weights,
    ``vgg_weights``) are not used.

    Parameters
    ----------
    content, style : np.ndarray or Tensor
        RGB images in [0, 1]: ``(H,W,3)`` float arrays, or ``(1,3,H,W)``/``(3,H,W)`` tensors;
        sizes may differ. Not modified.
    content_mask, style_mask : np.ndarray, optional
        Integer label maps ``(H,W)`` on one label set (e.g. from :func:`segment.align_masks`),
        each the size of its image. Give both or neither; without masks the whole images are
        one region. A content label absent from the style takes the whole style image.
    config : Config, optional
        Settings (default ``Config(quality="preview")``).

    Returns
    -------
    np.ndarray or Tensor
        The content's size scaled to ``config.size``, in [0, 1]: an ``(h,w,3)`` array in the
        content's float dtype, or, for a tensor content, a ``(1,3,h,w)`` tensor on its device
        and in its dtype.

    Raises
    ------
    InputError
        Bad images or masks, only one mask, or ``config.mode="artistic"`` (a preview is a
        photographic colour transfer).
    """
    config = config or Config(quality=PREVIEW)
    if config.mode != "photo":
        raise InputError("the preview is a photographic colour transfer; it has no artistic "
                         "mode (use --quality draft for a fast artistic run)")
    like = content if hasattr(content, "detach") else None
    c, s, c_masks, s_masks = working_inputs(as_array(content, "content"),
                                            as_array(style, "style"), content_mask, style_mask,
                                            config.size)
    result = regional_color_transfer(c, s, c_masks, s_masks, method=config.transfer_method,
                                     space=config.transfer_space,
                                     blend_radius=config.transfer_blend)
    if config.use_post:
        result = local_affine_post_numpy(result, c, radius=config.post_radius,
                                         eps=config.post_eps,
                                         smooth_radius=config.post_smooth_radius,
                                         sigma_range=config.post_sigma,
                                         scale=config.preview_post_scale)
    if like is None:
        return result
    import torch  # the caller works with tensors, so torch is loaded already

    out = torch.from_numpy(np.ascontiguousarray(result.transpose(2, 0, 1)))[None]
    return out.to(device=like.device, dtype=like.dtype)
