r"""Best-local-affine post-process of Deep Photo Style Transfer in numpy/OpenCV (no torch).

A port of :func:`matting.local_affine.local_affine_post` that imports neither torch nor any
module that does (numpy and OpenCV; ``scipy.sparse`` on the first resize, for ``scale < 1``),
for the weight-free path of the pipeline. Same maths, same results (float64: to about 1e-13,
resizes included) and the same parameter checks; ``(H, W, 3)`` arrays instead of
``(B, 3, H, W)`` tensors, one image per call. On one CPU thread it runs in about 0.4-0.5 of
the torch version's time (``benchmarks/bench_local_affine.py``).

After the optimization, DPST replaces the stylized output :math:`O` by a locally affine
recolouring of the content :math:`I`: fit per pixel an affine colour map over a small window,
smooth the 12 coefficients with a joint bilateral filter guided by the content, and apply
them to the content. This removes the residual texture and noise that the optimization leaves
while keeping the colours of the output.

The three steps are separate functions, so that coefficients can be fitted once (possibly at a
low resolution) and applied elsewhere:

- :func:`local_affine_fit_numpy`: the per-pixel ridge regression (step 1);
- :func:`bilateral_smooth_numpy`: the exact joint bilateral smoothing (step 2);
- :func:`upsample_coefficients`: bilinear resize of coefficients (``align_corners=False``);
- :func:`apply_affine`: :math:`\tilde A_p I_p + \tilde b_p` (step 3), with coefficients of the
  content's size or smaller (then upsampled on the fly, band by band);
- :func:`resize_bilinear`: torch's ``F.interpolate(mode="bilinear", align_corners=False,
  antialias=...)``, reproduced (same taps and weights);
- :func:`local_affine_post_numpy`: all of it.

Images and coefficients are channels-last (``(H, W, 3)``, ``(H, W, 12)``); the fit works on
contiguous planes (OpenCV's box filter, elementwise closed forms), the smoothing and the
reconstruction on bands of rows, so that memory stays near the size of the inputs.

References
----------
F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017, and its
code (``smooth_local_affine(output, input, epsilon, patch, h, w, f_r, f_e)`` with the CUDA
kernels ``best_local_affine_kernel``, ``bilateral_smooth_kernel``,
``reconstruction_best_kernel``).
K. He, J. Sun, X. Tang, "Guided Image Filtering", IEEE TPAMI 35(6), 2013 (the closed form of
the windowed least squares).
K. He, J. Sun, "Fast Guided Filter", arXiv:1505.00996, 2015 (coefficients computed at a lower
resolution and upsampled: ``scale < 1``).
G. H. Golub, C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, sec. 4.2 (the Cholesky
factorization used for the 3x3 solves).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "apply_affine",
    "bilateral_smooth_numpy",
    "local_affine_fit_numpy",
    "local_affine_post_numpy",
    "resize_bilinear",
    "upsample_coefficients",
]

#: Upper bound on the number of bilateral weights held at once (a speed/memory trade-off only:
#: small enough for the weights of a chunk of tiles to stay in the L2 cache).
_MAX_WEIGHTS = 1 << 18
#: About how many output pixels :func:`apply_affine` upsamples at once.
_BAND_PIXELS = 1 << 16
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ----------------------------------------------------------------------------- checks


def _check_image(name: str, x: object) -> np.ndarray:
    """``x`` as an ``(H, W, 3)`` float32/float64 array (not copied); ValueError otherwise."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be an (H, W, 3) numpy array, got {type(x)!r}")
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {x.shape}")
    if x.dtype not in _DTYPES:
        raise ValueError(f"{name} must be a float32 or float64 array in [0, 1], got {x.dtype}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    return x


def _check_pair(output: object, content: object) -> None:
    out = _check_image("output", output)
    con = _check_image("content", content)
    if out.shape != con.shape:
        raise ValueError(
            f"output {out.shape} and content {con.shape} must have the same shape; resize the "
            "output to the content's size"
        )


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _check_positive(name: str, value: object) -> None:
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_coefs(coefs: object) -> np.ndarray:
    """``coefs`` as an ``(h, w, 12)`` view; accepts ``(h, w, 3, 4)`` and ``(h, w, 12)``."""
    if not isinstance(coefs, np.ndarray):
        raise ValueError(f"coefs must be an (H, W, 3, 4) numpy array, got {type(coefs)!r}")
    if coefs.shape[2:] not in ((3, 4), (12,)) or coefs.ndim not in (3, 4):
        raise ValueError(f"coefs must have shape (H, W, 3, 4) or (H, W, 12), got {coefs.shape}")
    if coefs.dtype not in _DTYPES:
        raise ValueError(f"coefs must be float32 or float64, got {coefs.dtype}")
    if coefs.shape[0] < 1 or coefs.shape[1] < 1:
        raise ValueError(f"coefs must not be empty, got shape {coefs.shape}")
    return coefs.reshape(coefs.shape[0], coefs.shape[1], 12)


def _check_size(size: object) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"size must be a pair of integers (H, W), got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


# ----------------------------------------------------------------------------- resampling


def _taps(in_size: int, out_size: int, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights ``(out_size, K)`` of torch's bilinear resampling along one axis.

    ``antialias=True``: ATen's ``_compute_indices_min_size_weights_aa`` with the triangle
    filter (support ``max(in/out, 1)``, widened by the downscale factor, weights normalized);
    ``antialias=False``: ``upsample_bilinear2d`` with ``align_corners=False`` (source
    coordinate ``(i + 0.5) in/out - 0.5`` clamped at 0, neighbours clamped at the border).
    Unused taps have weight 0 and a valid index. Computed in float64.
    """
    scale = in_size / out_size
    i = np.arange(out_size, dtype=np.float64)
    if not antialias:
        real = np.maximum(scale * (i + 0.5) - 0.5, 0.0)
        i0 = np.minimum(np.floor(real).astype(np.int64), in_size - 1)
        lam = np.clip(real - i0, 0.0, 1.0)
        i1 = i0 + (i0 < in_size - 1)
        return np.stack([i0, i1], axis=1), np.stack([1.0 - lam, lam], axis=1)
    support = scale if scale >= 1.0 else 1.0
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    taps = int(math.ceil(support)) * 2 + 1
    center = scale * (i + 0.5)
    xmin = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size)
    xsize = np.clip(xmax - xmin, 0, taps)
    j = np.arange(taps)
    weights = np.clip(1.0 - np.abs((j + xmin[:, None] - center[:, None] + 0.5) * invscale), 0, 1)
    weights[j >= xsize[:, None]] = 0.0
    total = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, total, out=np.zeros_like(weights), where=total != 0)
    index = np.minimum(xmin[:, None] + j, in_size - 1)
    used = np.flatnonzero(weights.any(axis=0))  # drop taps that are never used
    width = used[-1] + 1 if len(used) else 1
    return index[:, :width], weights[:, :width]


def _resample_axis(x: np.ndarray, axis: int, out_size: int, antialias: bool) -> np.ndarray:
    """Resample ``x`` along ``axis`` (torch's rules, see :func:`_taps`), in ``x``'s dtype.

    One sparse matrix product (``scipy.sparse``, imported on first use: about 0.1 s once) over
    the other axes flattened: a single pass over the data, 2-4 times faster than one gather
    per tap.
    """
    in_size = x.shape[axis]
    if in_size == out_size:
        return x
    from scipy.sparse import csr_matrix  # lazy: only resizing needs it

    index, weights = _taps(in_size, out_size, antialias)
    taps = index.shape[1]
    matrix = csr_matrix(
        (weights.astype(x.dtype).ravel(), index.ravel(), np.arange(0, out_size * taps + 1, taps)),
        shape=(out_size, in_size),
    )
    front = np.ascontiguousarray(np.moveaxis(x, axis, 0))
    result = (matrix @ front.reshape(in_size, -1)).reshape((out_size,) + front.shape[1:])
    return np.ascontiguousarray(np.moveaxis(result, 0, axis))


def resize_bilinear(image: np.ndarray, size: tuple[int, int], *, antialias: bool = True
                    ) -> np.ndarray:
    """Bilinear resize of an ``(H, W, ...)`` array to ``size = (h, w)``, as torch's
    ``F.interpolate(mode="bilinear", align_corners=False, antialias=antialias)``.

    Separable: along the width, then along the height. With ``antialias=True`` a downscale
    averages over a triangle of half-width the downscale factor (as PIL's ``BILINEAR`` with
    reducing, and torch); an upscale, or ``antialias=False``, is plain bilinear interpolation
    with half-pixel centres, clamped at the border (``cv2.INTER_LINEAR``'s convention).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, ...)`` float32 or float64 array. Not modified.
    size : tuple of int
        ``(h, w)``, both >= 1.
    antialias : bool, optional
        Low-pass filter when downscaling (default True).

    Returns
    -------
    numpy.ndarray
        ``(h, w, ...)``, dtype of ``image``; ``image`` itself if the size is unchanged.
    """
    if not isinstance(image, np.ndarray) or image.ndim < 2 or image.dtype not in _DTYPES:
        raise ValueError("image must be an (H, W, ...) float32 or float64 numpy array")
    h, w = _check_size(size)
    x = _resample_axis(image, 1, w, antialias)
    return _resample_axis(x, 0, h, antialias)


def upsample_coefficients(coefs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (``align_corners=False``, no antialiasing) of ``(h, w, 3, 4)``
    coefficients to ``size = (H, W)``, as the torch post-process does for ``scale < 1``.

    Memory: the full-size field, ``12 H W`` values; :func:`apply_affine` accepts the small
    coefficients directly and upsamples them band by band instead.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3, 4)`` (or ``(H, W, 12)`` for ``(h, w, 12)`` input), dtype of ``coefs``.
    """
    flat = _check_coefs(coefs)
    out = resize_bilinear(flat, _check_size(size), antialias=False)
    result = out.reshape(out.shape[:2] + coefs.shape[2:])
    return result.copy() if out is flat else result


# ----------------------------------------------------------------------------- step 1: fit


def _window_means(planes: list[np.ndarray], radius: int, count: np.ndarray) -> list[np.ndarray]:
    """Means of each contiguous ``(H, W)`` plane over the ``(2r+1)^2`` window, counting only
    pixels inside the image (``avg_pool2d(count_include_pad=False)``): OpenCV's box sums
    (running sums kept in float64) with a zero border, divided by the in-image ``count``."""
    k = 2 * radius + 1
    return [
        cv2.boxFilter(p, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT) / count
        for p in planes
    ]


def _fit(out: np.ndarray, con: np.ndarray, radius: int, eps: float) -> np.ndarray:
    r"""``(H, W, 12)`` coefficients of the ridge fit of ``out`` on ``con`` (``(H, W, 3)``
    arrays of one dtype, any strides).

    Row-major ``[A_00, A_01, A_02, b_0, A_10, ..., b_2]`` (output channel = row). The 3x3
    systems :math:`(\Sigma + \varepsilon I) A^\top = \operatorname{cov}(I, O)` are solved by a
    closed-form Cholesky factorization, elementwise over the image (backward stable: the
    pivots of :math:`\Sigma + \varepsilon I` are :math:`\geq \varepsilon` exactly, and the
    clamp at :math:`\varepsilon` only undoes rounding).
    """
    h, w, _ = out.shape
    coefs = np.empty((h, w, 12), dtype=out.dtype)
    if radius == 0:  # every window is one pixel: Sigma = 0, cov = 0, so A = 0 and b = O
        coefs[..., :] = 0.0
        coefs[..., 3::4] = out
        return coefs
    ci = [np.ascontiguousarray(con[..., i]) for i in range(3)]
    co = [np.ascontiguousarray(out[..., c]) for c in range(3)]
    rows, cols = np.arange(h), np.arange(w)
    count = ((np.minimum(rows + radius, h - 1) - np.maximum(rows - radius, 0) + 1)[:, None]
             * (np.minimum(cols + radius, w - 1) - np.maximum(cols - radius, 0) + 1))
    count = count.astype(out.dtype)
    mu_i = _window_means(ci, radius, count)
    mu_o = _window_means(co, radius, count)

    def cov(x: np.ndarray, y: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        (m,) = _window_means([x * y], radius, count)
        m -= mx * my
        return m

    # Cholesky factor L of Sigma + eps I (pivots clamped at eps: only rounding is undone);
    # E[x^2] - E[x]^2 can round below 0 in flat windows, hence the clamp of the diagonal.
    s00 = np.maximum(cov(ci[0], ci[0], mu_i[0], mu_i[0]), 0.0) + eps
    r00 = 1.0 / np.sqrt(np.maximum(s00, eps))
    del s00
    l10 = cov(ci[0], ci[1], mu_i[0], mu_i[1]) * r00
    l20 = cov(ci[0], ci[2], mu_i[0], mu_i[2]) * r00
    s11 = np.maximum(cov(ci[1], ci[1], mu_i[1], mu_i[1]), 0.0) + eps
    r11 = 1.0 / np.sqrt(np.maximum(s11 - l10 * l10, eps))
    del s11
    l21 = (cov(ci[1], ci[2], mu_i[1], mu_i[2]) - l20 * l10) * r11
    s22 = np.maximum(cov(ci[2], ci[2], mu_i[2], mu_i[2]), 0.0) + eps
    r22 = 1.0 / np.sqrt(np.maximum(s22 - l20 * l20 - l21 * l21, eps))
    del s22
    for c in range(3):
        # v = cov(I, O_c), then the forward (L z = v) and backward (L^T x = z) substitutions.
        z0 = cov(ci[0], co[c], mu_i[0], mu_o[c]) * r00
        z1 = (cov(ci[1], co[c], mu_i[1], mu_o[c]) - l10 * z0) * r11
        z2 = (cov(ci[2], co[c], mu_i[2], mu_o[c]) - l20 * z0 - l21 * z1) * r22
        x2 = z2 * r22
        x1 = (z1 - l21 * x2) * r11
        x0 = (z0 - l10 * x1 - l20 * x2) * r00
        coefs[..., 4 * c], coefs[..., 4 * c + 1], coefs[..., 4 * c + 2] = x0, x1, x2
        coefs[..., 4 * c + 3] = mu_o[c] - (x0 * mu_i[0] + x1 * mu_i[1] + x2 * mu_i[2])
    return coefs


def local_affine_fit_numpy(
    output: np.ndarray, content: np.ndarray, *, radius: int = 1, eps: float = 1e-4
) -> np.ndarray:
    r"""Per-pixel regularized least-squares affine map from ``content`` to ``output``.

    For every pixel :math:`p` and its window :math:`w_p` (the :math:`(2r+1)^2` square,
    clipped at the border; means count only the pixels inside the image),

    .. math::

        A_p = \operatorname{cov}_{w_p}(O, I)\,(\Sigma_{w_p} + \varepsilon I_3)^{-1}, \qquad
        b_p = \bar O_{w_p} - A_p \bar I_{w_p},

    the minimizer of :math:`\frac{1}{|w_p|}\sum_{q \in w_p} \|O_q - A I_q - b\|^2 +
    \varepsilon \|A\|_F^2` (He et al., eq. 5-6, with colour guidance). The covariances are
    :math:`E[xy] - E[x]E[y]` (the diagonal clamped at 0 before adding :math:`\varepsilon`),
    as in the torch version; the 3x3 systems are solved by a closed-form Cholesky
    factorization.

    Parameters
    ----------
    output, content : numpy.ndarray
        ``(H, W, 3)`` float32 or float64 arrays in [0, 1] (``content`` is cast to
        ``output``'s dtype). Not modified.
    radius : int, optional
        Radius :math:`r \geq 0` of the window (default 1: 3x3). With 0, :math:`A = 0` and
        :math:`b = O`.
    eps : float, optional
        Ridge regularization :math:`\varepsilon > 0` (default 1e-4).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3, 4)`` in ``output``'s dtype: ``coefs[y, x, c, :3]`` is row :math:`c` of
        :math:`A_p` (output channel :math:`c`), ``coefs[y, x, c, 3]`` is :math:`b_{p,c}`;
        ``reshape(H, W, 12)`` gives the torch version's 12-channel layout.
    """
    _check_pair(output, content)
    _check_int("radius", radius)
    _check_positive("eps", eps)
    con = content.astype(output.dtype, copy=False)
    return _fit(output, con, int(radius), eps).reshape(output.shape[:2] + (3, 4))


# ----------------------------------------------------------------------------- step 2: smooth


def _tile_side(h: int, w: int, radius: int, dtype: np.dtype) -> int:
    """Side ``t`` of the square tiles of the bilateral smoothing (exact for any ``t``).

    A tile of ``t x t`` pixels computes weights to its whole ``(t + 2R)^2`` neighbourhood, of
    which each pixel uses ``(2R + 1)^2``: small tiles waste fewer ``exp`` calls, large ones
    make better matrix products. Measured on one core (AVX-512, OpenBLAS): 4 for float64 and
    for float32 with ``R > 10``, 6 for float32 otherwise (within 10% of the best tile at
    ``R = 2 ... 15``); never more than the image needs.
    """
    t = 6 if dtype == np.float32 and radius <= 10 else 4
    return max(1, min(t, max(h, w)))


def _bilateral(
    coefs: np.ndarray, guide: np.ndarray, radius: int, sigma_space: float, sigma_range: float
) -> np.ndarray:
    r"""Joint bilateral average of ``coefs`` ``(H, W, C)`` guided by ``guide`` ``(H, W, 3)``
    (one dtype); exact. See :func:`bilateral_smooth_numpy` for the formula.

    The image is cut into ``t x t`` tiles; for a tile, the log-weights to every pixel of its
    ``(t + 2R)^2`` neighbourhood are one matrix product (the colour distance expanded as
    :math:`\|g_p\|^2 - 2 g_p^\top g_q + \|g_q\|^2`) plus a constant log spatial weight (``-inf``
    outside the square support), then one ``exp`` and one matrix product with the
    coefficients and a column of ones (the normalization): numpy's ``matmul`` over stacks of
    tiles (BLAS). Neighbours outside the image have zero keys, coefficients and count. The
    zero-padded, channels-last keys and values are built one row of tiles at a time, and
    chunks of tiles keep at most ``_MAX_WEIGHTS`` weights: memory ``O(W R)`` beyond the
    input and the result.

    Returns
    -------
    numpy.ndarray
        ``(H, W, C)``, possibly a view of a slightly larger array.
    """
    h, w, c = coefs.shape
    dtype = coefs.dtype
    r = radius
    t = _tile_side(h, w, r, dtype)
    side = t + 2 * r
    rows, cols = -(-h // t), -(-w // t)
    hp, wp = rows * t, cols * t
    inv = 1.0 / (2.0 * sigma_range**2)
    g = guide / np.asarray(math.sqrt(3.0), dtype)  # ||g_p - g_q||^2 = mean squared difference
    gn = (g * g).sum(axis=-1)
    # Keys [2 g inv, 1, -|g|^2 inv] and queries [g, -|g|^2 inv, 1]: query . key =
    # -||g_p - g_q||^2 inv. Values [coefs, 1]. All zero outside the image, so that padded
    # neighbours get a finite weight times zero coefficients and zero "count".
    keys = np.empty((h, w, 5), dtype=dtype)
    keys[..., :3] = (2.0 * inv) * g
    keys[..., 3] = 1.0
    keys[..., 4] = -inv * gn
    queries = np.empty((h, w, 5), dtype=dtype)
    queries[..., :3] = g
    queries[..., 3] = -inv * gn
    queries[..., 4] = 1.0
    del g, gn
    kband = np.zeros((side, wp + 2 * r, 5), dtype=dtype)
    vband = np.zeros((side, wp + 2 * r, c + 1), dtype=dtype)
    qband = np.zeros((t, wp, 5), dtype=dtype)
    # Constant log spatial weight of a tile pixel (u, v) -> neighbourhood pixel (y, x).
    d = np.arange(side)[None, :] - r - np.arange(t)[:, None]  # (t, side)
    d2 = (d * d)[:, None, :, None] + (d * d)[None, :, None, :]  # (t, t, side, side)
    inside = (np.abs(d) <= r)[:, None, :, None] & (np.abs(d) <= r)[None, :, None, :]
    log_space = np.where(inside, -d2 / (2.0 * sigma_space**2), -np.inf).astype(dtype)
    log_space = log_space.reshape(t * t, side * side)

    out = np.empty((hp, wp, c), dtype=dtype)
    per_chunk = max(1, min(cols, _MAX_WEIGHTS // (t * t * side * side)))
    buffer = np.empty((per_chunk, t * t, side * side), dtype=dtype)
    tiny = np.finfo(dtype).tiny
    ktiles = as_strided(kband, (cols, side, side, 5), (t * kband.strides[1],) + kband.strides,
                        writeable=False)
    vtiles = as_strided(vband, (cols, side, side, c + 1),
                        (t * vband.strides[1],) + vband.strides, writeable=False)
    for ty in range(rows):
        top = ty * t - r
        y0, y1 = max(0, top), min(h, top + side)
        kband[: y0 - top] = 0.0
        kband[y1 - top :] = 0.0
        kband[y0 - top : y1 - top, r : r + w] = keys[y0:y1]
        vband[: y0 - top] = 0.0
        vband[y1 - top :] = 0.0
        vband[y0 - top : y1 - top, r : r + w, :c] = coefs[y0:y1]
        vband[y0 - top : y1 - top, r : r + w, c] = 1.0
        n_rows = min(t, h - ty * t)
        qband[:n_rows, :w] = queries[ty * t : ty * t + n_rows]
        qband[n_rows:] = 0.0
        qtiles = qband.reshape(t, cols, t, 5).transpose(1, 0, 2, 3).reshape(cols, t * t, 5)
        for tx in range(0, cols, per_chunk):
            n = min(per_chunk, cols - tx)
            k = ktiles[tx : tx + n].reshape(n, side * side, 5)  # copies
            v = vtiles[tx : tx + n].reshape(n, side * side, c + 1)
            weights = np.matmul(qtiles[tx : tx + n], k.transpose(0, 2, 1), out=buffer[:n])
            weights += log_space
            np.exp(weights, out=weights)
            acc = np.matmul(weights, v)  # (n, t*t, C + 1)
            res = acc[..., :c] / np.maximum(acc[..., c:], tiny)
            out[ty * t : (ty + 1) * t, tx * t : (tx + n) * t] = (
                res.reshape(n, t, t, c).transpose(1, 0, 2, 3).reshape(t, n * t, c)
            )
    return out[:h, :w]


def bilateral_smooth_numpy(
    coefs: np.ndarray,
    guide: np.ndarray,
    *,
    radius: int = 15,
    sigma_range: float = 0.1,
    sigma_space: float | None = None,
) -> np.ndarray:
    r"""Exact joint bilateral average of ``coefs`` guided by the colour image ``guide``.

    .. math::

        \tilde a_p = \frac{\sum_{q} w_{pq} a_q}{\sum_q w_{pq}}, \quad
        w_{pq} = \exp\Big(-\frac{\|p-q\|^2}{2\sigma_s^2}\Big)
                 \exp\Big(-\frac{\|I_p-I_q\|^2 / 3}{2\sigma_r^2}\Big),

    over the full ``(2 radius + 1)^2`` square around :math:`p`, neighbours inside the image
    only (no sampling). The colour distance is the mean over the three channels of the squared
    difference, as in DPST's ``bilateral_smooth_kernel``.

    Parameters
    ----------
    coefs : numpy.ndarray
        ``(H, W, ...)`` float32 or float64 (e.g. ``(H, W, 3, 4)`` from
        :func:`local_affine_fit_numpy`). Not modified.
    guide : numpy.ndarray
        ``(H, W, 3)`` guide image in [0, 1] (cast to ``coefs``' dtype). Not modified.
    radius : int, optional
        Half size :math:`R \geq 0` of the square neighbourhood (default 15); 0 returns a copy.
    sigma_range : float, optional
        Colour scale :math:`\sigma_r > 0` (default 0.1).
    sigma_space : float, optional
        Spatial scale :math:`\sigma_s > 0`; default ``radius / 3`` (DPST's).

    Returns
    -------
    numpy.ndarray
        The smoothed coefficients, a new array of the shape and dtype of ``coefs``.
    """
    if not isinstance(coefs, np.ndarray) or coefs.ndim < 2 or coefs.dtype not in _DTYPES:
        raise ValueError("coefs must be an (H, W, ...) float32 or float64 numpy array")
    _check_image("guide", guide)
    if guide.shape[:2] != coefs.shape[:2]:
        raise ValueError(f"guide {guide.shape} and coefs {coefs.shape} must have one (H, W)")
    _check_int("radius", radius)
    _check_positive("sigma_range", sigma_range)
    if sigma_space is None:
        sigma_space = radius / 3.0
    if radius == 0:
        return coefs.copy()
    _check_positive("sigma_space", sigma_space)
    h, w = coefs.shape[:2]
    flat = coefs.reshape(h, w, -1)
    smooth = _bilateral(flat, guide.astype(coefs.dtype, copy=False), int(radius), sigma_space,
                        sigma_range)
    return np.ascontiguousarray(smooth).reshape(coefs.shape)


# ----------------------------------------------------------------------------- step 3: apply


def _apply_rows(coefs: np.ndarray, con: np.ndarray, result: np.ndarray, clip: bool) -> None:
    """``result[..., c] = A_c . I + b_c`` for ``coefs`` ``(n, W, 12)``, ``con`` and
    ``result`` ``(n, W, 3)`` (views; ``con`` of any float dtype)."""
    for c in range(3):
        acc = coefs[..., 4 * c] * con[..., 0]
        acc += coefs[..., 4 * c + 1] * con[..., 1]
        acc += coefs[..., 4 * c + 2] * con[..., 2]
        acc += coefs[..., 4 * c + 3]
        if clip:
            np.clip(acc, 0.0, 1.0, out=acc)
        result[..., c] = acc


def _apply(coefs: np.ndarray, con: np.ndarray, clip: bool) -> np.ndarray:
    """``(H, W, 3)`` reconstruction, dtype of ``coefs`` ``(h, w, 12)``, from the content
    ``con`` ``(H, W, 3)``. Smaller coefficients are upsampled (bilinear,
    ``align_corners=False``) one band of output rows at a time, so the full-size field is
    never held; the work is banded in any case (small temporaries)."""
    hs, ws, _ = coefs.shape
    h, w, _ = con.shape
    result = np.empty((h, w, 3), dtype=coefs.dtype)
    band = max(1, _BAND_PIXELS // w)
    if (hs, ws) == (h, w):
        for y0 in range(0, h, band):
            rows = slice(y0, min(h, y0 + band))
            _apply_rows(coefs[rows], con[rows].astype(coefs.dtype, copy=False), result[rows],
                        clip)
        return result
    yi, yw = _taps(hs, h, antialias=False)
    yw = yw.astype(coefs.dtype)
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        lo, hi = yi[y0, 0], yi[y1 - 1, 1] + 1
        slab = coefs[lo:hi]  # (rows, ws, 12) -> (rows, W, 12)
        if ws != w and coefs.dtype == np.float32:
            # OpenCV's bilinear upsampling has torch's half-pixel convention (and a unit
            # vertical scale is an exact identity); about 2x faster than the sparse product.
            # Its float64 path rounds the weights to float32, hence float32 only.
            slab = cv2.resize(np.ascontiguousarray(slab), (w, hi - lo),
                              interpolation=cv2.INTER_LINEAR).reshape(hi - lo, w, 12)
        else:
            slab = _resample_axis(slab, 1, w, antialias=False)
        up = slab[yi[y0:y1, 0] - lo]
        up *= yw[y0:y1, 0, None, None]
        term = slab[yi[y0:y1, 1] - lo]
        term *= yw[y0:y1, 1, None, None]
        up += term
        _apply_rows(up, con[y0:y1].astype(coefs.dtype, copy=False), result[y0:y1], clip)
    return result


def apply_affine(coefs: np.ndarray, content: np.ndarray, *, clip: bool = True) -> np.ndarray:
    r"""Apply per-pixel affine colour maps: :math:`\operatorname{clamp}(A_p I_p + b_p, 0, 1)`.

    Parameters
    ----------
    coefs : numpy.ndarray
        ``(h, w, 3, 4)`` (or ``(h, w, 12)``) coefficients as returned by
        :func:`local_affine_fit_numpy`. If ``(h, w)`` differs from the content's size they are
        upsampled bilinearly (``align_corners=False``, as :func:`upsample_coefficients`) band
        by band on the fly: the fast guided filter's "fit small, apply at full resolution".
    content : numpy.ndarray
        ``(H, W, 3)`` image in [0, 1] (cast to ``coefs``' dtype). Not modified.
    clip : bool, optional
        Clamp the result to [0, 1] (default True).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)``, dtype of ``coefs``.
    """
    flat = _check_coefs(coefs)
    _check_image("content", content)
    return _apply(flat, content, clip)


# ----------------------------------------------------------------------------- all steps


def local_affine_post_numpy(
    output: np.ndarray,
    content: np.ndarray,
    *,
    radius: int = 1,
    eps: float = 1e-4,
    smooth_radius: int = 15,
    sigma_range: float = 0.1,
    scale: float = 1.0,
) -> np.ndarray:
    r"""DPST's "best local affine" post-process in numpy: a locally affine recolouring of the
    content. Same semantics as :func:`matting.local_affine.local_affine_post`.

    1. For each pixel :math:`p`, fit :math:`O \approx A_p I + b_p` (:math:`A_p` 3x3,
       :math:`b_p` 3) over the :math:`(2r+1)^2` window around :math:`p` (clipped at the
       border) by ridge regression (He et al.'s guided-filter closed form):

       .. math::

           A_p = \operatorname{cov}_{w_p}(O, I)\,(\Sigma_{w_p} + \varepsilon I_3)^{-1},\quad
           b_p = \bar O_{w_p} - A_p \bar I_{w_p}.

    2. Smooth the 12 coefficients with a joint bilateral filter over the
       :math:`(2R+1)^2` square around :math:`p`, :math:`R` = ``smooth_radius``, weights
       :math:`\exp(-\|p-q\|^2 / 2\sigma_s^2)\,\exp(-\tfrac13\|I_p-I_q\|^2 / 2\sigma_r^2)`
       with :math:`\sigma_s = R/3` and :math:`\sigma_r` = ``sigma_range``.
    3. Return :math:`\operatorname{clamp}(\tilde A_p I_p + \tilde b_p, 0, 1)`.

    With ``scale < 1`` (He & Sun's fast guided filter) steps 1-2 run on both images resized
    (antialiased bilinear, as torch's ``F.interpolate(..., antialias=True)``) to
    ``(max(1, round(H scale)), max(1, round(W scale)))``, with the smoothing radius
    ``round(R scale)``, and the coefficients are upsampled bilinearly (``align_corners=False``)
    to the full size before step 3 (band by band: the full-size coefficients are never held).

    Parameters
    ----------
    output : numpy.ndarray
        ``(H, W, 3)`` stylized image in [0, 1], float32 or float64. Not modified.
    content : numpy.ndarray
        ``(H, W, 3)`` content image in [0, 1], same shape (cast to ``output``'s dtype). Not
        modified.
    radius : int, optional
        Radius :math:`r \geq 0` of the fitting window (default 1: 3x3, DPST's ``patch=3``).
    eps : float, optional
        Ridge regularization :math:`\varepsilon > 0` of :math:`A` (default 1e-4).
    smooth_radius : int, optional
        Half size :math:`R \geq 0` of the bilateral neighbourhood (default 15, DPST's
        ``f_radius``); 0 disables the smoothing.
    sigma_range : float, optional
        Colour scale :math:`\sigma_r > 0` of the bilateral weights (default 0.1, DPST's
        ``f_edge``).
    scale : float, optional
        Resolution, in (0, 1], at which the coefficients are fitted and smoothed (default 1:
        full resolution, exact).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` in [0, 1], a new array of ``output``'s dtype.

    Raises
    ------
    ValueError
        On inputs that are not float32/float64 ``(H, W, 3)`` arrays of one shape, or on
        out-of-range parameters.

    See Also
    --------
    matting.local_affine.local_affine_post : the torch version (and the differences from the
        original CUDA code, shared by this port).
    """
    _check_pair(output, content)
    _check_int("radius", radius)
    _check_int("smooth_radius", smooth_radius)
    _check_positive("eps", eps)
    _check_positive("sigma_range", sigma_range)
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")

    con = content.astype(output.dtype, copy=False)
    h, w = output.shape[:2]
    low_out, low_con = output, con
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    if small != (h, w):
        low_out = resize_bilinear(output, small, antialias=True)
        low_con = resize_bilinear(con, small, antialias=True)
        smooth_radius = round(smooth_radius * scale)
    coefs = _fit(low_out, low_con, int(radius), eps)
    del low_out
    if smooth_radius > 0:
        coefs = _bilateral(coefs, low_con, int(smooth_radius), smooth_radius / 3.0, sigma_range)
    del low_con
    return _apply(coefs, con, clip=True)
