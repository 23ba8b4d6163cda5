"""Matting Laplacian of Levin, Lischinski & Weiss (closed-form matting).

Reference
---------
A. Levin, D. Lischinski, Y. Weiss, "A Closed-Form Solution to Natural Image Matting",
IEEE TPAMI 30(2), 2008.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .spd3 import inverse_3x3


def _check_image(image: np.ndarray, eps: float, radius: int) -> np.ndarray:
    """Validate the arguments of :func:`matting_laplacian`; return a float64 copy of the image."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array of shape (H, W, 3), got {type(image)!r}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"image must be a float array in [0, 1], got dtype {image.dtype}; "
            "convert it first, e.g. image.astype(np.float64) / 255"
        )
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 1:
        raise ValueError(f"radius must be an integer >= 1, got {radius!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    size = 2 * int(radius) + 1
    if image.shape[0] < size or image.shape[1] < size:
        raise ValueError(
            f"image of size {image.shape[0]}x{image.shape[1]} is smaller than one "
            f"{size}x{size} window (radius={radius})"
        )
    out = np.asarray(image, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError("image contains NaN or infinite values")
    return out


def matting_laplacian(
    image: np.ndarray, eps: float = 1e-7, radius: int = 1
) -> scipy.sparse.csr_matrix:
    r"""Matting Laplacian of an RGB image (Levin et al. 2008, eq. 12).

    .. math::

        L_{ij} = \sum_{k \,|\, (i,j) \in w_k} \Big( \delta_{ij} - \frac{1}{|w_k|}
        \big(1 + (I_i - \mu_k)^\top (\Sigma_k + \tfrac{\varepsilon}{|w_k|} I_3)^{-1}
        (I_j - \mu_k)\big) \Big)

    where the sum runs over all :math:`(2r+1) \times (2r+1)` windows :math:`w_k` that lie
    entirely inside the image (as in Levin's and Luan et al.'s code; there are
    :math:`(H-2r)(W-2r)` of them), :math:`\mu_k` and :math:`\Sigma_k` are the mean and the
    (biased, divided by :math:`|w_k|`) 3x3 covariance of the colours in :math:`w_k`.

    :math:`L` is symmetric positive semi-definite, :math:`L \mathbf{1} = 0`, and
    :math:`v^\top L v = \sum_k \min_{a_k, b_k} \sum_{i \in w_k} (v_i - a_k^\top I_i - b_k)^2 +
    \varepsilon \|a_k\|^2`, so it is close to zero for any :math:`v` that is locally an affine
    function of the colours.

    The computation is vectorized over windows: window statistics for all windows at once,
    closed-form inverses of the 3x3 matrices (through their Cholesky factors), and, for each of
    the :math:`|w|(|w|+1)/2` pairs of positions inside a window, one array operation over all
    windows that adds the pair's values into a banded ``(N, (4r+1)^2)`` array (every pixel only
    couples with pixels at most ``2r`` away in each direction). That array is turned into CSR
    directly; this equals a COO-to-CSR sum of duplicates but needs about ten times less memory.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` float image, values in [0, 1]; computed in float64. Both ``H`` and ``W``
        must be at least ``2 * radius + 1``.
    eps : float, optional
        Regularization :math:`\varepsilon > 0` (default 1e-7, as in Levin's and DPST's code).
    radius : int, optional
        Window radius :math:`r \geq 1`; windows have :math:`(2r+1)^2` pixels.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(N, N)`` float64 matrix, ``N = H * W``, pixel index ``i = y * W + x`` (row-major).
        Sorted indices, no duplicates; ``(4r+1)^2`` stored entries per interior row.

    Raises
    ------
    ValueError
        If ``image`` is not a finite float ``(H, W, 3)`` array, is smaller than one window, or
        if ``eps <= 0`` or ``radius < 1``.
    """
    img = _check_image(image, eps, radius)
    r = int(radius)
    h, w, _ = img.shape
    size = 2 * r + 1
    n = size * size
    band = 4 * r + 1
    kh, kw = h - 2 * r, w - 2 * r  # window grid: top-left corners of the full windows

    # Colours of every window position, centred on the window mean: (n, 3, kh, kw).
    planes = np.ascontiguousarray(img.transpose(2, 0, 1))
    offsets = [(ay, ax) for ay in range(size) for ax in range(size)]
    c = np.stack([planes[:, ay : ay + kh, ax : ax + kw] for ay, ax in offsets])
    c -= c.mean(axis=0)

    # Regularized covariance Sigma_k + eps/|w| I (symmetric), one plane per entry.
    def cov(i: int, j: int) -> np.ndarray:
        return np.einsum("nhw,nhw->hw", c[:, i], c[:, j]) / n

    reg = eps / n
    s00, s11, s22 = cov(0, 0) + reg, cov(1, 1) + reg, cov(2, 2) + reg
    s01, s02, s12 = cov(0, 1), cov(0, 2), cov(1, 2)

    # Inverse of the symmetric 3x3 matrices via their Cholesky factors (stable when nearly
    # singular, e.g. grey windows; the adjugate / determinant form loses ~1e-6 there).
    i00, i01, i02, i11, i12, i22 = inverse_3x3(s00, s01, s02, s11, s12, s22, reg)
    inv = ((i00, i01, i02), (i01, i11, i12), (i02, i12, i22))

    # (Sigma + eps/|w| I)^{-1} (I_a - mu) for every window position a: (n, 3, kh, kw).
    mc = np.empty_like(c)
    for i in range(3):
        mc[:, i] = inv[i][0] * c[:, 0] + inv[i][1] * c[:, 1] + inv[i][2] * c[:, 2]

    # vals[dy + 2r, dx + 2r, y, x] = L[(y, x), (y + dy, x + dx)].
    vals = np.zeros((band, band, h, w))
    for a, (ay, ax) in enumerate(offsets):
        for b in range(a, n):
            by, bx = offsets[b]
            g = np.einsum("ihw,ihw->hw", mc[a], c[b])
            g += 1.0
            g *= -1.0 / n
            if a == b:
                g += 1.0
            vals[by - ay + 2 * r, bx - ax + 2 * r, ay : ay + kh, ax : ax + kw] += g
            if a != b:
                vals[ay - by + 2 * r, ax - bx + 2 * r, by : by + kh, bx : bx + kw] += g

    # Banded layout -> CSR. Every in-bounds neighbour within 2r shares at least one full
    # window with the pixel, so the in-bounds entries are exactly the structural non-zeros.
    dy, dx = np.divmod(np.arange(band * band), band)
    dy -= 2 * r
    dx -= 2 * r
    ys = np.arange(h)[:, None, None]
    xs = np.arange(w)[None, :, None]
    valid = (ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w)  # (h, w, band^2)
    num = h * w
    index_dtype = np.int32 if num * band * band < np.iinfo(np.int32).max else np.int64
    cols = (ys * w + xs + dy * w + dx)[valid].astype(index_dtype, copy=False)
    data = vals.reshape(band * band, num).T.reshape(h, w, band * band)[valid]
    indptr = np.zeros(num + 1, dtype=index_dtype)
    np.cumsum(valid.reshape(num, -1).sum(axis=1), out=indptr[1:])
    return scipy.sparse.csr_matrix((data, cols, indptr), shape=(num, num))
