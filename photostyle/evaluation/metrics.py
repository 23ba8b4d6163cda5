r"""Quality metrics of a photorealistic style transfer that need no trained network.

* :func:`photorealism` — the mean local-affine residual of the output w.r.t. the content, i.e.
  DPST's own photorealism energy :math:`\sum_c O_c^\top L O_c / N`; lower is more photorealistic
  and it is 0 for any locally affine recolouring of the content.
* :func:`structure` — SSIM between the Sobel edge maps of content and output luminance; 1 when
  the output keeps every edge of the content where it was.
* :func:`style_distance` — per mask label, the Wasserstein-2 distance between Gaussian fits of
  the Lab colours of an image region and of the matching style region, weighted by area; on the
  output it says how close the colours got to the style, on the content how far they started.
* :func:`vgg_style_distance` — the masked Gram style loss of training (needs a VGG model; with
  trained weights it measures texture/colour statistics as the optimizer saw them).

:func:`evaluate` computes all of them for one result. Images are ``(H,W,3)`` float arrays in
[0, 1] (as :func:`photostyle.images.read_image` returns); masks are integer label maps on one
shared label set (as :func:`segment.align_masks` returns), each at its image's size or the same
aspect ratio (resized with nearest neighbour). The output may be smaller than the content (e.g.
a 512 px result of a 700 px photo): the content is then resized to the output's size, as the
transfer itself does before building its matting Laplacian.

References
----------
F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017.
A. Levin, D. Lischinski, Y. Weiss, "A Closed-Form Solution to Natural Image Matting", TPAMI 2008.
Z. Wang, A. Bovik, H. Sheikh, E. Simoncelli, "Image Quality Assessment: From Error Visibility to
Structural Similarity", IEEE TIP 13(4), 2004.
D. C. Dowson, B. V. Landau, "The Fréchet distance between multivariate normal distributions",
J. Multivariate Analysis 12(3), 1982.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matting.laplacian import matting_laplacian
from segment import resize_labels, same_picture

from ..classic.color import rgb_to_lab
from ..classic.stats import Gaussian, fit_gaussian, psd_power
from ..errors import InputError, require_both
from ..io.images import resize_image

if TYPE_CHECKING:
    from ..neural.vgg import VGG19Features

__all__ = [
    "METRICS",
    "METRIC_KEYS",
    "Gaussian",
    "Metric",
    "evaluate",
    "fit_gaussian",
    "format_metric",
    "gaussian_w2",
    "photorealism",
    "structure",
    "style_distance",
]


@dataclass(frozen=True)
class Metric:
    """How a metric is named and written (the one home of these, for the eval table, the
    contact sheet and the CLI).

    Attributes
    ----------
    label : str
        Short name (column header, caption).
    better : str
        Which way is better, e.g. ``"lower is better"``.
    legend : str
        One line saying what it measures.
    short : str
        Number format on the contact sheet.
    long : str
        Number format in tables.
    """

    label: str
    better: str
    legend: str
    short: str
    long: str


#: The metrics of :func:`evaluate`, in display order (``vgg_style`` only with a model).
METRICS: dict[str, Metric] = {
    "photorealism": Metric(
        "photorealism", "lower is better",
        "matting-Laplacian residual w.r.t. the content, lower = more photorealistic "
        "(0 = locally affine recolouring)", "{:.3g}", "{:.3e}"),
    "structure": Metric(
        "structure", "1 is best",
        "SSIM of the Sobel edge maps of content and output, 1 = same edges", "{:.3f}", "{:.4f}"),
    "style_distance": Metric(
        "style distance", "lower is closer",
        "Lab W2 between matching output and style regions, lower = closer to the style",
        "{:.2f}", "{:.2f}"),
    "style_distance_content": Metric(
        "before (content)", "before the transfer",
        "the style distance of the content, i.e. before the transfer", "{:.2f}", "{:.2f}"),
    "vgg_style": Metric(
        "VGG style", "lower is closer",
        "masked Gram style loss of training (unweighted)", "{:.3g}", "{:.4g}"),
}

#: Keys of :func:`evaluate`'s result, in display order.
METRIC_KEYS: tuple[str, ...] = tuple(METRICS)


def format_metric(key: str, value: float, *, table: bool = False) -> str:
    """``value`` written as metric ``key`` is (its ``long`` format in tables, else ``short``)."""
    metric = METRICS.get(key)
    if metric is None:
        return f"{value:.4g}"
    return (metric.long if table else metric.short).format(value)

#: Smallest side SSIM with a Gaussian window (sigma 1.5, 11x11) can use.
MIN_SSIM_SIDE = 11


def check_image(image: np.ndarray, name: str) -> np.ndarray:
    """``image`` as a float64 ``(H,W,3)`` array (a new array only when a conversion is needed)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be a numpy array (H,W,3) in [0, 1], got "
                         f"{type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"{name} must have shape (H,W,3), got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{name} must be a float array in [0, 1], got {image.dtype}; divide "
                         "8-bit images by 255")
    if not np.all(np.isfinite(image)):
        raise InputError(f"{name} contains NaN or infinite values")
    return np.asarray(image, dtype=np.float64)


