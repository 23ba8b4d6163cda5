r"""Keep the content's colours: the stylized luminance with the content's chrominance.

Gatys et al. (2016) give two ways to transfer style without its colours; this is the second,
the one jcjohnson/neural-style's ``-original_colors`` uses: convert the result and the content
to YIQ, keep the result's luminance :math:`Y` and the content's chrominance :math:`(I, Q)`, and
convert back.

.. math:: \mathrm{out} = M^{-1} \left(Y_{\mathrm{result}},\ I_{\mathrm{content}},\
          Q_{\mathrm{content}}\right)^\top, \qquad (Y, I, Q)^\top = M\,(R, G, B)^\top

with :math:`M` the NTSC (FCC) matrix on gamma-encoded sRGB in [0, 1]. Values that leave
[0, 1] are clipped, which is the only place the chrominance can move.

Reference: L. A. Gatys, M. Bethge, A. Hertzmann, E. Shechtman, "Preserving Color in Neural
Artistic Style Transfer", arXiv:1606.05897, 2016.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..classic.color import YIQ_FROM_RGB

__all__ = ["OriginalColors", "keep_original_colors", "rgb_to_yiq", "yiq_to_rgb"]


def _matrix(like: Tensor, inverse: bool = False) -> Tensor:
    m = torch.from_numpy(YIQ_FROM_RGB.copy())
    if inverse:
        m = torch.linalg.inv(m)  # exact inverse of the forward matrix, not rounded constants
    return m.to(device=like.device, dtype=like.dtype)


def _check(image: Tensor, name: str) -> None:
    if image.dim() not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"{name}: expected (3,H,W) or (B,3,H,W), got {tuple(image.shape)}")


def rgb_to_yiq(image: Tensor) -> Tensor:
    """YIQ of an RGB image.

    Parameters
    ----------
    image : Tensor
        ``(B,3,H,W)`` or ``(3,H,W)`` RGB, typically in [0, 1].

    Returns
    -------
    Tensor
        Same shape: Y in [0, 1], I in about ±0.6, Q in about ±0.52 for inputs in [0, 1].
    """
    _check(image, "rgb_to_yiq")
    return torch.einsum("ij,...jhw->...ihw", _matrix(image), image)


def yiq_to_rgb(yiq: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_yiq` (no clipping)."""
    _check(yiq, "yiq_to_rgb")
    return torch.einsum("ij,...jhw->...ihw", _matrix(yiq, inverse=True), yiq)


def keep_original_colors(image: Tensor, content: Tensor) -> Tensor:
    """The luminance of ``image`` with the chrominance of ``content``, clipped to [0, 1].

    Parameters
    ----------
    image : Tensor
        ``(B,3,H,W)`` or ``(3,H,W)`` RGB in [0, 1], the stylized result.
    content : Tensor
        RGB in [0, 1], the same shape as ``image``.

    Returns
    -------
    Tensor
        A new tensor of ``image``'s shape, dtype and device.
    """
    if image.shape != content.shape:
        raise ValueError(f"keep_original_colors: image {tuple(image.shape)} and content "
                         f"{tuple(content.shape)} must have the same shape")
    y = rgb_to_yiq(image)
    iq = rgb_to_yiq(content.to(image))
    mixed = torch.cat([y[..., :1, :, :], iq[..., 1:, :, :]], dim=-3)
    return yiq_to_rgb(mixed).clamp(0, 1)


class OriginalColors(nn.Module):
    """:func:`keep_original_colors` as a module: ``forward(image, content)``."""

    def forward(self, image: Tensor, content: Tensor) -> Tensor:
        return keep_original_colors(image, content)
