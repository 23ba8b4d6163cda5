"""Histogram loss (Risser et al. 2017): matching, targets, gradients, invariances, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photostyle.neural.histogram import (
    HistogramLoss,
    HistogramTarget,
    histogram_loss,
    histogram_target,
    match_histogram,
)


def _rand(seed: int, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g, dtype=dtype)


def _randn(seed: int, *shape: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _np_weighted_quantiles(samples: np.ndarray, masses: np.ndarray, levels: np.ndarray):
    """Midpoint-rule weighted quantiles of 1-D samples, by numpy."""
    order = np.argsort(samples, kind="stable")
    x, m = samples[order], masses[order]
    mid = (np.cumsum(m) - m / 2) / m.sum()
    return np.interp(levels, mid, x)


def _two_labels(h: int, w: int, soft: bool = False) -> torch.Tensor:
    masks = torch.zeros(2, h, w, dtype=torch.float64)
    masks[0, : h // 2] = 1
    masks[1, h // 2 :] = 1
    if soft:
        masks[0, h // 2] = 0.4
        masks[1, h // 2] = 0.6
    return masks


# --- matching ----------------------------------------------------------------------------------

def test_match_same_size_maps_onto_sorted_target_and_keeps_ranks():
    values, style = _randn(0, 3, 40), _rand(1, 3, 40) ** 3
    out = match_histogram(values, histogram_target(style))
    assert out.shape == values.shape and out.dtype == values.dtype
    assert torch.equal(out.sort(1).values, style.sort(1).values)
    assert torch.equal(out.argsort(1), values.argsort(1))


def test_match_different_size_is_linear_interpolation_on_midpoint_grid():
    n, m = 50, 200
    values, style = _randn(2, 2, n), _rand(3, 2, m)
    out = match_histogram(values, histogram_target(style)).numpy()
    for ch in range(2):
        grid = (np.arange(m) + 0.5) / m
        target_sorted = np.sort(style[ch].numpy())
        ranks = np.argsort(np.argsort(values[ch].numpy()))
        expected = np.interp((ranks + 0.5) / n, grid, target_sorted)
        np.testing.assert_allclose(out[ch], expected, rtol=0, atol=1e-12)


def test_match_weighted_positions_and_zero_weight_keeps_value():
    n, m = 30, 64
    values, style = _randn(4, 2, n), _rand(5, 2, m)
    weights = _rand(6, n) + 0.1
    weights[::7] = 0
    out = match_histogram(values, histogram_target(style), weights).numpy()
    w = weights.numpy()
    for ch in range(2):
        v = values[ch].numpy()
        order = np.argsort(v, kind="stable")
        ws = w[order]
        u = (np.cumsum(ws) - ws / 2) / ws.sum()
        expected = np.empty(n)
        expected[order] = np.interp(u, (np.arange(m) + 0.5) / m, np.sort(style[ch].numpy()))
        expected[w == 0] = v[w == 0]
        np.testing.assert_allclose(out[ch], expected, rtol=0, atol=1e-12)


def test_match_ties_follow_stable_order():
    target = histogram_target(torch.tensor([[40.0, 10.0, 30.0, 20.0]], dtype=torch.float64))
    values = torch.tensor([[2.0, 1.0, 2.0, 2.0]], dtype=torch.float64)
    expected = torch.tensor([[20.0, 10.0, 30.0, 40.0]], dtype=torch.float64)
    assert torch.equal(match_histogram(values, target), expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_match_batched_over_channels_equals_channel_loop(weighted):
    values, style = _randn(7, 5, 33), _randn(8, 5, 70).exp()
    weights = _rand(9, 33) if weighted else None
    target = histogram_target(style)
    out = match_histogram(values, target, weights)
    for ch in range(5):
        one = HistogramTarget(target.quantiles[ch : ch + 1], target.energy)
        torch.testing.assert_close(out[ch : ch + 1], match_histogram(values[ch : ch + 1], one,
                                                                     weights),
                                   rtol=0, atol=0)


# --- targets -----------------------------------------------------------------------------------

def test_target_unit_weights_are_sorted_values_and_energy():
    style = _randn(10, 1, 4, 7, 6)
    target = histogram_target(style)
    flat = style[0].reshape(4, -1)
    assert target.quantiles.shape == (4, 42)
    torch.testing.assert_close(target.quantiles, flat.sort(1).values, rtol=0, atol=1e-12)
    assert target.energy == pytest.approx(flat.square().sum(0).mean().item(), rel=1e-12)
    # uniform non-unit weights and binary masks select the same samples
    same = histogram_target(style, torch.full((7, 6), 0.3))
    torch.testing.assert_close(same.quantiles, target.quantiles, rtol=0, atol=1e-12)
    mask = torch.zeros(7, 6)
    mask[:3] = 1
    masked = histogram_target(style, mask)
    torch.testing.assert_close(masked.quantiles, flat[:, :18].sort(1).values, rtol=0, atol=0)


def test_target_weighted_quantiles_match_numpy():
    style, weights = _randn(11, 3, 25), _rand(12, 25)
    weights[3] = 0
    target = histogram_target(style, weights)
    q = target.quantiles.shape[1]
    assert q == 24  # the zero-weight pixel is ignored
    levels = (np.arange(q) + 0.5) / q
    w = weights.numpy()
    for ch in range(3):
        expected = _np_weighted_quantiles(style[ch].numpy()[w > 0], w[w > 0], levels)
        np.testing.assert_allclose(target.quantiles[ch].numpy(), expected, rtol=0, atol=1e-12)
    sq = style.square().sum(0).numpy()
    assert target.energy == pytest.approx((w * sq).sum() / w.sum(), rel=1e-12)


def test_blend_extremes_and_self_blend():
    a, b = _randn(13, 3, 5, 4), _randn(14, 3, 6, 6) + 2
    ta = histogram_target(a)
    only_a = histogram_target([a, b], blend=[1.0, 0.0])
    torch.testing.assert_close(only_a.quantiles, ta.quantiles, rtol=0, atol=0)
    assert only_a.energy == pytest.approx(ta.energy, rel=1e-12)
    self_blend = histogram_target([a, a], bins=20)
    torch.testing.assert_close(self_blend.quantiles, ta.quantiles, rtol=0, atol=1e-12)
    assert self_blend.energy == pytest.approx(ta.energy, rel=1e-12)


def test_blend_mixture_of_different_sizes_matches_numpy():
    a, b = _randn(15, 2, 30), _randn(16, 2, 70) + 3
    target = histogram_target([a, b], blend=[2.0, 2.0])
    q = target.quantiles.shape[1]
    assert q == 100
    levels = (np.arange(q) + 0.5) / q
    masses = np.concatenate([np.full(30, 0.5 / 30), np.full(70, 0.5 / 70)])
    for ch in range(2):
        samples = np.concatenate([a[ch].numpy(), b[ch].numpy()])
        expected = _np_weighted_quantiles(samples, masses, levels)
        np.testing.assert_allclose(target.quantiles[ch].numpy(), expected, rtol=0, atol=1e-12)
        median = _np_weighted_quantiles(samples, masses, np.array([0.5]))[0]
        assert np.median(a[ch].numpy()) < median < np.median(b[ch].numpy())
    expected_energy = 0.5 * a.square().sum(0).mean() + 0.5 * b.square().sum(0).mean()
    assert target.energy == pytest.approx(expected_energy.item(), rel=1e-12)


def test_bins_caps_stored_quantiles():
    style = _rand(17, 1, 3, 40, 40)
    target = histogram_target(style, bins=256)
    assert target.quantiles.shape == (3, 256)
    assert torch.all(target.quantiles[:, 1:] >= target.quantiles[:, :-1])
    loss = histogram_loss(style, [target])
    assert loss.shape == () and 0 <= loss.item() < 1e-4
    assert histogram_target(style[..., :5, :5], bins=256).quantiles.shape == (3, 25)


# --- loss --------------------------------------------------------------------------------------

def test_loss_zero_at_style_features_positive_otherwise():
    style, other = _randn(18, 1, 3, 8, 9), _randn(19, 1, 3, 8, 9)
    target = histogram_target(style)
    assert histogram_loss(style, [target]).item() <= 1e-12
    assert histogram_loss(other, [target]).item() > 1e-3
    masks = _two_labels(8, 9)
    targets = [histogram_target(style, m) for m in masks]
    assert histogram_loss(style, targets, masks).item() <= 1e-12
    assert histogram_loss(other, targets, masks).item() > 1e-3


@pytest.mark.parametrize("support", ["small", "large"])
def test_masked_loss_only_sees_its_region(support):
    h, w = 10, 10
    mask = torch.zeros(1, h, w, dtype=torch.float64)
    if support == "small":  # gathered support
        mask[0, :4] = 1
        mask[0, 4, :5] = 0.5
    else:  # > 90 % of the image: full image with zero weights outside
        mask[:] = 1
        mask[0, 0, :5] = 0
    target = histogram_target(_randn(20, 3, 50).exp())
    x = _randn(21, 1, 3, h, w).requires_grad_(True)
    loss = histogram_loss(x, [target], mask)
    loss.backward()
    outside = (mask[0] == 0).expand(1, 3, h, w)
    assert torch.all(x.grad[outside] == 0)
    assert torch.all(x.grad[~outside] != 0)
    changed = x.detach().clone()
    changed[outside] = _randn(22, int(outside.sum())) * 100
    torch.testing.assert_close(histogram_loss(changed, [target], mask), loss.detach(),
                               rtol=1e-14, atol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck(masked):
    x = _rand(23, 1, 3, 5, 6).requires_grad_(True)
    style = _randn(24, 3, 5, 6)
    if masked:
        masks = _two_labels(5, 6, soft=True)
        targets = [histogram_target(style, m) for m in masks]
    else:
        masks, targets = None, [histogram_target(style)]
    assert torch.autograd.gradcheck(lambda a: histogram_loss(a, targets, masks), (x,),
                                    eps=1e-7, atol=1e-6)


def test_gradient_descent_drives_histogram_to_target():
    c, h, w = 2, 8, 8
    style = _randn(25, c, h * w).exp()
    target = histogram_target(style)
    x = _rand(26, 1, c, h, w).requires_grad_(True)
    # gradient = 2 (x - R) / (N E): this step size moves 5 % of the way to R(x)
    lr = 0.05 * h * w * target.energy / 2
    losses = []
    for _ in range(200):
        loss = histogram_loss(x, [target])
        losses.append(loss.item())
        (grad,) = torch.autograd.grad(loss, x)
        x = (x - lr * grad).detach().requires_grad_(True)
    assert losses[1] < losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    got = x.detach()[0].reshape(c, -1).sort(1).values
    torch.testing.assert_close(got, style.sort(1).values, rtol=0, atol=1e-3)


def test_scale_invariance():
    style, x = _randn(27, 1, 4, 6, 7), _randn(28, 1, 4, 6, 7)
    masks = _two_labels(6, 7, soft=True)
    for m in (None, masks):
        ms = [None] if m is None else list(m)
        base = histogram_loss(x, [histogram_target(style, v) for v in ms], m)
        scaled = histogram_loss(7 * x, [histogram_target(7 * style, v) for v in ms], m)
        assert base.item() > 0
        torch.testing.assert_close(scaled, base, rtol=1e-12, atol=0)


def test_soft_mask_loss_value_matches_formula():
    h, w = 6, 7
    style, x = _randn(37, 3, 40).exp(), _randn(38, 1, 3, h, w)
    target = histogram_target(style)
    mask = _rand(39, h, w)
    mask[0] = 0
    flat, m = x[0].reshape(3, -1), mask.reshape(-1)
    keep = m > 0
    matched = match_histogram(flat[:, keep], target, m[keep])
    residual = (flat[:, keep] - matched).square().sum(0)
    expected = (m[keep] * residual).sum() / m[keep].sum() / target.energy
    got = histogram_loss(x, [target], mask[None])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    # two soft labels, default a_k = mean coverage normalised to sum 1
    masks = torch.stack([mask, 1 - mask])
    parts = [histogram_loss(x, [target], mk[None]) for mk in masks]
    cover = masks.flatten(1).mean(1)
    a = cover / cover.sum()
    torch.testing.assert_close(histogram_loss(x, [target, target], masks),
                               a[0] * parts[0] + a[1] * parts[1], rtol=1e-12, atol=0)


def test_region_weights_and_skipped_labels():
    style, x = _randn(29, 1, 3, 6, 6), _randn(30, 1, 3, 6, 6)
    masks = _two_labels(6, 6)
    targets = [histogram_target(style, m) for m in masks]
    first = histogram_loss(x, targets, masks, torch.tensor([1.0, 0.0]))
    second = histogram_loss(x, targets, masks, torch.tensor([0.0, 1.0]))
    both = histogram_loss(x, targets, masks)
    torch.testing.assert_close(both, 0.5 * first + 0.5 * second)
    alone = histogram_loss(x[..., :3, :], [targets[0]])
    torch.testing.assert_close(first, alone)


def test_module_and_dtype_follow_input():
    style = _randn(31, 1, 3, 6, 6)
    masks = _two_labels(6, 6)
    targets = [histogram_target(style, m) for m in masks]
    module = HistogramLoss(targets, masks)
    x32 = _randn(32, 1, 3, 6, 6).float().requires_grad_(True)
    loss = module(x32)
    assert loss.dtype == torch.float32 and loss.grad_fn is not None
    loss.backward()
    assert x32.grad.dtype == torch.float32
    torch.testing.assert_close(loss.double(), histogram_loss(x32.double(), targets, masks),
                               rtol=1e-5, atol=0)
    module.float()
    assert module.targets[0].quantiles.dtype == torch.float32
    assert targets[0].quantiles.dtype == torch.float64  # the caller's targets are untouched
    assert targets[0].to(dtype=torch.float32).quantiles.dtype == torch.float32
    q = targets[0].quantiles.clone()
    x = x32.detach().double()
    before = x.clone()
    histogram_loss(x, targets, masks)
    assert torch.equal(x, before) and torch.equal(targets[0].quantiles, q)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda_matches_cpu():
    style, x = _randn(33, 1, 8, 20, 24), _randn(34, 1, 8, 20, 24)
    masks = _two_labels(20, 24, soft=True)
    targets = [histogram_target(style, m) for m in masks]
    cpu = histogram_loss(x, targets, masks)
    dev = torch.device("cuda")
    gpu_targets = [histogram_target(style.to(dev), m.to(dev)) for m in masks]
    assert gpu_targets[0].quantiles.device.type == "cuda"
    gpu = histogram_loss(x.to(dev).float(), gpu_targets, masks.to(dev))
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    torch.testing.assert_close(gpu.cpu().double(), cpu, rtol=1e-4, atol=0)
    gpu64 = histogram_loss(x.to(dev), targets, masks.to(dev))  # CPU targets moved on the fly
    torch.testing.assert_close(gpu64.cpu(), cpu, rtol=1e-10, atol=0)


# --- bad input ---------------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    a3, a4 = _randn(35, 3, 5, 5), _randn(36, 4, 5, 5)
    t3 = histogram_target(a3)
    with pytest.raises(ValueError, match="channels"):
        histogram_target([a3, a4])
    with pytest.raises(ValueError, match="channels"):
        histogram_loss(a4, [t3])
    with pytest.raises(ValueError, match="channels"):
        match_histogram(a4.reshape(4, -1), t3)
    with pytest.raises(ValueError, match="masks"):
        histogram_loss(a3, [t3, t3], torch.ones(2, 5, 6))
    with pytest.raises(ValueError, match="masks"):
        histogram_loss(a3, [t3, t3], torch.ones(3, 5, 5))
    with pytest.raises(ValueError, match="no masks"):
        histogram_loss(a3, [t3, t3])
    with pytest.raises(ValueError, match="non-zero weight"):
        histogram_target(a3, torch.zeros(5, 5))
    with pytest.raises(ValueError, match="does not match"):
        histogram_target(a3, torch.ones(4, 5))
    with pytest.raises(ValueError, match=">= 0"):
        histogram_target(a3, -torch.ones(5, 5))
    with pytest.raises(ValueError, match="all zero"):
        match_histogram(a3.reshape(3, -1), t3, torch.zeros(25))
    with pytest.raises(ValueError, match="batch size"):
        histogram_loss(torch.zeros(2, 3, 5, 5), [t3])
    with pytest.raises(ValueError, match="blend"):
        histogram_target([a3, a3], blend=[1.0])
    with pytest.raises(ValueError, match="region_weights"):
        histogram_loss(a3, [t3, t3], torch.ones(2, 5, 5), torch.ones(3))
