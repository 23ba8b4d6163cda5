"""The Lua reference itself (tests/neural/lua_reference.py): its energies' gradients against
line-by-line transcriptions of the Lua/CUDA gradients, its Laplacian, its torch/image
rescaling, its L-BFGS against torch's, its post-process on known cases. Checked here so that
the parity tests of the paper's loss (test_paper_loss.py) compare against a sound reference."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torchvision

from . import lua_reference as lr


@functools.lru_cache(maxsize=2)
def _vgg(seed: int = 0) -> torch.nn.Module:
    """Random VGG-19 features up to relu5_1, float64 (not modified by the tests)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        feats = torchvision.models.vgg19(weights=None).features[:30]  # up to relu5_1
        for m in feats:
            if isinstance(m, torch.nn.Conv2d):  # keep activations O(1..10) through 13 convs
                torch.nn.init.normal_(m.weight, std=math.sqrt(2.0 / (9 * m.in_channels)))
                torch.nn.init.normal_(m.bias, std=0.1)
    return feats.double().eval().requires_grad_(False)


def _img(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g, dtype=torch.float64)


# ---------------------------------------------------------------- preprocess
def test_preprocess_constants_and_order():
    v = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    v[:, 0] = 1.0  # pure red
    x = lr.caffe_preprocess(v)
    # BGR order, x256, minus (103.939, 116.779, 123.68)
    expected = torch.tensor([-103.939, -116.779, 256 - 123.68], dtype=torch.float64)
    assert torch.allclose(x[0, :, 0, 0], expected)
    assert torch.allclose(lr.caffe_deprocess(x), v)


# ---------------------------------------------------------------- matting term
def _laplacian_setup(h=6, w=7, seed=3):
    rng = np.random.default_rng(seed)
    content = rng.random((h, w, 3))
    L_cm = lr.matting_laplacian(content, colmajor=True)   # authors' (MATLAB) pixel order
    L_rm = lr.matting_laplacian(content)                  # row-major
    return content, L_cm, L_rm


def test_laplacian_properties_and_orders():
    h, w = 6, 7
    _, L_cm, L_rm = _laplacian_setup(h, w)
    assert abs(L_rm - L_rm.T).max() < 1e-10                       # symmetric
    assert np.abs(L_rm @ np.ones(h * w)).max() < 1e-9             # L 1 = 0
    assert abs(lr.colmajor_to_rowmajor(L_cm, h, w) - L_rm).max() < 1e-10
    # corner pixel lies in exactly one 3x3 window -> diagonal = 1 - (1 + q)/9 with q >= 0
    assert 0 < L_rm[0, 0] < 8 / 9 + 1e-12
    # eigenvalues >= 0 (PSD)
    assert np.linalg.eigvalsh(L_rm.toarray()).min() > -1e-9


def test_matting_energy_gradient_equals_lua_kernel_and_fd():
    h, w, lam = 6, 7, 1e4
    _, L_cm, L_rm = _laplacian_setup(h, w)
    x = lr.caffe_preprocess(_img(h, w, 1)).requires_grad_(True)
    E = lr.matting_energy(x, L_rm, lam)
    (g,) = torch.autograd.grad(E, x)
    # literal CUDA-kernel transcription on the column-major triplet file
    g_lua = lr.lua_matting_grad(x.detach()[0], lr.lua_triplets(L_cm), h, w, lam)
    assert torch.allclose(g[0], g_lua, rtol=1e-10, atol=1e-12)
    # closed form: (2 lam / 256) L v, v = (x + mean) / 256
    mean = torch.tensor(lr.CAFFE_MEAN_BGR, dtype=torch.float64).view(3, 1, 1)
    v = ((x.detach()[0] + mean) / 256).reshape(3, -1).numpy()
    closed = (2 * lam / 256) * (L_rm @ v.T).T.reshape(3, h, w)
    assert np.allclose(g[0].numpy(), closed, rtol=1e-10, atol=1e-12)
    # mean drops out: E = lam/65536 sum_c x_c^T L x_c
    xc = x.detach()[0].reshape(3, -1).numpy()
    closed_x = lam / 65536 * float(np.einsum("ci,ci->", xc, (L_rm @ xc.T).T))
    assert math.isclose(E.item(), closed_x, rel_tol=1e-9)
    # dense L gives the same
    dense = lr.matting_energy(x, torch.from_numpy(L_rm.toarray()), lam).item()
    assert math.isclose(dense, E.item(), rel_tol=1e-12)
    # finite differences
    eps = 1e-3
    for (c, i, j) in [(0, 0, 0), (1, 3, 4), (2, 5, 6)]:
        xp, xm = x.detach().clone(), x.detach().clone()
        xp[0, c, i, j] += eps
        xm[0, c, i, j] -= eps
        diff = lr.matting_energy(xp, L_rm, lam) - lr.matting_energy(xm, L_rm, lam)
        fd = diff.item() / (2 * eps)
        assert math.isclose(fd, g[0, c, i, j].item(), rel_tol=1e-6, abs_tol=1e-9)


