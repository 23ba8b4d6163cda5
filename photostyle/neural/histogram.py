r"""Histogram loss of Risser et al. (2017), as pure torch functions plus a thin module.

Method. For one VGG layer, each channel of the current activations :math:`O` is histogram
matched to the same channel of the style activations :math:`S` (within each mask label when
masks are given): every activation is replaced by the style's quantile at the activation's rank,

.. math:: R(O) = F_S^{-1}\left(F_O(O)\right),

and the loss penalises the distance to that remapped copy, :math:`‖O − R(O)‖²`. :math:`R(O)`
is computed without gradient and held constant for the step, so the gradient is
:math:`2\,(O − R(O))` (times the normalization below); gradient descent moves every activation
toward the style value of its rank. Since :math:`R(O)` depends on :math:`O` only through the
ranks of its values, it is piecewise constant and the detached gradient is also the true
gradient almost everywhere (``torch.autograd.gradcheck`` passes).

Everything is sort/quantile based and batched over channels (``torch.sort``,
``torch.searchsorted``, gathers and scatters), so the same code runs on CPU and GPU without
custom kernels.

Target. :func:`histogram_target` stores the style distribution of one label at one layer as at
most ``bins`` quantiles per channel, at the uniform levels :math:`(j + ½)/Q`. Risser et al. used
256-bin histograms; quantiles are exact (the sorted style values themselves) when the label has
at most ``bins`` style pixels, and otherwise a piecewise-linear approximation of the quantile
function. Several style images can be mixed (``blend``).

Normalization (dimensionless, as in :mod:`photostyle.losses`). For label :math:`k` with
content mask :math:`m_k` and region weight :math:`a_k`,

.. math::

    L = \sum_k a_k\,\frac{\sum_p m_k(p)\,‖F(p) − R_k(F)(p)‖^2 / \sum_p m_k(p)}{E_k},
    \qquad E_k = \frac{\sum_p v_k(p)\,‖S(p)‖^2}{\sum_p v_k(p)},

the mean squared residual per pixel divided by the mean squared style feature vector of the
label (:math:`v_k` the style mask). Rescaling all features of the layer (output and style) by a
constant leaves :math:`L` unchanged. Each layer gets weight 1, the same as the Gram style layers;
the caller multiplies the sum over layers by ``histogram_weight`` from its configuration.

Reference
---------
E. Risser, P. Wilmot, C. Barnes, "Stable and Controllable Neural Texture Synthesis and Style
Transfer Using Histogram Losses", arXiv:1701.08893, 2017.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .losses import check_features
from .support import TINY, LabelSupport, label_support

__all__ = [
    "DEFAULT_BINS",
    "HistogramLoss",
    "HistogramTarget",
    "histogram_loss",
    "histogram_target",
    "match_histogram",
]

#: Most quantiles stored per channel for a target (exact below this many style pixels).
DEFAULT_BINS = 4096

@dataclass(frozen=True, eq=False)
class HistogramTarget:
    r"""A style distribution per channel, as quantiles at uniform levels.

    Attributes
    ----------
    quantiles : Tensor
        ``(C,Q)``: per channel, the target's quantile at the levels :math:`(j + ½)/Q`,
        ``j = 0..Q-1`` (ascending along dim 1). Detached.
    energy : float
        Weighted mean over style pixels of the squared feature vector (summed over channels),
        :math:`\sum_p v_p ‖S_p‖² / \sum_p v_p`, at least the dtype's smallest normal number; the
        normalization :math:`E` of :func:`histogram_loss`.
    """

    quantiles: Tensor
    energy: float

    def __post_init__(self) -> None:
        q = self.quantiles
        if not isinstance(q, Tensor) or q.dim() != 2 or q.shape[0] == 0 or q.shape[1] == 0:
            shape = tuple(q.shape) if isinstance(q, Tensor) else type(q).__name__
            raise ValueError(f"HistogramTarget: quantiles must be a (C,Q) tensor with C, Q > 0, "
                             f"got {shape}")
        if not q.is_floating_point():
            raise ValueError(f"HistogramTarget: quantiles must be floating point, got {q.dtype}")
        if not float(self.energy) > 0:
            raise ValueError(f"HistogramTarget: energy must be > 0, got {self.energy}")

    @property
    def channels(self) -> int:
        """Number of channels ``C``."""
        return self.quantiles.shape[0]

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> HistogramTarget:
        """A copy with the quantiles on ``device`` and/or in ``dtype`` (same energy)."""
        return HistogramTarget(self.quantiles.to(device=device, dtype=dtype), self.energy)


def _as_channels(features: Tensor, name: str) -> tuple[Tensor, tuple[int, ...]]:
    """``(C,N)`` view of ``(C,N)``, ``(C,H,W)`` or ``(1,C,H,W)`` features, with the pixel shape."""
    if not isinstance(features, Tensor):
        raise ValueError(f"{name}: expected a tensor, got {type(features).__name__}")
    if not features.is_floating_point():
        raise ValueError(f"{name}: expected floating-point features, got {features.dtype}")
    if features.dim() == 4:
        if features.shape[0] != 1:
            raise ValueError(f"{name}: expected batch size 1, got shape {tuple(features.shape)}")
        features = features[0]
    if features.dim() == 3:
        c, h, w = features.shape
        return features.reshape(c, h * w), (h, w)
    if features.dim() == 2:
        return features, (features.shape[1],)
    raise ValueError(f"{name}: expected (C,N), (C,H,W) or (1,C,H,W), got "
                     f"{tuple(features.shape)}")


def _grid_lookup(quantiles: Tensor, pos: Tensor) -> Tensor:
    """Linear interpolation of ``(C,Q)`` values on the grid of indices ``0..Q-1``.

    ``pos`` (float64) is ``(N,)`` (the same positions for every channel) or ``(C,N)``; positions
    beyond the ends are clamped to the first / last value. Returns ``(C,N)`` in the dtype of
    ``quantiles``.
    """
    q = quantiles.shape[1]
    if q == 1:
        return quantiles[:, :1].expand(-1, pos.shape[-1]).clone()
    pos = pos.clamp(0, q - 1)
    lo = pos.floor().long().clamp_(max=q - 2)
    frac = (pos - lo).to(quantiles.dtype)
    if pos.dim() == 1:
        lo_v, hi_v = quantiles.index_select(1, lo), quantiles.index_select(1, lo + 1)
    else:
        lo_v, hi_v = quantiles.gather(1, lo), quantiles.gather(1, lo + 1)
    return torch.lerp(lo_v, hi_v, frac.expand_as(lo_v))


def _uniform_positions(n: int, q: int, device: torch.device) -> Tensor:
    r"""Grid index (on levels :math:`(j+½)/q`) of the levels :math:`(i+½)/n`, ``i = 0..n-1``.

    Computed as :math:`((2i+1)q − n) / (2n)` from an exact integer numerator, so that ``n == q``
    gives exactly ``i``.
    """
    i = torch.arange(n, device=device, dtype=torch.int64)
    return ((2 * i + 1) * q - n).to(torch.float64) / (2 * n)


def _check_weights(weights: Tensor, pixel_shape: tuple[int, ...], name: str) -> Tensor:
    """Flat ``(N,)`` float64 weights, checked against the pixel shape of their features."""
    if not isinstance(weights, Tensor):
        raise ValueError(f"{name}: expected a tensor, got {type(weights).__name__}")
    n = 1
    for s in pixel_shape:
        n *= s
    shapes = {(n,), tuple(pixel_shape)}
    if tuple(weights.shape) not in shapes:
        allowed = " or ".join(str(s) for s in sorted(shapes, key=len))
        raise ValueError(f"{name}: shape {tuple(weights.shape)} does not match the features' "
                         f"pixels, expected {allowed}")
    w = weights.reshape(n).to(torch.float64)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"{name}: weights must be finite and >= 0")
    return w


def histogram_target(features: Tensor | Sequence[Tensor],
                     weights: Tensor | Sequence[Tensor | None] | None = None,
                     blend: Sequence[float] | None = None,
                     bins: int = DEFAULT_BINS) -> HistogramTarget:
    r"""Style distribution of one label at one layer, as per-channel quantiles.

    The target distribution is the mixture over style images :math:`i`

    .. math:: P = \sum_i b_i \sum_p \frac{v_{ip}}{\sum_{p'} v_{ip'}}\,\delta_{S_{ip}},

    (sample :math:`p` of image :math:`i` carries the mass :math:`b_i v_{ip} / \sum_p v_{ip}`).
    Per channel, the samples of non-zero mass are sorted and given the cumulative-mass midpoints
    :math:`c_i = (\sum_{j<i} m_j + m_i/2) / \sum_j m_j`; the quantile at level :math:`q` is the
    linear interpolation of the sorted values over :math:`c` (clamped beyond the ends), taken at
    the levels :math:`q_j = (j + ½)/Q`, :math:`Q = \min(\mathrm{bins}, M)` with :math:`M` the
    number of samples of non-zero mass. With uniform masses and :math:`M \le` ``bins`` the
    quantiles are exactly the sorted values.

    Parameters
    ----------
    features : Tensor or sequence of Tensor
        Style activations ``(C,N)``, ``(C,H,W)`` or ``(1,C,H,W)``, or a sequence of them (several
        style images, the same ``C``, any number of pixels ``N_i``).
    weights : Tensor or sequence of (Tensor or None), optional
        Per-pixel weights :math:`v_{ip} \ge 0` of each image, ``(N_i,)`` or ``(H_i,W_i)`` (the
        style masks of the label at this layer's resolution); ``None`` means all ones. Pixels of
        weight 0 are ignored. An image whose weights are all zero (the label is absent from it)
        is left out and the blend renormalised over the others.
    blend : sequence of float, optional
        Mixing weights :math:`b_i \ge 0` of the images (default equal), normalised to sum 1.
    bins : int
        Most quantiles stored per channel.

    Returns
    -------
    HistogramTarget
        Quantiles ``(C,Q)`` in the dtype and on the device of (the first of) ``features``,
        detached, and the mixture's mean squared feature vector
        :math:`E = \sum_i b_i \sum_p v_{ip} ‖S_{ip}‖² / \sum_p v_{ip}`.

    Raises
    ------
    ValueError
        Bad shapes, mismatched channels, negative weights or blend, or no pixel of non-zero
        mass.
    """
    feats = [features] if isinstance(features, Tensor) else list(features)
    if not feats:
        raise ValueError("histogram_target: no features given")
    if weights is None or isinstance(weights, Tensor):
        wlist: list[Tensor | None] = [weights] * len(feats) if weights is None else [weights]
    else:
        wlist = list(weights)
    if len(wlist) != len(feats):
        raise ValueError(f"histogram_target: {len(wlist)} weights for {len(feats)} feature "
                         f"tensors")
    if blend is None:
        blist = [1.0] * len(feats)
    else:
        blist = [float(b) for b in blend]
        if len(blist) != len(feats):
            raise ValueError(f"histogram_target: {len(blist)} blend weights for {len(feats)} "
                             f"feature tensors")
        if any(not (b >= 0 and b < float("inf")) for b in blist) or sum(blist) <= 0:
            raise ValueError(f"histogram_target: blend weights must be finite, >= 0 and not all "
                             f"zero, got {blist}")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"histogram_target: bins must be a positive integer, got {bins!r}")

    with torch.no_grad():
        samples: list[Tensor] = []
        masses: list[Tensor] = []
        energies: list[float] = []
        shares: list[float] = []
        ref: Tensor | None = None
        for i, (f, w, b) in enumerate(zip(feats, wlist, blist, strict=True)):
            flat, pixel_shape = _as_channels(f, f"histogram_target: features[{i}]")
            if ref is None:
                ref = flat
            elif flat.shape[0] != ref.shape[0]:
                raise ValueError(f"histogram_target: features[{i}] has {flat.shape[0]} "
                                 f"channels, features[0] has {ref.shape[0]}")
            flat = flat.detach().to(device=ref.device, dtype=ref.dtype)
            n = flat.shape[1]
            if w is None:
                w64 = torch.ones(n, dtype=torch.float64, device=flat.device)
            else:
                w64 = _check_weights(w, pixel_shape, f"histogram_target: weights[{i}]")
                w64 = w64.to(flat.device)
            total = float(w64.sum()) if n else 0.0
            if b <= 0 or total <= 0:
                continue
            keep = w64 > 0
            if not bool(keep.all()):
                flat, w64 = flat[:, keep], w64[keep]
            sq = flat.to(torch.float64).square().sum(0)
            energies.append(float((w64 * sq).sum()) / total)
            shares.append(b)
            samples.append(flat)
            masses.append(w64 * (b / total))
        if ref is None or not samples:
            raise ValueError("histogram_target: no pixel with non-zero weight (all weights zero "
                             "or empty features)")
        share_total = sum(shares)
        energy = sum(s * e for s, e in zip(shares, energies, strict=True)) / share_total
        energy = max(energy, torch.finfo(ref.dtype).tiny)

        x = torch.cat(samples, dim=1)
        m = torch.cat(masses)
        c, count = x.shape
        q = min(bins, count)
        sorted_x, order = torch.sort(x, dim=1, stable=True)
        if bool((m == m[0]).all()):
            # Uniform masses: the midpoints are (i + 1/2)/M for every channel.
            quantiles = _grid_lookup(sorted_x, _uniform_positions(q, count, x.device))
        else:
            ms = m[order]  # (C,M) masses in each channel's sorted order
            cum = ms.cumsum(1)
            mid = (cum - 0.5 * ms) / cum[:, -1:]
            levels = (torch.arange(q, dtype=torch.float64, device=x.device) + 0.5) / q
            levels = levels.expand(c, q).contiguous()
            hi = torch.searchsorted(mid, levels, right=True)  # first midpoint above the level
            lo = (hi - 1).clamp_(min=0)
            hi = hi.clamp_(max=count - 1)
            c_lo, c_hi = mid.gather(1, lo), mid.gather(1, hi)
            gap = c_hi - c_lo
            frac = torch.where(gap > 0, (levels - c_lo) / torch.where(gap > 0, gap, 1.0),
                               0.0).clamp_(0, 1)
            x_lo, x_hi = sorted_x.gather(1, lo), sorted_x.gather(1, hi)
            quantiles = torch.lerp(x_lo.to(torch.float64), x_hi.to(torch.float64), frac)
            quantiles = quantiles.to(x.dtype)
    return HistogramTarget(quantiles.contiguous(), float(energy))


def match_histogram(values: Tensor, target: HistogramTarget,
                    weights: Tensor | None = None) -> Tensor:
    r"""Histogram-match each channel of ``values`` to ``target``: :math:`F_t^{-1}\circ F_v`.

    Each channel is sorted (stable sort: tied values keep their original order and so get
    distinct consecutive ranks); the sorted element :math:`i` gets the weighted mid-rank position

    .. math:: u_i = \frac{\sum_{j<i} w_j + w_i/2}{\sum_j w_j}

    (:math:`(i + ½)/N` with unit weights) and is replaced by the target's quantile function at
    :math:`u_i`: linear interpolation of ``target.quantiles`` on the levels :math:`(j + ½)/Q`,
    clamped to the first / last quantile beyond the ends. The result is scattered back to the
    original order, so it is monotone in each channel's values. Computed without gradient,
    batched over channels.

    Parameters
    ----------
    values : Tensor
        ``(C,N)`` samples (e.g. one label's pixels of one layer).
    target : HistogramTarget
        ``C`` channels.
    weights : Tensor, optional
        ``(N,)`` masses :math:`w \ge 0` of the samples (default: ones). Samples of weight 0 take
        no part in the ranks' masses and are returned unchanged (their own value).

    Returns
    -------
    Tensor
        ``(C,N)`` matched values, detached, in the dtype and on the device of ``values``.
    """
    if not isinstance(values, Tensor) or values.dim() != 2 or values.shape[1] == 0:
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"match_histogram: values must be (C,N) with N > 0, got {shape}")
    if not values.is_floating_point():
        raise ValueError(f"match_histogram: values must be floating point, got {values.dtype}")
    c, n = values.shape
    if target.channels != c:
        raise ValueError(f"match_histogram: values have {c} channels, the target has "
                         f"{target.channels}")
    w = None if weights is None else _check_weights(weights, (n,), "match_histogram: weights")
    if w is not None:
        w = w.to(values.device)
        if not bool(w.sum() > 0):
            raise ValueError("match_histogram: weights are all zero")
    return _match(values, target.quantiles, w)


def _match(values: Tensor, quantiles: Tensor, w: Tensor | None) -> Tensor:
    """:func:`match_histogram` without the checks (and without reading anything back from the
    device): ``values`` ``(C,N)``, ``quantiles`` ``(C,Q)``, ``w`` ``(N,)`` float64 masses with a
    positive sum, on ``values``' device, or None."""
    with torch.no_grad():
        v = values.detach()
        quantiles = quantiles.to(device=v.device, dtype=v.dtype)
        n, q = v.shape[1], quantiles.shape[1]
        order = torch.sort(v, dim=1, stable=True).indices
        if w is None:
            matched = _grid_lookup(quantiles, _uniform_positions(n, q, v.device))
        else:
            ws = w[order]
            u = (ws.cumsum(1) - 0.5 * ws) / w.sum()
            matched = _grid_lookup(quantiles, u * q - 0.5)
        out = torch.empty_like(v).scatter_(1, order, matched)
        if w is not None:
            out = torch.where(w > 0, out, v)
    return out


def histogram_loss(features: Tensor, targets: Sequence[HistogramTarget],
                   masks: Tensor | None = None, region_weights: Tensor | None = None) -> Tensor:
    r"""Masked histogram loss of one layer (Risser et al. 2017), dimensionless.

    .. math::

        L = \sum_k a_k\,\frac{1}{E_k}\,
            \frac{\sum_p m_k(p)\,‖F(p) − R_k(F)(p)‖^2}{\sum_p m_k(p)}

    :math:`R_k(F)` is :func:`match_histogram` of the pixels of label :math:`k` (those with
    :math:`m_k > 0`, weighted by :math:`m_k`) onto ``targets[k]``, held constant (detached);
    :math:`E_k` = ``targets[k].energy``. The gradient is
    :math:`2 a_k m_k (F − R_k(F)) / (E_k \sum_p m_k)`, which is also the exact gradient almost
    everywhere (:math:`R_k` depends on :math:`F` only through ranks). Rescaling the features and
    the style features by the same constant leaves :math:`L` unchanged.

    Parameters
    ----------
    features : Tensor
        ``(1,C,H,W)`` or ``(C,H,W)`` activations of the image being optimized.
    targets : sequence of HistogramTarget
        ``K`` targets with ``C`` channels, one per label (:func:`histogram_target`).
    masks : Tensor, optional
        ``(K,H,W)`` content masks in [0, 1] at this layer's resolution; ``None`` means one label
        covering the whole image (then ``K`` must be 1).
    region_weights : Tensor, optional
        ``(K,)`` weights :math:`a_k` (default: the masks' mean coverage normalised to sum 1;
        ``1`` without masks). Labels with :math:`a_k \le 0` or an empty mask are skipped.

    Returns
    -------
    Tensor
        Scalar loss with a ``grad_fn`` through ``features`` (when they require grad).

    Notes
    -----
    A label whose support covers less than 90 % of the image is matched on its gathered support
    only (sorting fewer values); binary masks use the unit-weight path.
    """
    f = check_features(features, "histogram_loss")
    targets = tuple(targets)
    _check_loss_inputs(f, targets, masks)
    return _histogram_terms(f.reshape(f.shape[0], -1),
                            _histogram_labels(targets, masks, region_weights, f))


def _check_loss_inputs(f: Tensor, targets: tuple[HistogramTarget, ...],
                       masks: Tensor | None) -> None:
    """The argument checks of :func:`histogram_loss` (``f`` is ``(C,H,W)``)."""
    c, h, w = f.shape
    k = len(targets)
    if k == 0:
        raise ValueError("histogram_loss: no targets")
    for i, t in enumerate(targets):
        if not isinstance(t, HistogramTarget):
            raise ValueError(f"histogram_loss: targets[{i}] is a {type(t).__name__}, expected a "
                             f"HistogramTarget")
        if t.channels != c:
            raise ValueError(f"histogram_loss: features have {c} channels, targets[{i}] has "
                             f"{t.channels}")
    if masks is None:
        if k != 1:
            raise ValueError(f"histogram_loss: {k} targets but no masks")
    elif masks.dim() != 3 or masks.shape[0] != k or tuple(masks.shape[1:]) != (h, w):
        raise ValueError(f"histogram_loss: masks must be (K,H,W) = {(k, h, w)} for {k} targets "
                         f"and features {tuple(f.shape)}, got {tuple(masks.shape)}")


@dataclass(frozen=True)
class _HistogramLabel:
    """Constants of one label's histogram term at one layer (fixed for a run)."""

    support: LabelSupport  # its pixels (gathered when under GATHER_BELOW) and mask m_k there
    mass: Tensor | None  # the mask as float64 masses for the ranks (None: all ones)
    coef: float  # a_k / E_k
    quantiles: Tensor  # the target, in the features' dtype and on their device


def _histogram_labels(targets: Sequence[HistogramTarget], masks: Tensor | None,
                      region_weights: Tensor | None, like: Tensor,
                      ) -> tuple[_HistogramLabel, ...]:
    """Per-label constants of :func:`histogram_loss` for features like ``like`` ``(C,H,W)``:
    region weights, supports and masses are read once here, not at every step."""
    c, h, w = like.shape
    if region_weights is None:
        if masks is None:
            weights = [1.0]
        else:
            cover = masks.detach().flatten(1).to(torch.float64).mean(1)
            weights = (cover / cover.sum().clamp_min(TINY)).tolist()
    else:
        if region_weights.shape != (len(targets),):
            raise ValueError(f"histogram_loss: region_weights must be ({len(targets)},), got "
                             f"{tuple(region_weights.shape)}")
        weights = region_weights.detach().tolist()
    labels = []
    for label, a in enumerate(weights):
        if not a > 0:
            continue
        target = targets[label]
        support = LabelSupport(None, None)
        if masks is not None:
            m = masks[label].detach().reshape(h * w).to(device=like.device, dtype=like.dtype)
            support = label_support(m)
            if support is None:
                continue
        quantiles = target.quantiles.to(device=like.device, dtype=like.dtype)
        mass = None if support.mask is None else support.mask.to(torch.float64)
        labels.append(_HistogramLabel(support, mass, a / target.energy, quantiles))
    return tuple(labels)


def _histogram_terms(flat: Tensor, labels: Sequence[_HistogramLabel]) -> Tensor:
    """Σ_k a_k Σ m‖F − R_k(F)‖² / (Σ m · E_k) of ``flat`` ``(C,N)`` features (the per-step
    work of :func:`histogram_loss`: a gather, a sort and a scatter per label)."""
    total: Tensor | None = None
    for label in labels:
        index, mask = label.support.index, label.support.mask
        x = flat if index is None else flat.index_select(1, index)
        matched = _match(x, label.quantiles, label.mass)
        residual = (x - matched).square()
        if mask is None:
            term = residual.sum() / x.shape[1]
        else:
            term = (residual.sum(0) * mask).sum() / mask.sum()
        term = term * label.coef
        total = term if total is None else total + term
    if total is None:  # nothing to match: zero, still attached to the features' graph
        total = (flat * 0).sum()
    return total


class HistogramLoss(nn.Module):
    """:func:`histogram_loss` against fixed targets and masks.

    ``masks`` and ``region_weights`` are buffers; ``targets`` is a tuple attribute whose
    quantiles follow the module's ``.to()`` / ``.cuda()`` / ``.double()`` like the buffers.
    """

    def __init__(self, targets: Sequence[HistogramTarget], masks: Tensor | None = None,
                 region_weights: Tensor | None = None) -> None:
        super().__init__()
        self.targets: tuple[HistogramTarget, ...] = tuple(targets)
        if not self.targets:
            raise ValueError("HistogramLoss: no targets")
        self.register_buffer("masks", None if masks is None else masks.detach().clone())
        self.register_buffer(
            "region_weights", None if region_weights is None else region_weights.detach().clone()
        )

        self._labels: tuple[_HistogramLabel, ...] = ()
        self._key: tuple | None = None

    def _apply(self, fn: Callable[[Tensor], Tensor], *args, **kwargs) -> HistogramLoss:
        super()._apply(fn, *args, **kwargs)
        self.targets = tuple(HistogramTarget(fn(t.quantiles), t.energy) for t in self.targets)
        self._key = None
        return self

    def forward(self, features: Tensor) -> Tensor:
        """:func:`histogram_loss`, with the per-label constants computed on the first call
        (and again only if the features' device, dtype or shape change)."""
        f = check_features(features, "histogram_loss")
        key = (f.device, f.dtype, tuple(f.shape))
        if key != self._key:
            _check_loss_inputs(f, self.targets, self.masks)
            self._labels = _histogram_labels(self.targets, self.masks, self.region_weights, f)
            self._key = key
        return _histogram_terms(f.reshape(f.shape[0], -1), self._labels)
