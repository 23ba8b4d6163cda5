r"""Matrix-free matting Laplacian: :math:`L v` from box filters (He, Sun & Tang, CVPR 2010).

The matting Laplacian of Levin et al. (:func:`matting.laplacian.matting_laplacian`) is never
formed. With the windows :math:`w_k` of radius :math:`r` that lie entirely inside the image,
:math:`|w| = (2r+1)^2`, window means :math:`\mu_k`, (biased) colour covariances
:math:`\Sigma_k` and :math:`\Delta_k = \Sigma_k + \rho I_3`, :math:`\rho = \varepsilon / |w|`,

.. math::

    (L v)_i = \sum_{k \ni i} \big(v_i - a_k^\top I_i - b_k\big), \qquad
    a_k = \Delta_k^{-1} \operatorname{cov}_k(I, v), \qquad
    b_k = \bar v_k - a_k^\top \mu_k,

with :math:`\operatorname{cov}_k(I, v) = \overline{(I v)}_k - \mu_k \bar v_k` (bars: means over
:math:`w_k`), so

.. math::

    L v = n \odot v - \Big(\sum_{k \ni i} a_k\Big)^\top I_i - \sum_{k \ni i} b_k,

where :math:`n_i` is the number of full windows that contain pixel :math:`i` (He et al., eq.
9-12). The window statistics are computed once per content image from box means (in float64 by
default); a product :math:`L V` for the 3 channels of an image costs two box filters over 12
maps (window means of :math:`V` and of the 9 products :math:`I_c V_d`; full-support box sums of
:math:`a` and :math:`b`) and a few per-pixel 3x3 products. Memory: 13 maps of the image size,
against :math:`(4r+1)^2` values and column indices per pixel for the sparse matrix. On the
CPU the product runs in bands of output rows (``_BAND_PIXELS``) so that its temporaries stay in
cache.

Two measures keep low precision (float32) usable, with no effect in exact arithmetic:

- :math:`\Delta_k^{-1}` is applied as :math:`W_k^\top W_k`, :math:`W_k = L_k^{-1}` the inverse
  Cholesky factor (:mod:`matting.spd3`), never as an explicit matrix: in grey or flat windows
  :math:`\Delta_k` is nearly singular and rounding the entries of an explicit inverse (up to
  :math:`1/\rho`) destroys the well-conditioned directions.
- A global affine fit :math:`V_d \approx G_d^\top I + g_d` (a control variate) is taken out of
  :math:`V` first: for any :math:`G, g`, with :math:`V' = V - G I - g`,
  :math:`L V_d = n \odot V'_d - \sum_{k \ni i} \alpha_k^\top I_i - \sum_{k \ni i} \beta_k` with
  :math:`\alpha_k = \Delta_k^{-1} (\operatorname{cov}_k(I, V'_d) - \rho G_d)` and
  :math:`\beta_k = \bar V'_{d,k} - \alpha_k^\top \mu_k` (because
  :math:`\Delta_k^{-1} \Sigma_k G_d = G_d - \rho \Delta_k^{-1} G_d`). Stylized outputs are close
  to such a recolouring, so the cancellations act on a small remainder.

References
----------
K. He, J. Sun, X. Tang, "Fast Matting Using Large Kernel Matting Laplacian Matrices", CVPR
2010 (eq. 9-12: :math:`L p` with box filters).
A. Levin, D. Lischinski, Y. Weiss, "A Closed-Form Solution to Natural Image Matting", IEEE
TPAMI 30(2), 2008 (the Laplacian).
F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017 (eq. 2-3: the
energy :math:`\sum_c V_c^\top L V_c`).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .quadratic import QuadraticEnergy, check_batch_image
from .spd3 import inverse_cholesky_3x3

#: Index pairs of the 6 unique entries of a symmetric 3x3 matrix, in storage order.
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
#: Ridge added to the guide's global colour covariance in the control-variate fit. Any fit is
#: exact; the ridge only keeps it bounded for grey or flat content.
_FIT_RIDGE = 1e-4
#: Number of windows whose statistics are computed at once (bounds the transient memory).
_BAND_WINDOWS = 1 << 16
#: Pixels per band of output rows of the matrix-free product on the CPU (measured: 64-row bands
#: of a 1024-wide image are 1.1-1.4x faster than one piece, which a GPU prefers).
_BAND_PIXELS = 1 << 16
#: Names of the tensor fields of :class:`WindowStatistics`.
_TENSOR_FIELDS = ("guide", "mean", "whiten", "count", "guide_mean", "fit")


class WindowStatistics(NamedTuple):
    r"""Per-content-image statistics of the matrix-free Laplacian (:func:`window_statistics`).

    ``kh = H - 2r`` and ``kw = W - 2r``: the grid of full windows, by their top-left pixel.

    Attributes
    ----------
    guide : torch.Tensor
        ``(1, 3, H, W)`` the content image :math:`I` (an exact copy).
    mean : torch.Tensor
        ``(1, 3, kh, kw)`` window means :math:`\mu_k`.
    whiten : torch.Tensor
        ``(1, 6, kh, kw)`` entries ``(00, 10, 11, 20, 21, 22)`` of :math:`W_k / (2r + 1)`, with
        :math:`W_k` lower triangular and :math:`\Delta_k^{-1} = W_k^\top W_k` (the factor
        turns the window sums of :func:`matrix_free_matvec` into means).
    count : torch.Tensor
        ``(1, 1, H, W)`` number :math:`n_i` of full windows containing each pixel.
    guide_mean : torch.Tensor
        ``(3,)`` mean colour :math:`m` of the content.
    fit : torch.Tensor
        ``(3, 3)`` :math:`(\operatorname{cov}(I) + 10^{-4} I_3)^{-1}`, the normal matrix of
        the global affine fit.
    radius : int
        Window radius :math:`r`.
    reg : float
        :math:`\rho = \varepsilon / |w|`.
    """

    guide: Tensor
    mean: Tensor
    whiten: Tensor
    count: Tensor
    guide_mean: Tensor
    fit: Tensor
    radius: int
    reg: float


def _window_sum(x: Tensor, radius: int) -> Tensor:
    """``(1, C, H, W)`` -> ``(1, C, H - 2r, W - 2r)``: sum over every full window.

    Separable sums of shifted slices: exact (no running sums) and, on the CPU, several times
    faster than ``avg_pool2d`` with stride 1.
    """
    k = 2 * radius + 1
    kh, kw = x.shape[2] - 2 * radius, x.shape[3] - 2 * radius
    rows = x[:, :, 0:kh] + x[:, :, 1 : kh + 1]
    for j in range(2, k):
        rows += x[:, :, j : j + kh]
    out = rows[:, :, :, 0:kw] + rows[:, :, :, 1 : kw + 1]
    for j in range(2, k):
        out += rows[:, :, :, j : j + kw]
    return out


def _window_sum_adjoint(x: Tensor, radius: int) -> Tensor:
    """``(1, C, H - 2r, W - 2r)`` -> ``(1, C, H, W)``: at each pixel, the sum of ``x`` over the
    full windows that contain it (the adjoint of :func:`_window_sum`)."""
    k = 2 * radius + 1
    _, c, kh, kw = x.shape
    rows = x.new_empty(1, c, kh + k - 1, kw)
    rows[:, :, :kh] = x
    rows[:, :, kh:] = 0
    for j in range(1, k):
        rows[:, :, j : j + kh] += x
    out = rows.new_empty(1, c, kh + k - 1, kw + k - 1)
    out[:, :, :, :kw] = rows
    out[:, :, :, kw:] = 0
    for j in range(1, k):
        out[:, :, :, j : j + kw] += rows
    return out


def window_statistics(
    content: Tensor,
    eps: float = 1e-7,
    radius: int = 1,
    compute_dtype: torch.dtype | None = torch.float64,
) -> WindowStatistics:
    r"""Window statistics of the content for :func:`matrix_free_matvec`.

    .. math::

        \mu_k = \bar I_k, \qquad
        \Delta_k = \overline{(I I^\top)}_k - \mu_k \mu_k^\top + \tfrac{\varepsilon}{|w|} I_3
        = L_k L_k^\top, \qquad W_k = L_k^{-1}, \qquad n_i = \#\{k : i \in w_k\},

    from box means of the content shifted by its mean colour (this leaves the covariances
    unchanged and reduces cancellation), :math:`W_k` in closed form
    (:func:`matting.spd3.inverse_cholesky_3x3`), in bands of window rows (at most
    ``_BAND_WINDOWS`` windows at once) so that the temporaries stay small.

    Parameters
    ----------
    content : torch.Tensor
        ``(1, 3, H, W)`` finite floating content image in [0, 1], ``H, W >= 2r + 1``. Not
        modified.
    eps : float, optional
        Regularization :math:`\varepsilon > 0` (default 1e-7, as DPST).
    radius : int, optional
        Window radius :math:`r \geq 1` (default 1: 3x3 windows).
    compute_dtype : torch.dtype or None, optional
        Dtype of the computation (default float64; ``None``: the content's dtype, e.g. on
        devices without float64). The results have the content's dtype.

    Returns
    -------
    WindowStatistics
        Tensors on the content's device with its dtype.

    Raises
    ------
    ValueError
        If ``content`` is not a finite floating ``(1, 3, H, W)`` tensor at least one window
        large, or if ``eps <= 0`` or ``radius < 1``.
    """
    check_batch_image(content, "content")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be an integer >= 1, got {radius!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    size = 2 * radius + 1
    if content.shape[2] < size or content.shape[3] < size:
        raise ValueError(
            f"image of size {content.shape[2]}x{content.shape[3]} is smaller than one "
            f"{size}x{size} window (radius={radius})"
        )
    if not bool(torch.isfinite(content).all()):
        raise ValueError("content contains NaN or infinite values")

    dtype = content.dtype
    cdtype = dtype if compute_dtype is None else compute_dtype
    guide = content.detach().clone()
    h, w = guide.shape[2], guide.shape[3]
    kh, kw = h - 2 * radius, w - 2 * radius
    reg = eps / size**2
    shift = guide.mean(dim=(2, 3), keepdim=True, dtype=cdtype)
    mean = guide.new_empty(1, 3, kh, kw)
    whiten = guide.new_empty(1, 6, kh, kw)
    # Bands of window rows, so that the float64 temporaries (about 40 maps) stay small.
    rows = max(1, _BAND_WINDOWS // kw)
    for y0 in range(0, kh, rows):
        y1 = min(kh, y0 + rows)
        centred = guide[:, :, y0 : y1 + 2 * radius].to(cdtype) - shift
        mu = _window_sum(centred, radius) / size**2
        s = []
        for i, j in _PAIRS:
            s_ij = _window_sum(centred[:, i : i + 1] * centred[:, j : j + 1], radius)[:, 0]
            s_ij /= size**2
            s_ij -= mu[:, i] * mu[:, j]
            if i == j:
                s_ij += reg
            s.append(s_ij)
        band = torch.stack(inverse_cholesky_3x3(*s, reg), dim=1) / (2 * radius + 1)
        whiten[:, :, y0:y1] = band
        mean[:, :, y0:y1] = mu + shift
    count = _window_sum_adjoint(guide.new_ones(1, 1, kh, kw), radius)
    # Global colour covariance for the control-variate fit (any fit is exact: low precision
    # is fine here).
    flat = guide.reshape(3, -1)
    m = flat.mean(dim=1, dtype=cdtype)
    cov = (flat @ flat.t()).to(cdtype) / flat.shape[1] - m[:, None] * m[None, :]
    fit = torch.linalg.inv(cov + _FIT_RIDGE * torch.eye(3, dtype=cdtype, device=cov.device))
    return WindowStatistics(
        guide=guide,
        mean=mean,
        whiten=whiten,
        count=count,
        guide_mean=m.to(dtype),
        fit=fit.to(dtype),
        radius=int(radius),
        reg=float(reg),
    )


def statistics_to(
    stats: WindowStatistics, device: torch.device | str | None, dtype: torch.dtype
) -> WindowStatistics:
    """``stats`` with every tensor moved to ``device`` and cast to ``dtype`` (no copy if they
    are there already)."""
    return stats._replace(
        **{f: getattr(stats, f).to(device=device, dtype=dtype) for f in _TENSOR_FIELDS}
    )


def matrix_free_matvec(stats: WindowStatistics, v: Tensor) -> Tensor:
    r"""Matting Laplacian times each channel of ``v``, without forming :math:`L`.

    .. math::

        (L V_d)_i = n_i V'_{d,i} - \sum_c \Big(\sum_{k \ni i} \alpha_{k,cd}\Big) I_{c,i}
        - \sum_{k \ni i} \beta_{k,d}, \qquad
        \alpha_{k,\cdot d} = W_k^\top W_k \big(\overline{(I V'_d)}_k - \mu_k \bar V'_{d,k}
        - \rho G_d\big), \qquad
        \beta_{k,d} = \bar V'_{d,k} - \alpha_{k,\cdot d}^\top \mu_k,

    with :math:`V' = V - G I - g` for the least-squares global affine fit :math:`G, g` of
    :math:`V` on the content (see the module docstring; the result does not depend on it in
    exact arithmetic). Runs in the dtype of ``stats`` (see :func:`statistics_to`).
    Differentiable with autograd (:math:`G, g` are constants for it).

    Parameters
    ----------
    stats : WindowStatistics
        From :func:`window_statistics` of the ``(1, 3, H, W)`` content.
    v : torch.Tensor
        ``(1, C, H, W)``; each of its ``C`` channels is multiplied (``C = 3`` for an image).
        Not modified.

    Returns
    -------
    torch.Tensor
        ``(1, C, H, W)``: channel ``d`` is :math:`L V_d` (pixel index ``y * W + x``).
    """
    guide, mu, wh, count, m, fit, r, reg = stats
    _, c, h, w = v.shape
    num = h * w
    size = (2 * r + 1) ** 2
    kh = h - 2 * r
    # Global affine fit V_d ~ G_d^T I + g_d (ridge-regularized least squares), V' = V - GI - g.
    with torch.no_grad():
        vf = v.detach().reshape(c, num)
        mean_v = vf.mean(dim=1)
        cross = vf @ guide.reshape(3, num).t() / num - mean_v[:, None] * m[None, :]  # (C, 3)
        gain = cross @ fit  # (C, 3)
        offset = mean_v - gain @ m  # (C,)
        shrink = [(size * reg * gain[:, e]).reshape(1, c, 1, 1) for e in range(3)]
    res = torch.addmm(v.reshape(c, num) - offset[:, None], gain, guide.reshape(3, num), alpha=-1)
    res = res.reshape(1, c, h, w)

    # L V = n V' - (window terms), in bands of output rows on the CPU (the temporaries then
    # stay in cache), in one piece elsewhere (fewer kernel launches).
    out = count * res
    rows = max(1, _BAND_PIXELS // w) if v.device.type == "cpu" else h
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        t0, t1 = max(0, y0 - 2 * r), min(kh, y1)  # the windows that contain rows y0 .. y1 - 1
        part = _window_terms(
            guide[:, :, t0 : t1 + 2 * r],
            mu[:, :, t0:t1],
            wh[:, :, t0:t1],
            res[:, :, t0 : t1 + 2 * r],
            shrink,
            r,
        )
        out[:, :, y0:y1] -= part[:, :, y0 - t0 : y1 - t0]
    return out


def _window_terms(
    guide: Tensor, mu: Tensor, wh: Tensor, res: Tensor, shrink: list[Tensor], r: int
) -> Tensor:
    r"""For a slab of rows: :math:`\sum_{k \ni i} (\alpha_k^\top I_i + \beta_k)` over the full
    windows of the slab (exact for pixels that only lie in windows of the slab).

    Shapes: ``guide`` and ``res`` ``(1, 3 | C, hs, W)``, ``mu`` and ``wh`` ``(1, 3 | 6,
    hs - 2r, W - 2r)``, ``shrink[e]`` ``(1, C, 1, 1)`` (:math:`|w| \rho G_{\cdot e}`); returns
    ``(1, C, hs, W)``.
    """
    _, c, hs, w = res.shape
    size = (2 * r + 1) ** 2
    # Window sums of V'_d and of the products I_e V'_d, then |w| cov_k(I, V'_d) - |w| rho G_d.
    sum_res = _window_sum(res, r)
    sum_prod = _window_sum((guide[:, :, None] * res[:, None]).reshape(1, 3 * c, hs, w), r)
    cov = []
    for e in range(3):
        cov_e = sum_prod[:, e * c : (e + 1) * c] - shrink[e]
        cov.append(cov_e.addcmul_(mu[:, e : e + 1], sum_res, value=-1))
    # alpha = W^T (W cov) / |w| (W is stored divided by 2r + 1); beta = mean(V') - alpha^T mu.
    w00, w10, w11, w20, w21, w22 = (wh[:, j : j + 1] for j in range(6))
    y0 = w00 * cov[0]
    y1 = (w10 * cov[0]).addcmul_(w11, cov[1])
    y2 = (w20 * cov[0]).addcmul_(w21, cov[1]).addcmul_(w22, cov[2])
    alpha = (
        (w00 * y0).addcmul_(w10, y1).addcmul_(w20, y2),
        (w11 * y1).addcmul_(w21, y2),
        w22 * y2,
    )
    beta = sum_res * (1.0 / size)
    for e in range(3):
        beta.addcmul_(alpha[e], mu[:, e : e + 1], value=-1)
    terms = _window_sum_adjoint(beta, r)
    for e in range(3):
        terms.addcmul_(_window_sum_adjoint(alpha[e], r), guide[:, e : e + 1])
    return terms


class MatrixFreeLaplacian(nn.Module):
    r"""Matting Laplacian of a fixed content image as an operator :math:`V \mapsto L V`.

    Holds the :class:`WindowStatistics` of the content as non-persistent buffers (in the
    content's dtype, on its device; ``module.to(...)`` moves and casts them), about 13 maps of
    the image size.

    Parameters
    ----------
    content : torch.Tensor
        ``(1, 3, H, W)`` floating content image in [0, 1]. Not modified (a copy is kept).
    eps : float, optional
        Regularization :math:`\varepsilon` (default 1e-7, as DPST).
    radius : int, optional
        Window radius (default 1: 3x3 windows).
    compute_dtype : torch.dtype or None, optional
        Dtype of the precomputation (default float64; ``None``: the content's dtype).

    Attributes
    ----------
    height, width : int
        Size of the content.
    eps : float
    radius : int
    """

    guide: Tensor
    mean: Tensor
    whiten: Tensor
    count: Tensor
    guide_mean: Tensor
    fit: Tensor

    def __init__(
        self,
        content: Tensor,
        eps: float = 1e-7,
        radius: int = 1,
        compute_dtype: torch.dtype | None = torch.float64,
    ) -> None:
        super().__init__()
        stats = window_statistics(content, eps, radius, compute_dtype)
        for name in _TENSOR_FIELDS:
            self.register_buffer(name, getattr(stats, name), persistent=False)
        self.height, self.width = int(content.shape[2]), int(content.shape[3])
        self.eps = float(eps)
        self.radius = int(radius)
        self._reg = stats.reg

    @property
    def num_pixels(self) -> int:
        """Number of pixels ``N = H * W`` of the content image."""
        return self.height * self.width

    @property
    def nbytes(self) -> int:
        """Bytes held by the operator's tensors."""
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def statistics(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> WindowStatistics:
        """The window statistics, on ``device`` with ``dtype`` (default: as stored)."""
        stats = WindowStatistics(
            *(getattr(self, f) for f in _TENSOR_FIELDS), radius=self.radius, reg=self._reg
        )
        if device is None and dtype is None:
            return stats
        return statistics_to(stats, device, self.guide.dtype if dtype is None else dtype)

    def matvec(self, v: Tensor) -> Tensor:
        """:math:`L V` for ``v`` of shape ``(1, C, H, W)`` (:func:`matrix_free_matvec`), in
        ``v``'s dtype and on its device (the statistics are converted when they differ)."""
        if not isinstance(v, Tensor) or v.dim() != 4 or v.shape[0] != 1:
            raise ValueError(f"v must be a (1, C, H, W) tensor, got {getattr(v, 'shape', v)!r}")
        if not v.is_floating_point():
            raise ValueError(f"v must be floating, got dtype {v.dtype}")
        if tuple(v.shape[2:]) != (self.height, self.width):
            raise ValueError(
                f"v is {v.shape[2]}x{v.shape[3]} but the Laplacian is for a "
                f"{self.height}x{self.width} image"
            )
        return matrix_free_matvec(self.statistics(v.device, v.dtype), v)

    def forward(self, v: Tensor) -> Tensor:
        """Same as :meth:`matvec`."""
        return self.matvec(v)

    def extra_repr(self) -> str:
        return f"size={self.height}x{self.width}, eps={self.eps:g}, radius={self.radius}"


def matting_energy_matrix_free(
    image: Tensor,
    op: MatrixFreeLaplacian | WindowStatistics,
    weight: float = 1.0,
    normalize: bool = True,
) -> Tensor:
    r"""Photorealism regularization :math:`\lambda \sum_c V_c^\top L V_c` with the matrix-free
    :math:`L` (Luan et al. eq. 2); the same value and gradient as
    :func:`matting.regularizer.matting_energy` with the sparse :math:`L`.

    .. math::

        E = \frac{\lambda}{Z} \sum_{c=1}^{3} V_c^\top L V_c, \qquad
        \frac{\partial E}{\partial V_c} = \frac{2\lambda}{Z} L V_c,

    with :math:`Z = N = HW` if ``normalize`` else :math:`Z = 1`. One matrix-free product
    :math:`L V` in the forward pass, saved for the exact gradient in the backward pass. Only
    first derivatives.

    Parameters
    ----------
    image : torch.Tensor
        ``(1, 3, H, W)`` floating image (the output being optimized), nominally in [0, 1].
        Not modified.
    op : MatrixFreeLaplacian or WindowStatistics
        The content's Laplacian, for ``H x W``. Converted to ``image``'s device and dtype on
        each call if they differ (convert it once beforehand for speed).
    weight : float, optional
        :math:`\lambda` (default 1).
    normalize : bool, optional
        Divide by ``N`` (default True).

    Returns
    -------
    torch.Tensor
        0-dim tensor, dtype and device of ``image``; non-negative up to rounding.

    Raises
    ------
    ValueError
        If ``image`` is not a floating ``(1, 3, H, W)`` tensor of the operator's size.
    """
    check_batch_image(image, "image")
    if isinstance(op, MatrixFreeLaplacian):
        stats = op.statistics(image.device, image.dtype)
    elif isinstance(op, WindowStatistics):
        stats = statistics_to(op, image.device, image.dtype)
    else:
        raise ValueError(f"op must be a MatrixFreeLaplacian or WindowStatistics, got {type(op)!r}")
    h, w = stats.guide.shape[2], stats.guide.shape[3]
    if tuple(image.shape[2:]) != (h, w):
        raise ValueError(
            f"image is {image.shape[2]}x{image.shape[3]} but the Laplacian is for a {h}x{w} image"
        )
    num = h * w
    scale = float(weight) / num if normalize else float(weight)
    return QuadraticEnergy.apply(image, partial(matrix_free_matvec, stats), scale)
