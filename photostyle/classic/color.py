r"""Colour spaces on ``(..., 3)`` arrays (channels last): CIE L*a*b* and YIQ.

numpy only. :func:`rgb_to_lab` / :func:`lab_to_rgb` are exact inverses (sRGB companding with an
odd extension below 0, D65 white, 2° observer, exact CIE constants); :data:`YIQ_FROM_RGB` is the
one home of the NTSC matrix (the neural method's ``--original-colors`` uses it on tensors).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAB_SCALE", "YIQ_FROM_RGB", "lab_to_rgb", "rgb_to_lab", "rgb_to_yiq", "yiq_to_rgb"]

#: Lab values are divided by this where they are mixed with RGB-scale quantities, so that
#: their units are comparable to RGB in [0, 1] (L in [0, 1]).
LAB_SCALE = 100.0

#: D65 reference white (2° observer), as ``skimage.color``.
_WHITE = np.array([0.95047, 1.0, 1.08883])
#: Linear sRGB → XYZ, as ``skimage.color.xyz_from_rgb``.
_XYZ_FROM_RGB = np.array([
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
])
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_DELTA = 6.0 / 29.0

#: RGB → YIQ (NTSC 1953 / FCC), rows Y, I, Q, on gamma-encoded sRGB in [0, 1].
YIQ_FROM_RGB = np.array([
    [0.299, 0.587, 0.114],
    [0.5959, -0.2746, -0.3213],
    [0.2115, -0.5227, 0.3112],
])


def _check(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim < 1 or image.shape[-1] != 3 or image.dtype.kind != "f":
        raise ValueError(f"{name} must be a float array of shape (..., 3), got {image.dtype} "
                         f"{image.shape}")
    return image


def _mix(matrix: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``matrix @ pixel`` for every pixel of ``(..., 3)``, in the image's dtype."""
    return image @ matrix.T.astype(image.dtype)


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)  # odd extension below 0 so that out-of-gamut values survive a round trip
    return np.copysign(np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4), x)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return np.copysign(np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055), x)


def rgb_to_lab(image: np.ndarray) -> np.ndarray:
    r"""CIE L*a*b* of sRGB colours (D65, 2° observer), as ``skimage.color.rgb2lab``.

    .. math::

        L = 116 f(Y/Y_n) - 16,\quad a = 500\,(f(X/X_n) - f(Y/Y_n)),\quad
        b = 200\,(f(Y/Y_n) - f(Z/Z_n)),

    with :math:`f(t) = t^{1/3}` for :math:`t > \delta^3` and :math:`t / (3\delta^2) + 4/29`
    below, :math:`\delta = 6/29`.

    Parameters
    ----------
    image : np.ndarray
        ``(..., 3)`` float RGB, nominally in [0, 1] (values outside are converted too).

    Returns
    -------
    np.ndarray
        ``(..., 3)`` L in [0, 100], a and b about in [-128, 127], in the input's dtype.
    """
    image = _check(image, "image")
    t = _mix(_XYZ_FROM_RGB, _srgb_to_linear(image)) / _WHITE.astype(image.dtype)
    f = np.where(t > _DELTA**3, np.cbrt(t), t / (3 * _DELTA**2) + 4 / 29)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB colours of CIE L*a*b* values: the exact inverse of :func:`rgb_to_lab` (not clamped:
    out-of-gamut colours fall outside [0, 1])."""
    lab = _check(lab, "lab")
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    t = np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29))
    return _linear_to_srgb(_mix(_RGB_FROM_XYZ, t * _WHITE.astype(lab.dtype)))


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """YIQ of ``(..., 3)`` RGB: Y in [0, 1], I in about ±0.6, Q in about ±0.52."""
    return _mix(YIQ_FROM_RGB, _check(image, "image"))


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_yiq` (the exact inverse matrix; no clipping)."""
    return _mix(np.linalg.inv(YIQ_FROM_RGB), _check(yiq, "yiq"))