def check_labels(labels: np.ndarray, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{name} must be an integer label map (H,W), got {labels.dtype} "
                         f"{labels.shape}")
    if labels.size and labels.min() < 0:
        raise InputError(f"{name} has negative labels")
    return labels


def _size_text(hw: tuple[int, ...]) -> str:
    return f"{hw[1]}x{hw[0]}"


def _resize_to(image: np.ndarray, size: tuple[int, int], name: str, target: str) -> np.ndarray:
    """``image`` resized to ``size`` (antialiased bicubic, as the transfer does), or as is."""
    hw = (int(image.shape[0]), int(image.shape[1]))
    if hw == tuple(size):
        return image
    if not same_picture(hw, size):
        raise InputError(f"{name} is {_size_text(hw)} but {target} is {_size_text(size)}: the "
                         "aspect ratios differ, so they are not the same picture; check the pair")
    return resize_image(image, size).astype(np.float64)


def labels_to(labels: np.ndarray, size: tuple[int, int], name: str,
               target: str) -> np.ndarray:
    """A label map resized (nearest neighbour) to ``size``."""
    hw = (int(labels.shape[0]), int(labels.shape[1]))
    if hw == tuple(size):
        return labels
    if not same_picture(hw, size):
        raise InputError(f"{name} is {_size_text(hw)} but {target} is {_size_text(size)}: "
                         "the aspect ratios differ; give the mask drawn for that image")
    return resize_labels(labels, size)


def photorealism(output: np.ndarray, content: np.ndarray, eps: float = 1e-7) -> float:
    r"""Mean local-affine residual of ``output`` w.r.t. ``content`` (lower = more photorealistic).

    .. math:: R = \frac{1}{N} \sum_{c=1}^{3} O_c^\top \mathcal{M}_I O_c

    with :math:`\mathcal{M}_I` the matting Laplacian of the content (3x3 windows, :math:`\varepsilon
    = 10^{-7}`) at the output's size and :math:`N = HW`. This is the photorealism energy of Luan
    et al. (eq. 2) per pixel; it is 0 for any locally affine colour transform of the content
    (up to the :math:`\varepsilon` shrinkage) and grows with anything that does not follow the
    content's local colour lines: independent noise of std σ adds about :math:`15 σ^2` (each
    3x3 window fits 4 of its 9 values per channel, leaving :math:`5 σ^2` per channel).

    Parameters
    ----------
    output : np.ndarray
        ``(H,W,3)`` float image in [0, 1].
    content : np.ndarray
        ``(H',W',3)`` float image in [0, 1]; resized to ``(H, W)`` (antialiased bicubic) when its
        size differs, which needs the same aspect ratio (within 1%, or 2 px per side).
    eps : float, optional
        Regularization of the matting Laplacian.

    Returns
    -------
    float
        :math:`R \geq 0`.

    Raises
    ------
    InputError
        Not float ``(H,W,3)`` arrays, or sizes that cannot be the same picture.
    """
    out = check_image(output, "output")
    con = _resize_to(check_image(content, "content"), out.shape[:2], "content", "the output")
    laplacian = matting_laplacian(con, eps=eps, radius=1)
    v = out.reshape(-1, 3)
    return max(float(np.sum(v * (laplacian @ v))) / v.shape[0], 0.0)


