r"""Best-local-affine post-process of Deep Photo Style Transfer ("smooth local affine").

After the optimization, DPST replaces the stylized output :math:`O` by a locally affine
recolouring of the content :math:`I`: fit per pixel an affine colour map over a small window,
smooth the 12 coefficients with a joint bilateral filter guided by the content, and apply
them to the content. This removes the residual texture and noise that the optimization leaves
while keeping the colours of the output.

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
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Side of the square pixel tiles of the bilateral smoothing (a speed/memory trade-off only).
_TILE = 8
#: Upper bound on the number of weights held at once by the bilateral smoothing.
_MAX_WEIGHTS = 1 << 20


def _check_pair(output: Tensor, content: Tensor) -> None:
    """Raise ValueError unless both are floating ``(B, 3, H, W)`` tensors of one shape/device."""
    for name, t in (("output", output), ("content", content)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a (B, 3, H, W) torch.Tensor, got {type(t)!r}")
        if t.dim() != 4 or t.shape[1] != 3:
            raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise ValueError(f"{name} must be a floating tensor in [0, 1], got dtype {t.dtype}")
    if output.shape != content.shape:
        raise ValueError(
            f"output {tuple(output.shape)} and content {tuple(content.shape)} must have the same "
            "shape; resize the output to the content's size"
        )
    if output.device != content.device:
        raise ValueError(f"output is on {output.device} but content is on {content.device}")


def local_affine_fit(output: Tensor, content: Tensor, radius: int, eps: float) -> Tensor:
    r"""Per-pixel regularized least-squares affine map from ``content`` to ``output``.

    For every pixel :math:`p` and its window :math:`w_p` (clipped at the border),

    .. math::

        A_p = \operatorname{cov}_{w_p}(O, I)\,(\Sigma_{w_p} + \varepsilon I_3)^{-1}, \qquad
        b_p = \bar O_{w_p} - A_p \bar I_{w_p},

    the minimizer of :math:`\frac{1}{|w_p|}\sum_{q \in w_p} \|O_q - A I_q - b\|^2 +
    \varepsilon \|A\|_F^2` (He et al., eq. 5-6, with colour guidance).

    Returns
    -------
    torch.Tensor
        ``(B, 12, H, W)``: row-major ``[A_00, A_01, A_02, b_0, A_10, ..., b_2]`` (the layout of
        the original ``affine_model``), output channel = row.
    """
    b, _, h, w = content.shape
    k = 2 * radius + 1
    ci = [content[:, i] for i in range(3)]
    co = [output[:, c] for c in range(3)]
    pairs = [(i, j) for i in range(3) for j in range(i, 3)]
    products = [ci[i] * ci[j] for i, j in pairs]
    products += [ci[i] * co[c] for c in range(3) for i in range(3)]
    stack = torch.stack(ci + co + products, dim=1)  # 3 + 3 + 6 + 9 channels
    # Means over the window, counting only pixels inside the image (as the original kernel).
    means = F.avg_pool2d(stack, k, stride=1, padding=radius, count_include_pad=False)
    mu_i, mu_o = means[:, 0:3], means[:, 3:6]
    sigma = means.new_empty(b, h, w, 3, 3)
    for n, (i, j) in enumerate(pairs):
        s = means[:, 6 + n] - mu_i[:, i] * mu_i[:, j]
        if i == j:  # E[x^2] - E[x]^2 can round below 0 in flat windows
            s = s.clamp_min(0.0) + eps
        sigma[..., i, j] = s
        sigma[..., j, i] = s
    cross = means.new_empty(b, h, w, 3, 3)  # cross[..., i, c] = cov(I_i, O_c)
    for c in range(3):
        for i in range(3):
            cross[..., i, c] = means[:, 12 + 3 * c + i] - mu_i[:, i] * mu_o[:, c]
    a_t = torch.linalg.solve(sigma, cross)  # (B, H, W, 3, 3): a_t[..., i, c] = A[c, i]
    a = a_t.permute(0, 4, 3, 1, 2)  # (B, 3 (c), 3 (i), H, W)
    offset = mu_o - (a * mu_i[:, None]).sum(dim=2)  # (B, 3, H, W)
    return torch.cat([a, offset[:, :, None]], dim=2).reshape(b, 12, h, w)


def bilateral_smooth(
    coefs: Tensor, guide: Tensor, radius: int, sigma_space: float, sigma_range: float
) -> Tensor:
    r"""Joint bilateral average of ``coefs`` (``(C, H, W)``) guided by ``guide`` (``(3, H, W)``).

    .. math::

        \tilde a_p = \frac{\sum_{q} w_{pq} a_q}{\sum_q w_{pq}}, \quad
        w_{pq} = \exp\Big(-\frac{\|p-q\|^2}{2\sigma_s^2}\Big)
                 \exp\Big(-\frac{\|I_p-I_q\|^2 / 3}{2\sigma_r^2}\Big),

    over the full ``(2 radius + 1)^2`` square around :math:`p`, neighbours inside the image
    only. Exact (no sampling): the image is cut into ``_TILE x _TILE`` tiles; for a tile the
    weights to every pixel of its ``(_TILE + 2 radius)^2`` neighbourhood are one batched
    matrix product (the colour distance expanded as
    :math:`\|g_p\|^2 - 2 g_p^\top g_q + \|g_q\|^2`, the spatial term and the square support
    added as a constant log-weight), one ``exp`` and one batched matrix product with the
    coefficients. Chunks of tiles keep at most ``_MAX_WEIGHTS`` weights in memory.
    """
    c, h, w = coefs.shape
    t, r = _TILE, radius
    side = t + 2 * r
    rows, cols = -(-h // t), -(-w // t)
    hp, wp = rows * t, cols * t
    inv = 1.0 / (2.0 * sigma_range**2)
    g = guide / math.sqrt(3.0)  # ||g_p - g_q||^2 = mean over the channels of the squared diff
    gn = (g * g).sum(dim=0, keepdim=True)
    ones = torch.ones_like(gn)
    # Keys: [2 g inv, 1, -|g|^2 inv | coefs, 1]; zero outside the image, so padded
    # neighbours get a finite weight times zero coefficients and zero "count".
    keys = torch.cat([2.0 * inv * g, ones, -inv * gn, coefs, ones], dim=0)
    keys = F.pad(keys, (r, r + wp - w, r, r + hp - h))
    # Queries: [g, -|g|^2 inv, 1], so that query . key = -||g_p - g_q||^2 inv.
    queries = F.pad(torch.cat([g, -inv * gn, ones], dim=0), (0, wp - w, 0, hp - h))
    # Constant log spatial weight of a tile pixel (u, v) -> neighbourhood pixel (y, x).
    u = torch.arange(t, device=coefs.device, dtype=coefs.dtype)
    y = torch.arange(side, device=coefs.device, dtype=coefs.dtype)
    d = y[None, :] - r - u[:, None]  # (t, side)
    d2 = (d * d)[:, None, :, None] + (d * d)[None, :, None, :]  # (t, t, side, side)
    inside = (d.abs() <= r)[:, None, :, None] & (d.abs() <= r)[None, :, None, :]
    log_space = (-d2 / (2.0 * sigma_space**2)).masked_fill(~inside, -math.inf)
    log_space = log_space.reshape(t * t, side * side)

    out = coefs.new_empty(c, hp, wp)
    per_chunk = max(1, _MAX_WEIGHTS // (t * t * side * side))
    for ty in range(rows):
        band = keys[:, ty * t : ty * t + side]  # (5 + C + 1, side, wp + 2r)
        band = band.unfold(2, side, t).permute(2, 1, 3, 0)  # (cols, side, side, ch)
        qband = queries[:, ty * t : (ty + 1) * t].reshape(5, t, cols, t).permute(2, 1, 3, 0)
        for tx in range(0, cols, per_chunk):
            nb = band[tx : tx + per_chunk].reshape(-1, side * side, band.shape[-1])
            q = qband[tx : tx + per_chunk].reshape(-1, t * t, 5)
            weights = torch.baddbmm(log_space, q, nb[..., :5].transpose(1, 2)).exp_()
            acc = torch.bmm(weights, nb[..., 5:])  # (n, t*t, C + 1)
            res = acc[..., :c] / acc[..., c:].clamp_min(torch.finfo(acc.dtype).tiny)
            n = res.shape[0]
            out[:, ty * t : (ty + 1) * t, tx * t : (tx + n) * t] = (
                res.reshape(n, t, t, c).permute(3, 1, 0, 2).reshape(c, t, n * t)
            )
    return out[:, :h, :w]


def local_affine_post(
    output: Tensor,
    content: Tensor,
    *,
    radius: int = 1,
    eps: float = 1e-4,
    smooth_radius: int = 15,
    sigma_range: float = 0.1,
    scale: float = 1.0,
) -> Tensor:
    r"""DPST's "best local affine" post-process: a locally affine recolouring of the content.

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
    (antialiased bilinear) by ``scale``, with the smoothing radius scaled to cover the same
    extent (``round(R * scale)``), and the coefficients are upsampled bilinearly to the full
    size before step 3, so the result keeps every edge of the full-resolution content. The
    fitting window then covers about ``(2r+1) / scale`` full-resolution pixels. Cost falls
    roughly as ``scale**4``; ``scale = 1`` is the exact DPST post-process.

    Differences from the original CUDA code (``smooth_local_affine``), all deliberate:

    * The original kernel ignores its ``epsilon`` argument and adds a fixed ``1e-3`` to the
      diagonal of the *unnormalized* normal matrix :math:`\sum_q I_q I_q^\top`, i.e.
      :math:`\varepsilon = 10^{-3}/|w_p|` (about ``1.1e-4`` for 3x3 windows) in the form
      above; here ``eps`` is used, in the mean-normalized (guided filter) form, uniformly.
    * Its colour distance is, as here, the mean over the three channels of the squared
      difference (hence the :math:`\tfrac13`); its :math:`\sigma_s` is ``f_radius / 3``.
    * It works in float32 on BGR; here the inputs' dtype and RGB (the map is equivariant
      to the channel order). The full neighbourhood is used: no sampling of offsets.

    Not differentiable: the inputs are detached.

    Parameters
    ----------
    output : torch.Tensor
        ``(B, 3, H, W)`` stylized image in [0, 1]. Not modified.
    content : torch.Tensor
        ``(B, 3, H, W)`` content image in [0, 1], same shape and device. Not modified.
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
    torch.Tensor
        ``(B, 3, H, W)`` in [0, 1], dtype and device of ``output``.

    Raises
    ------
    ValueError
        On inputs that are not floating ``(B, 3, H, W)`` tensors of one shape and device, or
        on out-of-range parameters.
    """
    _check_pair(output, content)
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be an integer >= 0, got {radius!r}")
    if isinstance(smooth_radius, bool) or not isinstance(smooth_radius, int) or smooth_radius < 0:
        raise ValueError(f"smooth_radius must be an integer >= 0, got {smooth_radius!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if not sigma_range > 0:
        raise ValueError(f"sigma_range must be > 0, got {sigma_range!r}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")

    out = output.detach()
    con = content.detach().to(out.dtype)
    b, _, h, w = out.shape
    low_out, low_con = out, con
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    if small != (h, w):
        low_out, low_con = (
            F.interpolate(t, size=small, mode="bilinear", align_corners=False, antialias=True)
            for t in (out, con)
        )
        smooth_radius = round(smooth_radius * scale)
    coefs = local_affine_fit(low_out, low_con, radius, eps)
    if smooth_radius > 0:
        coefs = torch.stack(
            [
                bilateral_smooth(
                    coefs[i], low_con[i], smooth_radius, smooth_radius / 3.0, sigma_range
                )
                for i in range(out.shape[0])
            ]
        )
    if small != (h, w):
        coefs = F.interpolate(coefs, size=(h, w), mode="bilinear", align_corners=False)
    coefs = coefs.reshape(b, 3, 4, h, w)
    result = (coefs[:, :, :3] * con[:, None]).sum(dim=2) + coefs[:, :, 3]
    return result.clamp_(0.0, 1.0)


class LocalAffinePost(nn.Module):
    """Module wrapper of :func:`local_affine_post`; ``forward(output, content)``.

    Parameters
    ----------
    radius, eps, smooth_radius, sigma_range, scale
        As in :func:`local_affine_post`.
    """

    def __init__(
        self,
        radius: int = 1,
        eps: float = 1e-4,
        smooth_radius: int = 15,
        sigma_range: float = 0.1,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.radius = radius
        self.eps = eps
        self.smooth_radius = smooth_radius
        self.sigma_range = sigma_range
        self.scale = scale

    def forward(self, output: Tensor, content: Tensor) -> Tensor:
        """``(B, 3, H, W)`` post-processed ``output``; see :func:`local_affine_post`."""
        return local_affine_post(
            output,
            content,
            radius=self.radius,
            eps=self.eps,
            smooth_radius=self.smooth_radius,
            sigma_range=self.sigma_range,
            scale=self.scale,
        )

    def extra_repr(self) -> str:
        return (
            f"radius={self.radius}, eps={self.eps:g}, smooth_radius={self.smooth_radius}, "
            f"sigma_range={self.sigma_range:g}, scale={self.scale:g}"
        )
