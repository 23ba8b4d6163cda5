r"""Regional colour transfer: each content region takes its matching style region's colours.

A fast, network-free transfer that carries much of a photographic look (overall colour balance,
tone, colour cast per region) but none of what the neural stages add (local contrast, texture,
spatially varying effects). It serves as ``--quality preview`` (with the local-affine
post-process, :func:`photostyle.classic.preview`) and as a start for stage 1 (``init="transfer"``).

* :func:`monge_kantorovich_map` — the linear map :math:`x \mapsto A x + b` that sends a Gaussian
  :math:`\mathcal N(\mu_s, \Sigma_s)` onto :math:`\mathcal N(\mu_t, \Sigma_t)` with the least
  mean squared displacement (the optimal transport map between Gaussians).
* :func:`histogram_match_channels` — per-channel quantile (histogram) matching.
* * :func:`regional_color_transfer` — one map per mask region, blended softly across borders.

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

import numpy as np
from scipy import ndimage

from ..config import Config
from ..errors import require_both
from .color import LAB_SCALE, lab_to_rgb, rgb_to_lab
from .stats import fit_gaussian, psd_power

__all__ = [
    "DEFAULT_EPS",
    "histogram_match_channels",
    "monge_kantorovich_map",
    "regional_color_transfer",
]

#: Ridge added to the source covariance by default (squared colour units, RGB in [0, 1] or
#: Lab/100): a standard deviation of about one 8-bit level. It keeps the map finite for flat
#: regions (a single colour) and bounds its gain along directions of almost no variance.
DEFAULT_EPS = 1e-5

#: Choices of :func:`regional_color_transfer`'s ``method`` and ``space``.
_METHODS = ("linear", "histogram")
_SPACES = ("lab", "rgb")


def monge_kantorovich_map(source_mean: np.ndarray, source_cov: np.ndarray,
                          target_mean: np.ndarray, target_cov: np.ndarray, *,
                          eps: float = DEFAULT_EPS) -> tuple[np.ndarray, np.ndarray]:
    r"""The linear Monge–Kantorovich (optimal transport) map between two Gaussians.

    .. math::

        A = \Sigma_s^{-1/2}\big(\Sigma_s^{1/2}\,\Sigma_t\,\Sigma_s^{1/2}\big)^{1/2}
            \Sigma_s^{-1/2}, \qquad b = \mu_t - A\mu_s,

    with :math:`\Sigma_s` replaced by :math:`\Sigma_s + \varepsilon I`. :math:`A` is symmetric
    positive semi-definite and :math:`A(\Sigma_s + \varepsilon I)A = \Sigma_t`, so
    :math:`x \mapsto Ax + b` sends samples of mean :math:`\mu_s` and covariance :math:`\Sigma_s`
    to mean :math:`\mu_t` and covariance :math:`\Sigma_t - \varepsilon A^2` (exactly
    :math:`\Sigma_t` for ``eps=0``), moving them as little as possible in the mean-square sense
    (Pitié & Kokaram 2007). Computed in float64 (matrix powers by ``eigh``).

    Parameters
    ----------
    source_mean, target_mean : np.ndarray
        ``(C,)`` means.
    source_cov, target_cov : np.ndarray
        ``(C,C)`` symmetric positive semi-definite covariances.
    eps : float
        Ridge :math:`\varepsilon \geq 0` added to the source covariance (squared data units).
        It keeps :math:`A` finite for a degenerate source (e.g. a single colour); with
        ``eps=0`` a degenerate source gives huge gains along its flat directions.

    Returns
    -------
    A : np.ndarray
        ``(C,C)`` float64.
    b : np.ndarray
        ``(C,)`` float64.
    """
    c = np.shape(source_mean)[-1]
    for name, t, shape in (("source_mean", source_mean, (c,)), ("target_mean", target_mean, (c,)),
                           ("source_cov", source_cov, (c, c)), ("target_cov", target_cov, (c, c))):
        if np.shape(t) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {np.shape(t)}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    mu_s, mu_t = np.asarray(source_mean, np.float64), np.asarray(target_mean, np.float64)
    sig_s = np.asarray(source_cov, np.float64) + eps * np.eye(c)
    sig_t = np.asarray(target_cov, np.float64)
    root, inv_root = psd_power(sig_s, 0.5), psd_power(sig_s, -0.5)
    a = inv_root @ psd_power(root @ sig_t @ root, 0.5) @ inv_root
    a = (a + a.T) / 2
    return a, mu_t - a @ mu_s


def histogram_match_channels(values: np.ndarray, target_values: np.ndarray, *,
                             source_values: np.ndarray | None = None) -> np.ndarray:
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
    values : np.ndarray
        ``(N,C)`` samples to map.
    target_values : np.ndarray
        ``(M,C)`` samples of the target distribution.
    source_values : np.ndarray, optional
        ``(N',C)`` samples defining the source CDF (default: ``values``), e.g. one region's
        pixels when mapping a whole image with that region's curve.

    Returns
    -------
    np.ndarray
        ``(N,C)`` in the dtype of ``values``; monotone in each channel.
    """
    values = np.asarray(values)
    source_values = values if source_values is None else np.asarray(source_values)
    target_values = np.asarray(target_values)
    for name, t in (("values", values), ("target_values", target_values),
                    ("source_values", source_values)):
        if t.ndim != 2 or t.shape[1] != values.shape[1] or t.shape[0] == 0:
            raise ValueError(f"{name} must have shape (N,{values.shape[1]}) with N > 0, got "
                             f"{t.shape}")
    out = np.empty_like(values)
    n = source_values.shape[0]
    for ch in range(values.shape[1]):
        unique, counts = np.unique(source_values[:, ch], return_counts=True)
        ends = np.cumsum(counts).astype(np.float64)
        quantile = (ends - (counts + 1) / 2) / max(n - 1, 1)  # 0-based mean rank of the ties
        u = np.interp(values[:, ch], unique, quantile)
        target = np.sort(target_values[:, ch].astype(np.float64))
        out[:, ch] = np.interp(u * (target.size - 1), np.arange(target.size), target)
    return out


