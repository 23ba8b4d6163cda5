"""Tests of the matting package: Laplacian, photorealism regularizer, local affine post-process."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch

from matting import (
    LocalAffinePost,
    MattingRegularizer,
    laplacian_to_torch,
    local_affine_post,
    matting_energy,
    matting_laplacian,
)
from photostyle.evaluation.metrics import photorealism


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A float64 (H, W, 3) "photo" in [0, 1]: smooth gradients, a hard edge, a soft blob and
    some fine texture (so that windows range from flat to textured)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx * yy], axis=-1)
    img = np.where((xx + 0.5 * yy > 0.55)[..., None], img * [0.6, 1.1, 0.8], img)
    img += 0.25 * np.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.02)[..., None]
    img += 0.03 * rng.standard_normal((h, w, 3))
    return np.clip(img, 0.0, 1.0)


def to_tensor(img: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(dtype)


def channels(img: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (N, 3) float64 array, column c = channel c flattened row-major."""
    return img.detach()[0].reshape(3, -1).T.double().numpy()


def brute_force_laplacian(img: np.ndarray, eps: float, radius: int) -> np.ndarray:
    """Dense Levin et al. Laplacian, one window at a time, straight from the formula."""
    h, w, _ = img.shape
    size = 2 * radius + 1
    n = size * size
    L = np.zeros((h * w, h * w))
    for y in range(radius, h - radius):
        for x in range(radius, w - radius):
            ys, xs = np.mgrid[y - radius : y + radius + 1, x - radius : x + radius + 1]
            idx = (ys * w + xs).ravel()
            colors = img[ys, xs].reshape(n, 3)
            mu = colors.mean(axis=0)
            cov = (colors - mu).T @ (colors - mu) / n
            inv = np.linalg.inv(cov + eps / n * np.eye(3))
            for a in range(n):
                for b in range(n):
                    value = (1 + (colors[a] - mu) @ inv @ (colors[b] - mu)) / n
                    L[idx[a], idx[b]] += (a == b) - value
    return L


# --------------------------------------------------------------------------- Laplacian


@pytest.mark.parametrize("radius", [1, 2])
def test_laplacian_symmetric_rows_sum_to_zero_psd(radius):
    img = photo(23, 31, seed=1)
    L = matting_laplacian(img, radius=radius)
    assert isinstance(L, scipy.sparse.csr_matrix)
    assert L.shape == (23 * 31, 23 * 31) and L.dtype == np.float64
    scale = abs(L).max()
    assert abs(L - L.T).max() <= 1e-12 * scale
    assert np.abs(L @ np.ones(L.shape[0])).max() <= 1e-10 * scale
    x = np.random.default_rng(0).standard_normal((L.shape[0], 20))
    assert np.all(np.einsum("nk,nk->k", x, L @ x) >= -1e-9)
    assert np.linalg.eigvalsh(L.toarray()).min() >= -1e-8 * scale


@pytest.mark.parametrize(("shape", "eps", "radius"), [((6, 7), 1e-7, 1), ((7, 9), 1e-5, 2)])
def test_laplacian_equals_brute_force(shape, eps, radius):
    img = np.random.default_rng(3).random((*shape, 3))
    expected = brute_force_laplacian(img, eps, radius)
    L = matting_laplacian(img, eps=eps, radius=radius).toarray()
    np.testing.assert_allclose(L, expected, rtol=0, atol=1e-10 * np.abs(expected).max())
    # Couplings only within 2r in each direction, nothing beyond (row-major index y*W + x).
    assert matting_laplacian(img, eps=eps, radius=radius).nnz == np.count_nonzero(expected)


@pytest.mark.parametrize(("eps", "radius"), [(1e-7, 1), (1e-4, 1), (1e-7, 2)])
def test_laplacian_equals_pymatting(eps, radius):
    from pymatting import cf_laplacian

    img = photo(30, 41, seed=2)
    # pymatting.cf_laplacian(image, epsilon=1e-7, radius=1) follows the same conventions, so
    # no transform is needed: row-major pixel index, only windows fully inside the image, and
    # (sum_w c c^T + epsilon I) / |w| = Sigma_k + epsilon / |w| I as the regularized
    # covariance. It needs a C-contiguous float64 array (numba signature f8[:, :, :]). Its CSR
    # holds explicit zeros at column 0 for neighbours outside the image (duplicates within a
    # row), so compare the summed matrices, not the raw arrays.
    expected = cf_laplacian(np.ascontiguousarray(img), epsilon=eps, radius=radius)
    L = matting_laplacian(img, eps=eps, radius=radius)
    assert abs(L - expected).max() <= 1e-10 * abs(expected).max()


