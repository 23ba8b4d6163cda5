"""Matting-Laplacian tools for photorealistic style transfer (Luan et al., CVPR 2017).

- :func:`matting_laplacian`: the closed-form matting Laplacian of Levin et al. (scipy CSR).
- :func:`laplacian_to_torch`, :func:`matting_energy`, :class:`MattingRegularizer`: the
  photorealism regularization term of Deep Photo Style Transfer, with an analytic gradient.
- :func:`photorealism_residual`: the mean local-affine residual of an output (a metric).
- :func:`local_affine_post`, :class:`LocalAffinePost`: DPST's "best local affine"
  post-process.
"""

from .laplacian import matting_laplacian
from .local_affine import LocalAffinePost, local_affine_post
from .regularizer import (
    MattingRegularizer,
    laplacian_to_torch,
    matting_energy,
    photorealism_residual,
)

__all__ = [
    "LocalAffinePost",
    "MattingRegularizer",
    "laplacian_to_torch",
    "local_affine_post",
    "matting_energy",
    "matting_laplacian",
    "photorealism_residual",
]