def _edges(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the Rec. 709 luminance; values in [0, 1]."""
    from skimage.color import rgb2gray
    from skimage.filters import sobel

    return sobel(rgb2gray(np.clip(image, 0.0, 1.0)))


def structure(output: np.ndarray, content: np.ndarray) -> float:
    r"""Structural similarity of the edges of ``output`` and ``content``.

    .. math:: S = \mathrm{SSIM}\big(\lVert\nabla Y_O\rVert, \lVert\nabla Y_I\rVert\big)

    :math:`Y` is the luminance (``skimage.color.rgb2gray``, Rec. 709 weights), :math:`\nabla`
    the Sobel operator (``skimage.filters.sobel``: gradient magnitude in [0, 1] for an image in
    [0, 1]), and SSIM the index of Wang et al. (2004) with their settings: Gaussian window
    σ = 1.5, population covariances, ``data_range = 1`` (the magnitude's full range, fixed so
    that the value does not depend on the image's contrast). Comparing edge maps rather than
    the images makes the index insensitive to the colour changes a style transfer should make
    and sensitive to edges it moves, blurs, removes or invents.

    Parameters
    ----------
    output : np.ndarray
        ``(H,W,3)`` float image in [0, 1], at least 11 px on each side.
    content : np.ndarray
        ``(H',W',3)`` float image in [0, 1]; resized to ``(H, W)`` when its size differs.

    Returns
    -------
    float
        SSIM in [-1, 1]; exactly 1 when the edge maps are equal (e.g. ``output = content``).

    Raises
    ------
    InputError
        Bad arrays, sizes that cannot be the same picture, or an image under 11 px.
    """
    from skimage.metrics import structural_similarity

    out = check_image(output, "output")
    if min(out.shape[:2]) < MIN_SSIM_SIDE:
        raise InputError(f"output is {_size_text(out.shape)}; structure needs at least "
                         f"{MIN_SSIM_SIDE} px on each side")
    con = _resize_to(check_image(content, "content"), out.shape[:2], "content", "the output")
    return float(structural_similarity(_edges(out), _edges(con), data_range=1.0,
                                       gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def gaussian_w2(a: Gaussian | tuple[np.ndarray, np.ndarray],
                b: Gaussian | tuple[np.ndarray, np.ndarray]) -> float:
    r"""Wasserstein-2 distance between two Gaussians (closed form).

    .. math::

        W_2^2 = \lVert\mu_a - \mu_b\rVert^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b
                - 2 (\Sigma_b^{1/2} \Sigma_a \Sigma_b^{1/2})^{1/2}\big)

    (Dowson & Landau 1982; the Fréchet distance of FID). In 1-D it is
    :math:`\sqrt{(\mu_a-\mu_b)^2 + (\sigma_a-\sigma_b)^2}`. The square roots are taken through
    symmetric eigendecompositions with negative rounding-error eigenvalues clipped to 0; for the
    symmetric positive semi-definite matrices involved this is the principal square root that
    ``scipy.linalg.sqrtm`` computes, without its complex round-off or its failures on singular
    covariances (e.g. a region of one flat colour).

    Parameters
    ----------
    a, b : Gaussian or (mean, cov)
        Means ``(d,)`` and covariances ``(d,d)`` (symmetric PSD); a 1-D Gaussian may be given
        with scalar mean and variance.

    Returns
    -------
    float
        :math:`W_2 \geq 0`, in the units of the samples (``W_2^2`` clipped at 0, then the root).
    """
    ma, ca = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in a)
    mb, cb = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in b)
    ca, cb = np.atleast_2d(ca), np.atleast_2d(cb)
    d = ma.shape[0]
    if ma.shape != (d,) or mb.shape != (d,) or ca.shape != (d, d) or cb.shape != (d, d):
        raise ValueError(f"Gaussians must have means (d,) and covariances (d,d) of one d; got "
                         f"{ma.shape}, {ca.shape} and {mb.shape}, {cb.shape}")
    root_b = psd_power(cb, 0.5)
    cross = psd_power(root_b @ ca @ root_b, 0.5)
    w2 = float(np.sum((ma - mb) ** 2) + np.trace(ca) + np.trace(cb) - 2.0 * np.trace(cross))
    return float(np.sqrt(max(w2, 0.0)))


def _lab_pixels(image: np.ndarray) -> np.ndarray:
    return rgb_to_lab(np.clip(image, 0.0, 1.0)).reshape(-1, 3)


def style_distance(image: np.ndarray, style: np.ndarray, image_labels: np.ndarray | None = None,
                   style_labels: np.ndarray | None = None) -> float:
    r"""Area-weighted Wasserstein-2 distance between the Lab colours of matching regions.

    .. math:: D = \sum_{k \in K} \frac{|R_k|}{\sum_{j \in K} |R_j|}\,
                  W_2\big(\mathcal{N}(\mu_k, \Sigma_k), \mathcal{N}(\mu'_k, \Sigma'_k)\big)

    where :math:`K` are the labels present in both masks, :math:`R_k` the region of label
    :math:`k` in ``image``, and :math:`(\mu_k, \Sigma_k)`, :math:`(\mu'_k, \Sigma'_k)` the mean
    and covariance (:func:`fit_gaussian`) of the CIE Lab colours
    (:func:`photostyle.classic.color.rgb_to_lab`, D65;
    L in [0, 100]) of the image region and of the style region. Labels found in only one mask
    are left out (the transfer gives a content-only label the whole style, which has no
    meaningful "matching region" to measure). Without masks there is one region each: the
    whole images. Units are Lab units (ΔE-like): a few units is a close match.

    Parameters
    ----------
    image : np.ndarray
        ``(H,W,3)`` float in [0, 1]: the output (how close it got) or the content (before).
    style : np.ndarray
        ``(H',W',3)`` float in [0, 1].
    image_labels, style_labels : np.ndarray, optional
        Integer label maps on one label set; give both or neither. Each is resized (nearest
        neighbour) to its image's size when it differs (same aspect ratio needed).

    Returns
    -------
    float
        :math:`D \geq 0`.

    Raises
    ------
    InputError
        Bad arrays, only one mask, masks that share no label, or a mask whose aspect ratio
        differs from its image's.
    """
    img = check_image(image, "image")
    sty = check_image(style, "style")
    require_both(image_labels, style_labels, ("an image mask", "a style mask"))
    img_lab, sty_lab = _lab_pixels(img), _lab_pixels(sty)
    if image_labels is None:
        return gaussian_w2(fit_gaussian(img_lab), fit_gaussian(sty_lab))
    i_lab = labels_to(check_labels(image_labels, "image mask"), img.shape[:2], "image mask",
                       "its image").ravel()
    s_lab = labels_to(check_labels(style_labels, "style mask"), sty.shape[:2], "style mask",
                       "the style image").ravel()
    num = int(max(i_lab.max(initial=0), s_lab.max(initial=0))) + 1
    i_count = np.bincount(i_lab, minlength=num)
    s_count = np.bincount(s_lab, minlength=num)
    shared = np.flatnonzero((i_count > 0) & (s_count > 0))
    if shared.size == 0:
        raise InputError("the image mask and the style mask share no label; align them with "
                         "segment.align_masks (same colours for matching regions)")
    total = 0.0
    for k in shared:
        dist = gaussian_w2(fit_gaussian(img_lab[i_lab == k]), fit_gaussian(sty_lab[s_lab == k]))
        total += float(i_count[k]) * dist
    return total / float(i_count[shared].sum())


def evaluate(output: np.ndarray, content: np.ndarray, style: np.ndarray,
             content_mask: np.ndarray | None = None, style_mask: np.ndarray | None = None, *,
             model: VGG19Features | None = None) -> dict[str, float]:
    """All quality metrics of one transfer result.

    Parameters
    ----------
    output : np.ndarray
        ``(H,W,3)`` float result in [0, 1].
    content, style : np.ndarray
        The transfer's inputs, float ``(H,W,3)`` in [0, 1]; the content may be larger than the
        output (same aspect ratio), it is then resized to the output's size.
    content_mask, style_mask : np.ndarray, optional
        Integer label maps on one label set (e.g. ``align_masks(...).content_labels`` and
        ``.style_labels``) at their images' sizes; give both or neither. The output's mask is
        the content's, resized to the output's size.
    model : VGG19Features, optional
        When given, ``vgg_style`` is measured too.

    Returns
    -------
    dict of str to float
        ``photorealism`` (:func:`photorealism`, lower is better), ``structure``
        (:func:`structure`, 1 is best), ``style_distance`` (:func:`style_distance` of the
        output, lower is closer to the style), ``style_distance_content`` (the same for the
        content: the value before the transfer), and ``vgg_style``
        (:func:`photostyle.evaluation.vgg_style.vgg_style_distance`) when ``model`` is
        given.

    Raises
    ------
    InputError
        Bad arrays or masks, only one mask, or an output that is not the content's picture.
    """
    out = check_image(output, "output")
    con = check_image(content, "content")
    sty = check_image(style, "style")
    require_both(content_mask, style_mask)
    out_labels = None
    if content_mask is not None:
        content_mask = labels_to(check_labels(content_mask, "content mask"), con.shape[:2],
                                  "content mask", "the content")
        out_labels = labels_to(content_mask, out.shape[:2], "content mask", "the output")
    result = {
        "photorealism": photorealism(out, con),
        "structure": structure(out, con),
        "style_distance": style_distance(out, sty, out_labels, style_mask),
        "style_distance_content": style_distance(con, sty, content_mask, style_mask),
    }
    if model is not None:
        from .vgg_style import vgg_style_distance  # torch: only with a model

        result["vgg_style"] = vgg_style_distance(out, sty, out_labels, style_mask, model=model)
    return result