# ---------------------------------------------------------------- torch/image scale + mask carrying
def test_torch_image_scale_weights():
    W = lr.torch_image_scale_weights(6, 3)
    assert np.allclose(W, np.kron(np.eye(3), [[0.5, 0.5]]))            # even: pair average
    W = lr.torch_image_scale_weights(5, 3)                             # odd: fractional area
    assert np.allclose(W, [[0.6, 0.4, 0, 0, 0], [0, 0.2, 0.6, 0.2, 0], [0, 0, 0, 0.4, 0.6]],
                       atol=1e-6)
    assert np.allclose(lr.torch_image_scale_weights(7, 4).sum(1), 1)
    up = lr.torch_image_scale_weights(3, 5)                            # align-corners linear
    assert np.allclose(up, [[1, 0, 0], [.5, .5, 0], [0, 1, 0], [0, .5, .5], [0, 0, 1]], atol=1e-6)


def test_carried_all_ones_mask_is_attenuated_at_borders():
    m = lr.lua_masks(torch.ones(1, 10, 12), ["relu1_1", "relu1_2"])
    m11 = m["relu1_1"][0]
    assert m11[0, 0].item() == pytest.approx(4 / 9) and m11[0, 5].item() == pytest.approx(6 / 9)
    assert m11[5, 5].item() == pytest.approx(1.0)
    assert m["relu1_2"][0, 0, 0].item() == pytest.approx((4 / 9 + 2 * 6 / 9 + 1) / 9)


@pytest.mark.parametrize("h,w", [(37, 45), (32, 48), (21, 19)])
def test_mask_shapes_match_ceil_mode_features(h, w):
    vgg = _vgg()
    x = lr.caffe_preprocess(_img(h, w, 0))
    names = list(lr.STYLE_LAYERS) + list(lr.CONTENT_LAYERS)
    f = lr.vgg_features(x, vgg, names)
    m = lr.lua_masks(torch.rand(3, h, w), names)
    for n in names:
        assert m[n].shape == (3,) + tuple(f[n].shape[-2:]), n
    assert f["relu5_1"].shape[1] == 512 and f["relu1_1"].shape[1] == 64


# ---------------------------------------------------------------- style term
def test_all_ones_mask_at_layer_gives_unmasked_gram_and_neuralstyle_loss():
    torch.manual_seed(0)
    Fx = torch.randn(8, 5, 6, dtype=torch.float64)
    Fs = torch.randn(8, 5, 6, dtype=torch.float64)
    one = torch.ones(1, 5, 6, dtype=torch.float64)
    G, mu = lr.masked_gram(Fx, one[0])
    assert mu == 1 and torch.allclose(G, Fx.reshape(8, -1) @ Fx.reshape(8, -1).T / Fx.numel())
    S = [lr.masked_gram(Fs, one[0])[0]]
    loss = lr.style_layer_loss(Fx, one, S, 100.0)
    # neural-style StyleLoss: strength * MSE(G/numel, S)
    assert torch.isclose(loss, 100.0 * ((G - S[0]) ** 2).mean())


