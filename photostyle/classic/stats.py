r"""Gaussian statistics of colour samples: weighted fits and powers of covariance matrices.

numpy only; the one home of these for the colour transfer (:mod:`.regional`) and the metrics
(:mod:`photostyle.evaluation.metrics`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Gaussian", "fit_gaussian", "psd_power"]


class Gaussian(NamedTuple):
    """A multivariate Gaussian: ``mean (d,)`` and ``cov (d,d)``."""

    mean: np.ndarray
    cov: np.ndarray


def fit_gaussian(samples: np.ndarray, weights: np.ndarray | None = None) -> Gaussian:
    r"""Maximum-likelihood Gaussian of (weighted) samples: mean and biased covariance.

    .. math:: \mu = \frac{\sum_i w_i x_i}{\sum_i w_i}, \quad
              \Sigma = \frac{\sum_i w_i (x_i - \mu)(x_i - \mu)^\top}{\sum_i w_i}

    Parameters
    ----------
    samples : np.ndarray
        ``(n, d)`` with ``n >= 1``; not modified.
    weights : np.ndarray, optional
        ``(n,)`` non-negative weights with a positive sum (default: all 1).

    Returns
    -------
    Gaussian
        ``mean (d,)`` and ``cov (d,d)`` in float64 (zero covariance for a single sample).
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"samples must be (n, d) with n >= 1, got shape {x.shape}")
    if weights is None:
        mean = x.mean(axis=0)
        centred = x - mean
        return Gaussian(mean, centred.T @ centred / x.shape[0])
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != x.shape[0] or not np.all(w >= 0) or not w.sum() > 0:
        raise ValueError(f"weights must be ({x.shape[0]},), >= 0, with a positive sum")
    w = w / w.sum()
    mean = w @ x
    centred = x - mean
    return Gaussian(mean, (centred * w[:, None]).T @ centred)


def psd_power(matrix: np.ndarray, power: float) -> np.ndarray:
    """``matrix ** power`` of a symmetric positive semi-definite matrix, through its
    eigendecomposition (eigenvalues clipped at 0, or at the smallest positive float for a
    negative power). ``power = 0.5`` is the principal square root."""
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    floor = np.finfo(values.dtype).tiny if power < 0 else 0.0
    return (vectors * np.clip(values, floor, None) ** power) @ vectors.T
