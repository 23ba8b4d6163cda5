"""Matting-Laplacian tools for photorealistic style transfer (Luan et al., CVPR 2017).

- :func:`matting_laplacian`: the closed-form matting Laplacian of Levin et al. (scipy CSR).
- :func:`laplacian_to_torch`, :func:`matting_energy`, :class:`MattingRegularizer`: the
  photorealism regularization term of Deep Photo Style Transfer, with an analytic gradient.
- :class:`MatrixFreeLaplacian`, :func:`matting_energy_matrix_free`, :func:`window_statistics`,
  :func:`matrix_free_matvec`: the same Laplacian applied from box filters (He et al. 2010),
  never formed; :class:`MattingRegularizer` uses it by default.
- :func:`photorealism_residual`: the mean local-affine residual of an output (a metric).
- :func:`local_affine_post`, :class:`LocalAffinePost`: DPST's "best local affine"
  post-process.
"""

from .laplacian import matting_laplacian
from .local_affine import LocalAffinePost, local_affine_post
from .matrix_free import (
    MatrixFreeLaplacian,
    WindowStatistics,
    matrix_free_matvec,
    matting_energy_matrix_free,
    window_statistics,
)
from .regularizer import (
    MattingRegularizer,
    laplacian_to_torch,
    matting_energy,
    photorealism_residual,
    resolve_operator,
)

__all__ = [
    "LocalAffinePost",
    "MatrixFreeLaplacian",
    "MattingRegularizer",
    "WindowStatistics",
    "laplacian_to_torch",
    "local_affine_post",
    "matrix_free_matvec",
    "matting_energy",
    "matting_energy_matrix_free",
    "matting_laplacian",
    "photorealism_residual",
    "resolve_operator",
    "window_statistics",
]