def test_affine_function_of_content_has_near_zero_energy():
    img = photo(40, 50, seed=4)
    eps = 1e-7
    L = matting_laplacian(img, eps=eps)
    A = np.array([[0.6, 0.3, -0.1], [0.2, 0.5, 0.1], [-0.2, 0.1, 0.9]])
    b = np.array([0.05, -0.1, 0.2])
    v = img.reshape(-1, 3) @ A.T + b
    energy = np.sum(v * (L @ v))
    # Per window and channel the energy is eps a^T S (S + eps I)^-1 a <= eps ||a||^2.
    assert 0 <= energy / v.shape[0] <= eps * np.sum(A**2) * (1 + 1e-6)
    noise = np.random.default_rng(0).random(v.shape)
    assert energy < 1e-4 * np.sum(noise * (L @ noise))


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros((8, 8)), {}, "shape"),
        (np.zeros((8, 8, 4)), {}, "shape"),
        (np.zeros((1, 8, 8, 3)), {}, "shape"),
        (np.zeros((2, 9, 3)), {}, "smaller than one"),
        (np.zeros((9, 4, 3)), {"radius": 2}, "smaller than one"),
        (np.zeros((8, 8, 3), dtype=np.uint8), {}, "float"),
        (np.zeros((8, 8, 3)), {"radius": 0}, "radius"),
        (np.zeros((8, 8, 3)), {"eps": 0.0}, "eps"),
        (np.full((8, 8, 3), np.nan), {}, "NaN"),
        ([[[0.0, 0.0, 0.0]]], {}, "numpy array"),
    ],
)
def test_laplacian_rejects_bad_input(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        matting_laplacian(image, **kwargs)


def test_laplacian_does_not_modify_input():
    img = photo(10, 12)
    before = img.copy()
    matting_laplacian(img)
    np.testing.assert_array_equal(img, before)


# --------------------------------------------------------------------------- regularizer


@pytest.fixture(scope="module")
def small_case():
    content = photo(9, 11, seed=5)
    L = matting_laplacian(content)
    image = torch.rand(1, 3, 9, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return content, L, image


def test_matting_energy_gradcheck(small_case):
    _, L, image = small_case
    lap = laplacian_to_torch(L, dtype=torch.float64)
    x = image.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: matting_energy(t, lap, weight=0.7), (x,))
    fn = lambda t: matting_energy(t, lap, weight=2.0, normalize=False)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("weight", [1.0, 3.5])
def test_matting_energy_value_and_gradient(small_case, weight):
    _, L, image = small_case
    n = 9 * 11
    v = channels(image)
    lv = L @ v
    x = image.clone().requires_grad_(True)
    energy = matting_energy(x, laplacian_to_torch(L, dtype=torch.float64), weight=weight)
    energy.backward()
    assert energy.dtype == torch.float64 and energy.dim() == 0
    assert energy.item() == pytest.approx(weight * np.sum(v * lv) / n, rel=1e-12)
    np.testing.assert_allclose(channels(x.grad), 2 * weight * lv / n, rtol=1e-12, atol=1e-15)


def test_matting_energy_normalize_flag(small_case):
    _, L, image = small_case
    lap = laplacian_to_torch(L, dtype=torch.float64)
    raw = matting_energy(image, lap, weight=2.0, normalize=False)
    normalized = matting_energy(image, lap, weight=2.0, normalize=True)
    assert raw.item() == pytest.approx(99 * normalized.item(), rel=1e-12)
    assert raw.item() == pytest.approx(2.0 * np.sum(channels(image) * (L @ channels(image))))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["auto", "csr", "coo"])
def test_laplacian_to_torch_layouts(small_case, dtype, layout):
    _, L, image = small_case
    data_before = L.data.copy()
    lap = laplacian_to_torch(L, dtype=dtype, layout=layout)
    np.testing.assert_array_equal(L.data, data_before)
    expected_layout = torch.sparse_coo if layout == "coo" else torch.sparse_csr
    assert lap.layout == expected_layout  # CSR @ dense exists on CPU for float32 and float64
    assert lap.dtype == dtype and lap.device.type == "cpu" and lap.shape == L.shape
    np.testing.assert_allclose(lap.to_dense().double().numpy(), L.toarray(), rtol=1e-6, atol=1e-6)
    x = image.to(dtype, copy=True).requires_grad_(True)
    energy = matting_energy(x, lap, weight=1.5)
    energy.backward()
    v = channels(image)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert energy.item() == pytest.approx(1.5 * np.sum(v * (L @ v)) / 99, rel=tol)
    np.testing.assert_allclose(channels(x.grad), 3.0 * (L @ v) / 99, rtol=tol, atol=tol)


def test_laplacian_to_torch_falls_back_to_coo_for_half(small_case):
    _, L, _ = small_case
    lap = laplacian_to_torch(L, dtype=torch.float16)
    # CPU CSR @ dense is not implemented for float16; the COO tensor must still multiply.
    assert lap.layout in (torch.sparse_csr, torch.sparse_coo)
    assert (lap @ torch.ones(L.shape[0], 3, dtype=torch.float16)).shape == (L.shape[0], 3)