def test_style_autograd_equals_lua_update_grad_input():
    torch.manual_seed(1)
    C, H, W = 6, 7, 5
    Fx = torch.rand(C, H, W, dtype=torch.float64, requires_grad=True)
    Fs = torch.rand(C, H, W, dtype=torch.float64)
    Mc = torch.rand(3, H, W, dtype=torch.float64)          # fractional masks (as after carrying)
    Ms = torch.rand(3, H, W, dtype=torch.float64)
    S = [lr.masked_gram(Fs, Ms[j], False)[0] for j in range(3)]
    g_lua = lr.lua_style_grad(Fx.detach(), Mc, S, 100.0)
    (g_auto,) = torch.autograd.grad(lr.style_layer_loss(Fx, Mc, S, 100.0, lua_mask_grad=True), Fx)
    assert torch.allclose(g_auto, g_lua, rtol=1e-10, atol=1e-14)
    # the exact gradient of the *reported* loss has one more mask factor per label
    (g_true,) = torch.autograd.grad(lr.style_layer_loss(Fx, Mc, S, 100.0, lua_mask_grad=False), Fx)
    per_label = sum(Mc[j] * lr.lua_style_grad(Fx.detach(), Mc[j:j + 1], S[j:j + 1], 100.0)
                    for j in range(3))
    assert torch.allclose(g_true, per_label, rtol=1e-10, atol=1e-14)
    assert not torch.allclose(g_true, g_lua)
    # binary masks: both coincide
    Mb = (Mc > 0.5).double()
    (a,) = torch.autograd.grad(lr.style_layer_loss(Fx, Mb, S, 100.0, True), Fx)
    (b,) = torch.autograd.grad(lr.style_layer_loss(Fx, Mb, S, 100.0, False), Fx)
    assert torch.allclose(a, b)


def test_absent_labels():
    torch.manual_seed(2)
    C, H, W = 4, 6, 6
    Fx = torch.rand(C, H, W, dtype=torch.float64, requires_grad=True)
    Fs = torch.rand(C, H, W, dtype=torch.float64)
    half = torch.zeros(H, W, dtype=torch.float64)
    half[:, :3] = 1
    zero = torch.zeros(H, W, dtype=torch.float64)
    # label absent in CONTENT (present in style): contributes 0 loss and 0 gradient
    S = [lr.masked_gram(Fs, half, False)[0]]
    assert S[0].abs().sum() > 0
    loss = lr.style_layer_loss(Fx, zero[None], S, 100.0)
    (g,) = torch.autograd.grad(loss, Fx)
    assert loss.item() == 0 and g.abs().max() == 0
    # label absent in STYLE (present in content): target = 0 (no division), loss = s*mu*mean(G^2)
    S0, mu0 = lr.masked_gram(Fs, zero, False)
    assert S0.abs().max() == 0 and mu0 == 0
    G, mu = lr.masked_gram(Fx.detach(), half)
    loss = lr.style_layer_loss(Fx, half[None], [S0], 100.0)
    assert torch.isclose(loss, 100.0 * 0.5 * (G ** 2).mean()) and loss > 0


