r"""Closed-form inverse Cholesky factor of many symmetric positive-definite 3x3 matrices.

Used by both matting Laplacians (:mod:`matting.laplacian`, :mod:`matting.matrix_free`) for the
regularized window covariances :math:`\Delta_k = \Sigma_k + \tfrac{\varepsilon}{|w|} I_3`. These
are nearly singular in flat or grey windows (condition number up to
:math:`\lVert\Sigma_k\rVert |w| / \varepsilon`, about 1e7 for DPST's :math:`\varepsilon` =
1e-7); the adjugate-over-determinant inverse then loses about 1e-6 relative accuracy in float64
(the determinant cancels), the Cholesky route keeps about 1e-11 (it is backward stable).

Reference
---------
G. H. Golub, C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, sec. 4.2 (Cholesky).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:  # works on numpy arrays and torch tensors alike; imports no torch
    from torch import Tensor

Array = TypeVar("Array", np.ndarray, "Tensor")


def _at_least(x: Array, floor: float) -> Array:
    """``max(x, floor)`` elementwise for numpy arrays and torch tensors alike (exact if
    ``x >= floor``)."""
    return x + (x < floor) * (floor - x)


def inverse_cholesky_3x3(
    s00: Array, s01: Array, s02: Array, s11: Array, s12: Array, s22: Array, floor: float
) -> tuple[Array, Array, Array, Array, Array, Array]:
    r"""Lower-triangular :math:`W = L^{-1}` with :math:`\Delta = L L^\top`, so
    :math:`\Delta^{-1} = W^\top W` and :math:`W \Delta W^\top = I_3` (a whitening).

    .. math::

        l_{00} = \sqrt{s_{00}},\; l_{10} = s_{01}/l_{00},\; l_{20} = s_{02}/l_{00},\;
        l_{11} = \sqrt{s_{11} - l_{10}^2},\; l_{21} = (s_{12} - l_{20} l_{10}) / l_{11},\;
        l_{22} = \sqrt{s_{22} - l_{20}^2 - l_{21}^2},

    then :math:`W` by forward substitution. The pivots :math:`s_{00}` and the two Schur
    complements are clamped at ``floor``: for :math:`\Delta = \Sigma + \rho I` with
    :math:`\Sigma \succeq 0` they are all :math:`\geq \rho` exactly, so with ``floor = rho``
    the clamp only undoes rounding (it keeps float32 inputs finite).

    Parameters
    ----------
    s00, s01, s02, s11, s12, s22 : numpy.ndarray or torch.Tensor
        Entries of the symmetric matrices, all of one shape (any), one type.
    floor : float
        Lower bound of the pivots, ``> 0`` (the :math:`\rho` above).

    Returns
    -------
    tuple
        ``(w00, w10, w11, w20, w21, w22)``, the non-zero entries of :math:`W`, of the input
        shape and type.
    """
    l00 = _at_least(s00, floor) ** 0.5
    l10 = s01 / l00
    l20 = s02 / l00
    l11 = _at_least(s11 - l10 * l10, floor) ** 0.5
    l21 = (s12 - l20 * l10) / l11
    l22 = _at_least(s22 - l20 * l20 - l21 * l21, floor) ** 0.5
    w00, w11, w22 = 1.0 / l00, 1.0 / l11, 1.0 / l22
    w10 = -l10 * w00 * w11
    w21 = -l21 * w11 * w22
    w20 = -(l20 * w00 + l21 * w10) * w22
    return w00, w10, w11, w20, w21, w22


def inverse_3x3(
    s00: Array, s01: Array, s02: Array, s11: Array, s12: Array, s22: Array, floor: float
) -> tuple[Array, Array, Array, Array, Array, Array]:
    r""":math:`\Delta^{-1} = W^\top W` from :func:`inverse_cholesky_3x3`.

    Returns
    -------
    tuple
        ``(i00, i01, i02, i11, i12, i22)``, the unique entries of the symmetric inverse.
    """
    w00, w10, w11, w20, w21, w22 = inverse_cholesky_3x3(s00, s01, s02, s11, s12, s22, floor)
    return (
        w00 * w00 + w10 * w10 + w20 * w20,
        w10 * w11 + w20 * w21,
        w20 * w22,
        w11 * w11 + w21 * w21,
        w21 * w22,
        w22 * w22,
    )
