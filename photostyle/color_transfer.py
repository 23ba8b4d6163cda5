r"""Regional colour transfer: each content region takes its matching style region's colours.

A fast, network-free transfer that carries much of a photographic look (overall colour balance,
tone, colour cast per region) but none of what the neural stages add (local contrast, texture,
spatially varying effects). It serves as ``--quality preview`` (with the local-affine
post-process, :func:`photostyle.preview`) and as a start for stage 1 (``init="transfer"``).

* :func:`monge_kantorovich_map` — the linear map :math:`x \mapsto A x + b` that sends a Gaussian
  :math:`\mathcal N(\mu_s, \Sigma_s)` onto :math:`\mathcal N(\mu_t, \Sigma_t)` with the least
  mean squared displacement (the optimal transport map between Gaussians).
* :func:`histogram_match_channels` — per-channel quantile (histogram) matching.
* :func:`rgb_to_lab`, :func:`lab_to_rgb` — CIE L*a*b* (D65, sRGB companding), exact inverses.
* :func:`regional_color_transfer` — one map per mask region, blended softly across borders.

References
----------
F. Pitié, A. Kokaram, "The linear Monge-Kantorovitch linear colour mapping for example-based
colour transfer", IET CVMP 2007.
E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley, "Color Transfer between Images", IEEE CG&A
21(5), 2001.
F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017 (regions from
semantic masks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import Config

__all__ = [
    "LAB_SCALE",
    "histogram_match_channels",
    "lab_to_rgb",
    "monge_kantorovich_map",
    "regional_color_transfer",
    "rgb_to_lab",
]

#: Lab values are divided by this in :func:`regional_color_transfer` so that their units are
#: comparable to RGB in [0, 1] (L in [0, 1]); the ridge ``eps`` is in these units.
LAB_SCALE = 100.0

#: Ridge added to the source covariance by default (squared colour units, RGB in [0, 1] or
#: Lab/100): a standard deviation of about one 8-bit level. It keeps the map finite for flat
#: regions (a single colour) and bounds its gain along directions of almost no variance.
DEFAULT_EPS = 1e-5

#: D65 reference white (2° observer), as ``skimage.color``.
_WHITE = (0.95047, 1.0, 1.08883)
#: Linear sRGB → XYZ, as ``skimage.color.xyz_from_rgb``.
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_DELTA = 6.0 / 29.0


def _check_channels(image: Tensor, name: str) -> None:
    if not isinstance(image, Tensor) or not image.is_floating_point():
        raise ValueError(f"{name} must be a floating-point torch.Tensor")
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f"{name} must have shape (..., 3, H, W), got {tuple(image.shape)}")


def _mix(matrix: Tensor, image: Tensor) -> Tensor:
    """``matrix @ pixel`` for every pixel of ``(..., 3, H, W)``."""
    return torch.einsum("ij,...jhw->...ihw", matrix.to(image), image)


def _srgb_to_linear(x: Tensor) -> Tensor:
    # Odd extension below 0 so that out-of-gamut values survive a round trip.
    a = x.abs()
    lin = torch.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    return lin.copysign(x)


def _linear_to_srgb(x: Tensor) -> Tensor:
    a = x.abs()
    srgb = torch.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055)
    return srgb.copysign(x)


def rgb_to_lab(image: Tensor) -> Tensor:
    r"""CIE L*a*b* of sRGB colours (D65 white, 2° observer), as ``skimage.color.rgb2lab``.

    .. math::

        L = 116 f(Y/Y_n) - 16,\quad a = 500\,(f(X/X_n) - f(Y/Y_n)),\quad
        b = 200\,(f(Y/Y_n) - f(Z/Z_n)),

    with :math:`f(t) = t^{1/3}` for :math:`t > \delta^3` and
    :math:`t / (3\delta^2) + 4/29` below, :math:`\delta = 6/29` (exact CIE constants; skimage
    rounds them, a difference below 1e-3 in L), XYZ the linear sRGB primaries (sRGB companding
    undone, extended oddly below 0).

    Parameters
    ----------
    image : Tensor
        ``(..., 3, H, W)`` RGB, nominally in [0, 1] (values outside are converted too).

    Returns
    -------
    Tensor
        ``(..., 3, H, W)`` L in [0, 100], a and b about in [-128, 127]; dtype and device of
        ``image``. :func:`lab_to_rgb` is its exact inverse.
    """
    _check_channels(image, "image")
    xyz = _mix(torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64), _srgb_to_linear(image))
    white = torch.tensor(_WHITE, dtype=image.dtype, device=image.device)[:, None, None]
    t = xyz / white
    f = torch.where(t > _DELTA**3, t.clamp_min(_DELTA**3) ** (1 / 3),
                    t / (3 * _DELTA**2) + 4 / 29)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """sRGB colours of CIE L*a*b* values: the exact inverse of :func:`rgb_to_lab`.

    Parameters
    ----------
    lab : Tensor
        ``(..., 3, H, W)`` L*a*b* (D65).

    Returns
    -------
    Tensor
        ``(..., 3, H, W)`` RGB, not clamped (out-of-gamut colours fall outside [0, 1]); dtype
        and device of ``lab``.
    """
    _check_channels(lab, "lab")
    big_l, a, b = lab.unbind(-3)
    fy = (big_l + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    t = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29))
    white = torch.tensor(_WHITE, dtype=lab.dtype, device=lab.device)[:, None, None]
    rgb_from_xyz = torch.linalg.inv(torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64))
    return _linear_to_srgb(_mix(rgb_from_xyz, t * white))


def _sym_power(matrix: Tensor, power: float) -> Tensor:
    """``matrix ** power`` of a symmetric PSD matrix (eigenvalues clamped at 0, or at a tiny
    positive value for negative powers)."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    floor = torch.finfo(values.dtype).tiny if power < 0 else 0.0
    scaled = vectors * values.clamp_min(floor) ** power
    return scaled @ vectors.T


