"""Matting-Laplacian tools for photorealistic style transfer (Luan et al., CVPR 2017).

- :func:`matting_laplacian`: the closed-form matting Laplacian of Levin et al. (scipy CSR).
- :func:`laplacian_to_torch`, :func:`matting_energy`, :class:`MattingRegularizer`: the
  photorealism regularization term of Deep Photo Style Transfer, with an analytic gradient.
- :class:`MatrixFreeLaplacian`, :func:`matting_energy_matrix_free`, :func:`window_statistics`,
  :func:`matrix_free_matvec`: the same Laplacian applied from box filters (He et al. 2010),
  never formed; :class:`MattingRegularizer` uses it by default.
- :func:`local_affine_post`, :class:`LocalAffinePost`: DPST's "best local affine"
  post-process on tensors.

Names are loaded lazily (PEP 562, through ``lazy_loader``): :mod:`.laplacian` is numpy and
scipy only, and torch is imported only when a torch-based name is used.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "laplacian": ["matting_laplacian"],
        "local_affine": ["LocalAffinePost", "local_affine_post"],
        "matrix_free": ["MatrixFreeLaplacian", "WindowStatistics", "matrix_free_matvec",
                        "matting_energy_matrix_free", "window_statistics"],
        "regularizer": ["MattingRegularizer", "laplacian_to_torch", "matting_energy",
                        "resolve_operator"],
    },
)