def _gaussian_blur(masks: np.ndarray, radius: int) -> np.ndarray:
    """Separable Gaussian blur (σ = radius/3, support ±radius, edges replicated) of
    ``(K,H,W)``; keeps a partition of unity a partition of unity."""
    if radius <= 0:
        return masks
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / (radius / 3.0)) ** 2)
    kernel = (kernel / kernel.sum()).astype(masks.dtype)
    out = ndimage.correlate1d(masks, kernel, axis=2, mode="nearest")
    return ndimage.correlate1d(out, kernel, axis=1, mode="nearest")


def regional_color_transfer(content: np.ndarray, style: np.ndarray,
                            content_masks: np.ndarray | None = None,
                            style_masks: np.ndarray | None = None, *,
                            method: str = Config.transfer_method,
                            space: str = Config.transfer_space,
                            blend_radius: int = Config.transfer_blend,
                            eps: float = DEFAULT_EPS) -> np.ndarray:
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
    image, as the neural method's masks are (:func:`photostyle.neural.inputs.prepare_masks`).

    Parameters
    ----------
    content : np.ndarray
        ``(H,W,3)`` float RGB in [0, 1]; the result follows its dtype. Not modified.
    style : np.ndarray
        ``(H',W',3)`` float RGB in [0, 1]. Not modified.
    content_masks, style_masks : np.ndarray, optional
        ``(K,H,W)`` and ``(K,H',W')`` one-hot float masks (channel ``k`` of both is region
        ``k``); every content pixel must belong to some region. Give both or neither; without
        masks the whole images are one region.
    method : {"linear", "histogram"}
        The per-region map.
    space : {"lab", "rgb"}
        Colour space of the statistics (Lab: CIE L*a*b*, D65, divided by ``LAB_SCALE``).
    blend_radius : int
        Half width in pixels of the soft transition between regions; 0: hard borders.
    eps : float
        Ridge of the linear map (:func:`monge_kantorovich_map`), in squared colour units.

    Returns
    -------
    np.ndarray
        ``(H,W,3)`` in [0, 1].

    Raises
    ------
    ValueError
        Bad shapes or options, only one mask, or content pixels in no region.
    """
    for name, image in (("content", content), ("style", style)):
        if np.ndim(image) != 3 or np.shape(image)[2] != 3 or np.asarray(image).dtype.kind != "f":
            raise ValueError(f"{name} must be an (H,W,3) float array, got "
                             f"{np.asarray(image).dtype} {np.shape(image)}")
    if method not in _METHODS:
        raise ValueError(f"method {method!r} must be 'linear' or 'histogram'")
    if space not in _SPACES:
        raise ValueError(f"space {space!r} must be 'lab' or 'rgb'")
    if isinstance(blend_radius, bool) or not isinstance(blend_radius, (int, np.integer)) \
            or blend_radius < 0:
        raise ValueError(f"blend_radius must be an integer >= 0, got {blend_radius!r}")
    require_both(content_masks, style_masks, ("content_masks", "style_masks"))
    h, w, _ = content.shape
    hs, ws, _ = style.shape
    dtype = content.dtype
    if content_masks is None:
        content_masks = np.ones((1, h, w), dtype)
        style_masks = np.ones((1, hs, ws), dtype)
    content_masks = np.asarray(content_masks, dtype)
    style_masks = np.asarray(style_masks, dtype)
    k = content_masks.shape[0]
    if content_masks.shape != (k, h, w) or style_masks.shape != (k, hs, ws):
        raise ValueError(f"masks must be (K,H,W)=({k},{h},{w}) and (K,H',W')=({k},{hs},{ws}) "
                         f"to match the images, got {content_masks.shape} and "
                         f"{style_masks.shape}")
    if np.any(content_masks.sum(0) <= 0):
        raise ValueError("every content pixel must belong to a region (content masks sum to "
                         "0 somewhere)")

    if space == "lab":
        src, tgt = rgb_to_lab(content) / LAB_SCALE, rgb_to_lab(style.astype(dtype)) / LAB_SCALE
    else:
        src, tgt = content, style.astype(dtype)
    src_pix = src.reshape(-1, 3)
    tgt_pix = tgt.reshape(-1, 3)
    c_flat = content_masks.reshape(k, -1)
    s_flat = style_masks.reshape(k, -1)
    blend = _gaussian_blur(content_masks, int(blend_radius))
    blend = blend / blend.sum(0, keepdims=True)

    out = np.zeros_like(src)
    for region in range(k):
        c_w, s_w = c_flat[region], s_flat[region]
        if c_w.sum() <= 0:
            continue  # no content pixel: its blended weight is 0 everywhere
        if s_w.sum() <= 0:
            s_w = np.ones_like(s_w)  # label absent from the style: the whole style image
        if method == "linear":
            source, target = fit_gaussian(src_pix, c_w), fit_gaussian(tgt_pix, s_w)
            a, b = monge_kantorovich_map(source.mean, source.cov, target.mean, target.cov,
                                         eps=eps)
            mapped = src_pix @ a.T.astype(dtype) + b.astype(dtype)
        else:
            c_sel, s_sel = c_w > 0.5, s_w > 0.5
            if not c_sel.any():
                c_sel = c_w > 0
            if not s_sel.any():
                s_sel = np.ones_like(s_sel)
            mapped = histogram_match_channels(src_pix, tgt_pix[s_sel],
                                              source_values=src_pix[c_sel])
        out += blend[region][..., None] * mapped.reshape(h, w, 3)
    if space == "lab":
        out = lab_to_rgb(out * LAB_SCALE)
    return np.clip(out, 0.0, 1.0).astype(dtype, copy=False)