# ---------------------------------------------------------------- content / tv
def test_content_and_tv_gradients_match_lua():
    torch.manual_seed(3)
    Fx = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    T = torch.randn(5, 4, 3, dtype=torch.float64)
    (g,) = torch.autograd.grad(lr.content_loss(Fx, T, 5.0), Fx)
    assert torch.allclose(g, 5.0 * 2 * (Fx.detach() - T) / Fx.numel())  # strength*crit:backward
    x = torch.randn(3, 6, 7, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(lr.tv_energy(x, 1e-3), x)
    assert torch.allclose(g, lr.lua_tv_grad(x.detach(), 1e-3))


# ---------------------------------------------------------------- end to end
def test_objective_end_to_end_matches_hand_assembled_lua_gradient():
    h, w = 26, 22
    vgg = _vgg(1)
    content, style = _img(h, w, 10), _img(24, 30, 11)
    xc, xs = lr.caffe_preprocess(content), lr.caffe_preprocess(style)
    # two-label segmentations: left/right halves (content) and top/bottom (style) + one absent label
    cm = torch.zeros(3, h, w, dtype=torch.float64)
    cm[0, :, : w // 2] = 1
    cm[1, :, w // 2:] = 1
    sm = torch.zeros(3, 24, 30, dtype=torch.float64)
    sm[0, :12] = 1
    sm[2, 12:] = 1           # label 1 absent in style, label 2 absent in content
    L = lr.matting_laplacian(content[0].permute(1, 2, 0).numpy())
    x = (xc + 5 * torch.randn_like(xc)).requires_grad_(True)
    out = lr.lua_objective(x, xc, xs, cm, sm, vgg, L)
    keys = {"content", "style", "tv", "matting", "total", "lua_printed_total"}
    keys |= {f"style:{n}" for n in lr.STYLE_LAYERS}
    assert keys <= set(out)
    assert torch.isclose(out["total"], out["content"] + out["style"] + out["tv"] + out["matting"])
    (g,) = torch.autograd.grad(out["total"], x)

    # hand-assembled Lua gradient: per-module gradInputs back-propagated through the VGG
    names = list(lr.STYLE_LAYERS) + list(lr.CONTENT_LAYERS)
    xd = x.detach().clone().requires_grad_(True)
    f = lr.vgg_features(xd, vgg, names)
    tc = lr.vgg_features(xc, vgg, ["relu4_2"])["relu4_2"]
    ts = lr.vgg_features(xs, vgg, lr.STYLE_LAYERS)
    cmc, smc = lr.lua_masks(cm, lr.STYLE_LAYERS), lr.lua_masks(sm, lr.STYLE_LAYERS)
    outs, grads = [f["relu4_2"]], [5.0 * 2 * (f["relu4_2"].detach() - tc) / tc.numel()]
    for n in lr.STYLE_LAYERS:
        S = [lr.masked_gram(ts[n][0], smc[n][j], False)[0] for j in range(3)]
        outs.append(f[n])
        grads.append(lr.lua_style_grad(f[n].detach()[0], cmc[n], S, 100.0)[None])
    g_hand = sum(torch.autograd.grad(outs, xd, grads))
    g_hand = g_hand + lr.lua_tv_grad(x.detach()[0], 1e-3)[None]
    L_cm = lr.matting_laplacian(content[0].permute(1, 2, 0).numpy(), colmajor=True)
    g_hand = g_hand + lr.lua_matting_grad(x.detach()[0], lr.lua_triplets(L_cm), h, w, 1e4)[None]
    assert torch.allclose(g, g_hand, rtol=1e-9, atol=1e-12 * g.abs().max().item())


# ---------------------------------------------------------------- post-process
def test_smooth_local_affine_constant_and_affine():
    rng = np.random.default_rng(0)
    guide = rng.random((3, 9, 11))
    const = np.full_like(guide, 0.3)
    out = lr.smooth_local_affine(const, guide, f_radius=3, f_edge=0.05)
    assert np.allclose(out, 0.3, atol=1e-12)                # no ridge on the bias term
    A = np.array([[0.8, 0.1, 0.0], [0.05, 0.9, 0.1], [0.0, 0.2, 0.7]])
    target = np.einsum("ij,jhw->ihw", A, guide) + 0.05
    out = lr.smooth_local_affine(target, guide, f_radius=3, f_edge=0.05)
    assert np.abs(out - target).max() < 0.05                      # ridge 1e-3 shrinks slightly
    out_noridge = lr.smooth_local_affine(target, guide, f_radius=3, f_edge=0.05, ridge=1e-12)
    assert np.abs(out_noridge - target).max() < 1e-6


# ---------------------------------------------------------------- L-BFGS settings
def test_torch_lbfgs_with_lua_settings_matches_optim_lbfgs_transcription():
    torch.manual_seed(0)
    n = 12
    Q = torch.randn(n, n, dtype=torch.float64)
    A = Q @ Q.T + 0.5 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, dtype=torch.float64)
    fun = lambda z: 0.5 * z @ A @ z - b @ z + 0.1 * (z ** 4).sum()  # noqa: E731

    def opfunc(z):
        z = z.detach().requires_grad_(True)
        f = fun(z)
        (g,) = torch.autograd.grad(f, z)
        return f.item(), g

    iters = 15
    x_lua, f_hist, evals = lr.lua_lbfgs(opfunc, torch.zeros(n, dtype=torch.float64), iters)
    z = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    kw = dict(lr.LUA_LBFGS_TORCH_KWARGS, max_iter=iters, max_eval=int(iters * 1.25))
    opt = torch.optim.LBFGS([z], **kw)
    calls = []

    def closure():
        opt.zero_grad()
        f = fun(z)
        f.backward()
        calls.append(f.item())
        return f

    opt.step(closure)
    assert evals == iters == len(calls)            # 1 + (maxIter-1) evaluations
    assert np.allclose(calls, f_hist, rtol=1e-10)
    assert torch.allclose(z.detach(), x_lua, rtol=1e-10, atol=1e-12)