def monge_kantorovich_map(source_mean: Tensor, source_cov: Tensor, target_mean: Tensor,
                          target_cov: Tensor, *, eps: float = DEFAULT_EPS) -> tuple[Tensor, Tensor]:
    r"""The linear Monge–Kantorovich (optimal transport) map between two Gaussians.

    .. math::

        A = \Sigma_s^{-1/2}\big(\Sigma_s^{1/2}\,\Sigma_t\,\Sigma_s^{1/2}\big)^{1/2}
            \Sigma_s^{-1/2}, \qquad b = \mu_t - A\mu_s,

    with :math:`\Sigma_s` replaced by :math:`\Sigma_s + \varepsilon I`. :math:`A` is symmetric
    positive semi-definite and :math:`A(\Sigma_s + \varepsilon I)A = \Sigma_t`, so
    :math:`x \mapsto Ax + b` sends samples of mean :math:`\mu_s` and covariance :math:`\Sigma_s`
    to mean :math:`\mu_t` and covariance :math:`\Sigma_t - \varepsilon A^2` (exactly
    :math:`\Sigma_t` for ``eps=0``), moving them as little as possible in the mean-square sense
    (Pitié & Kokaram 2007). Computed in float64 (matrix square roots by ``eigh``).

    Parameters
    ----------
    source_mean, target_mean : Tensor
        ``(C,)`` means.
    source_cov, target_cov : Tensor
        ``(C,C)`` symmetric positive semi-definite covariances.
    eps : float
        Ridge :math:`\varepsilon \geq 0` added to the source covariance (squared data units).
        It keeps :math:`A` finite for a degenerate source (e.g. a single colour); with
        ``eps=0`` a degenerate source gives huge gains along its flat directions.

    Returns
    -------
    A : Tensor
        ``(C,C)``.
    b : Tensor
        ``(C,)``. Both in the dtype and on the device of ``source_mean``.
    """
    c = source_mean.shape[-1]
    for name, t, shape in (("source_mean", source_mean, (c,)), ("target_mean", target_mean, (c,)),
                           ("source_cov", source_cov, (c, c)), ("target_cov", target_cov, (c, c))):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    mu_s, mu_t = source_mean.double(), target_mean.double()
    sig_s = source_cov.double() + eps * torch.eye(c, dtype=torch.float64, device=mu_s.device)
    sig_t = target_cov.double()
    root = _sym_power(sig_s, 0.5)
    inv_root = _sym_power(sig_s, -0.5)
    a = inv_root @ _sym_power(root @ sig_t @ root, 0.5) @ inv_root
    a = (a + a.T) / 2
    b = mu_t - a @ mu_s
    return a.to(source_mean), b.to(source_mean)


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear interpolation of ``(xp, fp)`` (``xp`` increasing) at ``x``, constant
    beyond the ends (``numpy.interp``)."""
    if xp.numel() == 1:
        return fp.expand_as(x).clone()
    idx = torch.searchsorted(xp, x.contiguous()).clamp(1, xp.numel() - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    y0, y1 = fp[idx - 1], fp[idx]
    w = ((x - x0) / (x1 - x0)).clamp(0, 1)
    return y0 + w * (y1 - y0)


def histogram_match_channels(values: Tensor, target_values: Tensor, *,
                             source_values: Tensor | None = None) -> Tensor:
    r"""Per-channel histogram (quantile) matching.

    Each channel :math:`c` is mapped through :math:`F_{t,c}^{-1}\circ F_{s,c}`, where
    :math:`F_{s,c}` is the empirical CDF of the source samples (mid-ranks for ties,
    interpolated linearly between sample values, clamped beyond them) and
    :math:`F_{t,c}^{-1}` the target's quantile function (linear interpolation between order
    statistics). Applied to the source samples themselves, each channel of the result has the
    target's histogram (up to that interpolation); a source equal to the target gives the
    identity.

    Parameters
    ----------
    values : Tensor
        ``(N,C)`` samples to map.
    target_values : Tensor
        ``(M,C)`` samples of the target distribution.
    source_values : Tensor, optional
        ``(N',C)`` samples defining the source CDF (default: ``values``), e.g. one region's
        pixels when mapping a whole image with that region's curve.

    Returns
    -------
    Tensor
        ``(N,C)`` in the dtype and on the device of ``values``; monotone in each channel.
    """
    source_values = values if source_values is None else source_values
    for name, t in (("values", values), ("target_values", target_values),
                    ("source_values", source_values)):
        if t.dim() != 2 or t.shape[1] != values.shape[1] or t.shape[0] == 0:
            raise ValueError(f"{name} must have shape (N,{values.shape[1]}) with N > 0, got "
                             f"{tuple(t.shape)}")
    out = torch.empty_like(values)
    for ch in range(values.shape[1]):
        unique, counts = torch.unique(source_values[:, ch], sorted=True, return_counts=True)
        ends = counts.cumsum(0).to(values.dtype)
        mid_rank = ends - (counts.to(values.dtype) + 1) / 2  # 0-based mean rank of the ties
        n = source_values.shape[0]
        quantile = mid_rank / max(n - 1, 1)
        u = _interp(values[:, ch], unique, quantile)
        target = torch.sort(target_values[:, ch].to(values.dtype)).values
        pos = u * (target.numel() - 1)  # the target's order statistics sit on a uniform grid
        lo = pos.floor().long().clamp(0, target.numel() - 1)
        hi = (lo + 1).clamp(max=target.numel() - 1)
        out[:, ch] = target[lo] + (pos - lo) * (target[hi] - target[lo])
    return out


def _gaussian_blur(masks: Tensor, radius: int) -> Tensor:
    """Separable Gaussian blur (σ = radius/3, support ±radius, edges replicated) of
    ``(K,H,W)``; keeps a partition of unity a partition of unity."""
    if radius <= 0:
        return masks
    offsets = torch.arange(-radius, radius + 1, dtype=masks.dtype, device=masks.device)
    kernel = torch.exp(-0.5 * (offsets / (radius / 3.0)) ** 2)
    kernel = kernel / kernel.sum()
    x = masks[:, None]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x[:, 0]


def _weighted_stats(pixels: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``(C,)`` and covariance ``(C,C)`` (float64) of ``(C,N)`` pixels weighted by ``(N,)``."""
    x = pixels.double()
    w = weights.double()
    w = w / w.sum()
    mean = x @ w
    centred = x - mean[:, None]
    cov = (centred * w) @ centred.T
    return mean, cov


def regional_color_transfer(content: Tensor, style: Tensor, content_masks: Tensor | None = None,
                            style_masks: Tensor | None = None, *,
                            method: str = Config.transfer_method,
                            space: str = Config.transfer_space,
                            blend_radius: int = Config.transfer_blend,
                            eps: float = DEFAULT_EPS) -> Tensor:
    r"""Map each content region's colours onto those of the matching style region.

    For each region :math:`k` a colour map :math:`T_k` is fitted from the content pixels of
    region :math:`k` to the style pixels of region :math:`k` (in Lab/100 or RGB):

    * ``"linear"``: :math:`T_k(x) = A_k x + b_k`, the Monge–Kantorovich map of
      :func:`monge_kantorovich_map` between the mask-weighted means and covariances — the
      region then has the style region's mean and covariance;
    * ``"histogram"``: per-channel quantile matching (:func:`histogram_match_channels`) of the
      pixels whose mask is above 0.5.

    Every map is applied to the whole image and the results are blended with the content masks
    blurred by a Gaussian (σ = ``blend_radius``/3, support ±``blend_radius`` px) and normalized
    to sum to 1 at each pixel, so no seam appears at region borders:
    :math:`O = \operatorname{clamp}\big(\sum_k \tilde m_k\,T_k(I),\ 0, 1\big)`.
    A style mask that is empty (a label absent from the style) is replaced by the whole style
    image, as :func:`segment.mask_tensors` and :func:`photostyle.transfer.prepare_masks` do.

    Parameters
    ----------
    content : Tensor
        ``(1,3,H,W)`` RGB in [0, 1]; the result follows its dtype and device. Not modified.
    style : Tensor
        ``(1,3,H',W')`` RGB in [0, 1]. Not modified.
    content_masks, style_masks : Tensor, optional
        ``(K,H,W)`` and ``(K,H',W')`` one-hot float masks (channel ``k`` of both is region
        ``k``); every content pixel must belong to some region. Give both or neither; without
        masks the whole images are one region.
    method : {"linear", "histogram"}
        The per-region map.
    space : {"lab", "rgb"}
        Colour space of the statistics (Lab: CIE L*a*b*, D65, divided by :data:`LAB_SCALE`).
    blend_radius : int
        Half width in pixels of the soft transition between regions; 0: hard borders.
    eps : float
        Ridge of the linear map (:func:`monge_kantorovich_map`), in squared colour units.

    Returns
    -------
    Tensor
        ``(1,3,H,W)`` in [0, 1].

    Raises
    ------
    ValueError
        Bad shapes or options, only one mask, or content pixels in no region.
    """
    _check_channels(content, "content")
    _check_channels(style, "style")
    if content.dim() != 4 or content.shape[0] != 1 or style.dim() != 4 or style.shape[0] != 1:
        raise ValueError(f"content and style must be (1,3,H,W), got {tuple(content.shape)} and "
                         f"{tuple(style.shape)}")
    if method not in ("linear", "histogram"):
        raise ValueError(f"method {method!r} must be 'linear' or 'histogram'")
    if space not in ("lab", "rgb"):
        raise ValueError(f"space {space!r} must be 'lab' or 'rgb'")
    if isinstance(blend_radius, bool) or not isinstance(blend_radius, int) or blend_radius < 0:
        raise ValueError(f"blend_radius must be an integer >= 0, got {blend_radius!r}")
    if (content_masks is None) != (style_masks is None):
        raise ValueError("give both content_masks and style_masks, or neither")
    _, _, h, w = content.shape
    hs, ws = style.shape[-2:]
    dtype, device = content.dtype, content.device
    style = style.to(device=device, dtype=dtype)
    if content_masks is None:
        content_masks = content.new_ones(1, h, w)
        style_masks = content.new_ones(1, hs, ws)
    content_masks = content_masks.to(device=device, dtype=dtype)
    style_masks = style_masks.to(device=device, dtype=dtype)
    k = content_masks.shape[0]
    if content_masks.shape != (k, h, w) or style_masks.shape != (k, hs, ws):
        raise ValueError(f"masks must be (K,H,W)=({k},{h},{w}) and (K,H',W')=({k},{hs},{ws}) "
                         f"to match the images, got {tuple(content_masks.shape)} and "
                         f"{tuple(style_masks.shape)}")
    if bool((content_masks.sum(0) <= 0).any()):
        raise ValueError("every content pixel must belong to a region (content masks sum to "
                         "0 somewhere)")

    if space == "lab":
        src, tgt = rgb_to_lab(content) / LAB_SCALE, rgb_to_lab(style) / LAB_SCALE
    else:
        src, tgt = content, style
    src_pix = src[0].reshape(3, -1)
    tgt_pix = tgt[0].reshape(3, -1)
    c_flat = content_masks.reshape(k, -1)
    s_flat = style_masks.reshape(k, -1)
    blend = _gaussian_blur(content_masks, blend_radius)
    blend = blend / blend.sum(0, keepdim=True)

    out = torch.zeros_like(src[0])
    for region in range(k):
        c_w, s_w = c_flat[region], s_flat[region]
        if float(c_w.sum()) <= 0:
            continue  # no content pixel: its blended weight is 0 everywhere
        if float(s_w.sum()) <= 0:
            s_w = torch.ones_like(s_w)  # label absent from the style: the whole style image
        if method == "linear":
            mu_s, cov_s = _weighted_stats(src_pix, c_w)
            mu_t, cov_t = _weighted_stats(tgt_pix, s_w)
            a, b = monge_kantorovich_map(mu_s, cov_s, mu_t, cov_t, eps=eps)
            mapped = (a.to(dtype) @ src_pix + b.to(dtype)[:, None]).reshape(3, h, w)
        else:
            c_sel, s_sel = c_w > 0.5, s_w > 0.5
            if not bool(c_sel.any()):
                c_sel = c_w > 0
            if not bool(s_sel.any()):
                s_sel = torch.ones_like(s_sel)
            mapped = histogram_match_channels(src_pix.T, tgt_pix[:, s_sel].T,
                                              source_values=src_pix[:, c_sel].T)
            mapped = mapped.T.reshape(3, h, w)
        out = out + blend[region] * mapped
    out = out[None]
    if space == "lab":
        out = lab_to_rgb(out * LAB_SCALE)
    return out.clamp(0, 1)