def test_matting_energy_converts_mismatched_laplacian(small_case):
    _, L, image = small_case
    lap32 = laplacian_to_torch(L, dtype=torch.float32)
    energy = matting_energy(image, lap32)
    assert energy.dtype == torch.float64
    assert energy.item() == pytest.approx(matting_energy(image.float(), lap32).item(), rel=1e-5)


def test_matting_energy_does_not_modify_input(small_case):
    _, L, image = small_case
    x = image.clone().requires_grad_(True)
    before = x.detach().clone()
    matting_energy(x, laplacian_to_torch(L, dtype=torch.float64), weight=5.0).backward()
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0)


def test_matting_energy_rejects_bad_shapes(small_case):
    _, L, image = small_case
    lap = laplacian_to_torch(L, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        matting_energy(image.expand(2, -1, -1, -1), lap)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        matting_energy(image[0], lap)
    with pytest.raises(ValueError, match="laplacian"):
        matting_energy(image[..., :-1], lap)


def test_matting_regularizer_module(small_case):
    content, L, image = small_case
    content_t = to_tensor(content, torch.float32)
    before = content_t.clone()
    reg = MattingRegularizer(content_t, weight=4.0)
    torch.testing.assert_close(content_t, before, rtol=0, atol=0)
    assert reg.num_pixels == 99
    assert reg.laplacian.layout == torch.sparse_csr and reg.laplacian.dtype == torch.float32
    assert "laplacian" not in reg.state_dict()  # derived from the content, not saved
    x = image.to(torch.float32, copy=True).requires_grad_(True)
    energy = reg(x)
    energy.backward()
    v = channels(image)
    assert energy.item() == pytest.approx(4.0 * np.sum(v * (L @ v)) / 99, rel=1e-5)
    assert reg(content_t).item() < 1e-4 * energy.item()
    reg64 = MattingRegularizer(to_tensor(content), eps=1e-5, radius=2, normalize=False)
    expected = matting_laplacian(content, eps=1e-5, radius=2)
    np.testing.assert_allclose(reg64.laplacian.to_dense().numpy(), expected.toarray(), atol=1e-12)
    assert reg64(image).item() == pytest.approx(np.sum(v * (expected @ v)), rel=1e-12)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        MattingRegularizer(content_t.expand(2, -1, -1, -1))


# --------------------------------------------------------------------------- local affine post


def reference_local_affine(out, con, radius, eps, smooth_radius, sigma_range):
    """Per-pixel least squares and brute-force joint bilateral smoothing, in float64 numpy."""
    h, w, _ = con.shape
    coefs = np.zeros((h, w, 3, 4))
    for y in range(h):
        for x in range(w):
            ys = slice(max(0, y - radius), y + radius + 1)
            xs = slice(max(0, x - radius), x + radius + 1)
            xi, yo = con[ys, xs].reshape(-1, 3), out[ys, xs].reshape(-1, 3)
            mu_i, mu_o = xi.mean(0), yo.mean(0)
            sigma = (xi - mu_i).T @ (xi - mu_i) / len(xi) + eps * np.eye(3)
            A = np.linalg.solve(sigma, (xi - mu_i).T @ (yo - mu_o) / len(xi)).T
            coefs[y, x, :, :3], coefs[y, x, :, 3] = A, mu_o - A @ mu_i
    if smooth_radius > 0:
        yy, xx = np.mgrid[0:h, 0:w]
        pos = np.stack([yy.ravel(), xx.ravel()], 1)
        dy = np.abs(pos[:, None, 0] - pos[None, :, 0])
        dx = np.abs(pos[:, None, 1] - pos[None, :, 1])
        colors = con.reshape(-1, 3)
        d2 = ((colors[:, None] - colors[None]) ** 2).mean(-1)
        sigma_space = smooth_radius / 3
        weights = np.exp(-(dy**2 + dx**2) / (2 * sigma_space**2) - d2 / (2 * sigma_range**2))
        weights *= (dy <= smooth_radius) & (dx <= smooth_radius)
        flat = coefs.reshape(h * w, 12)
        coefs = ((weights @ flat) / weights.sum(1, keepdims=True)).reshape(h, w, 3, 4)
    result = np.einsum("hwcj,hwj->hwc", coefs[..., :3], con) + coefs[..., 3]
    return np.clip(result, 0, 1)


@pytest.mark.parametrize(
    ("radius", "eps", "smooth_radius", "sigma_range"),
    [(1, 1e-4, 3, 0.1), (2, 1e-3, 5, 0.05), (1, 1e-4, 0, 0.1)],
)
def test_local_affine_post_matches_reference(radius, eps, smooth_radius, sigma_range):
    con = photo(13, 17, seed=8)
    out = np.random.default_rng(2).random(con.shape)
    expected = reference_local_affine(out, con, radius, eps, smooth_radius, sigma_range)
    result = local_affine_post(
        to_tensor(out),
        to_tensor(con),
        radius=radius,
        eps=eps,
        smooth_radius=smooth_radius,
        sigma_range=sigma_range,
    )
    np.testing.assert_allclose(result[0].permute(1, 2, 0).numpy(), expected, atol=1e-10)


def global_affine(con: np.ndarray) -> np.ndarray:
    A = np.array([[0.5, 0.3, 0.1], [0.1, 0.6, 0.2], [0.2, -0.1, 0.7]])
    return con @ A.T + np.array([0.1, 0.05, 0.1])


def test_local_affine_post_keeps_a_global_affine_recolouring():
    con = photo(48, 64, seed=9)
    out = global_affine(con)
    assert out.min() > 0 and out.max() < 1
    # With a negligible ridge term the per-window fit is exact and smoothing keeps it.
    exact = local_affine_post(to_tensor(out), to_tensor(con), eps=1e-12)
    np.testing.assert_allclose(exact[0].permute(1, 2, 0).numpy(), out, atol=1e-6)
    # With DPST's eps the shrinkage of A in flat windows costs little.
    result = local_affine_post(to_tensor(out, torch.float32), to_tensor(con, torch.float32))
    error = np.abs(result[0].permute(1, 2, 0).double().numpy() - out)
    assert error.mean() < 5e-3 and error.max() < 3e-2  # measured: 2.7e-3 and 1.4e-2


def test_local_affine_post_makes_a_blotchy_output_photorealistic():
    con = photo(48, 64, seed=10)
    rng = np.random.default_rng(3)
    blotches = np.kron(rng.standard_normal((6, 8, 3)), np.ones((8, 8, 1)))
    noise = 0.04 * rng.standard_normal(con.shape) + 0.05 * blotches
    noisy = np.clip(global_affine(con) + noise, 0, 1)
    result = local_affine_post(to_tensor(noisy, torch.float32), to_tensor(con, torch.float32))
    before = photorealism(noisy, con)
    after = photorealism(result[0].permute(1, 2, 0).double().numpy(), con)
    assert after < 0.05 * before
    # ... and it keeps the output's colours (not the content's).
    res = result[0].permute(1, 2, 0).double().numpy()
    assert np.abs(res - global_affine(con)).mean() < 0.5 * np.abs(con - global_affine(con)).mean()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_local_affine_post_shape_dtype_device_no_mutation(dtype):
    gen = torch.Generator().manual_seed(0)
    content = torch.rand(2, 3, 21, 26, generator=gen, dtype=dtype)
    output = torch.rand(2, 3, 21, 26, generator=gen, dtype=dtype)
    before = (output.clone(), content.clone())
    result = local_affine_post(output, content, smooth_radius=4)
    assert result.shape == output.shape and result.dtype == dtype
    assert result.device == output.device
    assert result.min() >= 0 and result.max() <= 1
    torch.testing.assert_close(output, before[0], rtol=0, atol=0)
    torch.testing.assert_close(content, before[1], rtol=0, atol=0)
    # Batch elements are independent.
    single = local_affine_post(output[1:], content[1:], smooth_radius=4)
    torch.testing.assert_close(result[1:], single)
    module = LocalAffinePost(smooth_radius=4)
    torch.testing.assert_close(module(output, content), result)


def test_local_affine_post_rejects_bad_input():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="same shape"):
        local_affine_post(x, torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        local_affine_post(x[0], x[0])
    with pytest.raises(ValueError, match="eps"):
        local_affine_post(x, x, eps=0.0)
    with pytest.raises(ValueError, match="smooth_radius"):
        local_affine_post(x, x, smooth_radius=-1)


def test_fast_local_affine_post_keeps_an_affine_recolouring():
    img = photo(40, 56, seed=1)
    noise = np.random.default_rng(0).normal(0, 0.05, img.shape)  # full-rank local colours
    content = to_tensor(np.clip(img + noise, 0, 1))
    a = torch.tensor([[0.7, 0.1, 0.0], [0.05, 0.6, 0.1], [0.0, 0.2, 0.5]], dtype=torch.float64)
    recoloured = torch.einsum("ij,bjhw->bihw", a, content) + 0.1
    for scale in (0.5, 0.25):  # constant coefficients survive the upsampling exactly
        out = local_affine_post(recoloured, content, eps=1e-12, smooth_radius=6, scale=scale)
        torch.testing.assert_close(out, recoloured, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="scale"):
        local_affine_post(recoloured, content, scale=0.0)
