"""Tests of the matrix-free matting Laplacian against the sparse reference (matting_laplacian).

Tolerances (relative to the norm of the sparse product, measured in brackets):

- float64: 1e-9 (1e-15 to 1e-11; the float64 reference itself is exact to about 1e-11).
- float32: 1e-4 on photo-like and grey content (2e-7 to 2e-5; the sparse float32 product is
  at 1e-7 to 7e-6), the cost of the cancellations in covariances and window sums in single
  precision. Nearly constant content with sub-8-bit noise (colour std 1e-4, never produced by
  8-bit photos but possible after resampling) is the worst case: 8e-5 (1.8e-4 max-norm).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from matting import (
    MatrixFreeLaplacian,
    MattingRegularizer,
    laplacian_to_torch,
    matrix_free_matvec,
    matting_energy,
    matting_energy_matrix_free,
    matting_laplacian,
    window_statistics,
)
from matting.spd3 import inverse_3x3, inverse_cholesky_3x3

from .test_matting import brute_force_laplacian, channels, photo, to_tensor

F64_TOL = 1e-9
F32_TOL = 1e-4


def sparse_product(L, v: torch.Tensor) -> np.ndarray:
    """L @ each channel of a (1, C, H, W) tensor -> (1, C, H, W) float64 array."""
    _, c, h, w = v.shape
    return (L @ v[0].reshape(c, -1).T.double().numpy()).T.reshape(1, c, h, w)


def rel_error(result: torch.Tensor, expected: np.ndarray) -> float:
    diff = result.detach().double().numpy() - expected
    return float(np.linalg.norm(diff) / np.linalg.norm(expected))


def styled(content: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A stylized-looking output: a non-linear recolouring of the content plus some noise."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(content.shape, generator=gen, dtype=torch.float64)
    out = 0.7 * content[:, [2, 0, 1]] ** 0.5 + 0.1 * torch.sin(10 * content) + 0.02 * noise
    return out.clamp(0, 1).to(content.dtype)


def grey(h: int, w: int, seed: int) -> np.ndarray:
    """A grey photo: every window covariance is rank one (nearly singular Delta_k)."""
    return np.repeat(photo(h, w, seed)[..., :1], 3, axis=2)


# --------------------------------------------------------------------------- L v


@pytest.mark.parametrize(
    ("shape", "eps", "radius", "kind"),
    [
        ((9, 11), 1e-7, 1, "random"),
        ((23, 31), 1e-7, 1, "photo"),
        ((17, 29), 1e-7, 2, "random"),
        ((21, 15), 1e-5, 2, "photo"),
        ((5, 7), 1e-4, 2, "random"),  # a single window
        ((19, 25), 1e-7, 1, "grey"),
    ],
)
def test_matvec_equals_sparse_float64(shape, eps, radius, kind):
    h, w = shape
    if kind == "random":
        img = np.random.default_rng(h * w).random((h, w, 3))
    else:
        img = photo(h, w, seed=3) if kind == "photo" else grey(h, w, seed=3)
    L = matting_laplacian(img, eps=eps, radius=radius)
    content = to_tensor(img)
    stats = window_statistics(content, eps=eps, radius=radius)
    gen = torch.Generator().manual_seed(1)
    for v in (torch.rand(1, 3, h, w, generator=gen, dtype=torch.float64), styled(content)):
        expected = sparse_product(L, v)
        result = matrix_free_matvec(stats, v)
        assert result.shape == v.shape and result.dtype == torch.float64
        assert rel_error(result, expected) <= F64_TOL
        scale = np.abs(expected).max()
        np.testing.assert_allclose(result.numpy(), expected, rtol=0, atol=F64_TOL * scale)
    # Any number of channels, each multiplied independently.
    v5 = torch.rand(1, 5, h, w, generator=gen, dtype=torch.float64)
    assert rel_error(matrix_free_matvec(stats, v5), sparse_product(L, v5)) <= F64_TOL


@pytest.mark.parametrize(("kind", "radius"), [("photo", 1), ("photo", 2), ("grey", 1)])
def test_matvec_equals_sparse_float32(kind, radius):
    h, w = 40, 53
    img = photo(h, w, seed=4) if kind == "photo" else grey(h, w, seed=4)
    L = matting_laplacian(img, radius=radius)
    content = to_tensor(img, torch.float32)
    op = MatrixFreeLaplacian(content, radius=radius)
    gen = torch.Generator().manual_seed(2)
    outputs = (
        torch.rand(1, 3, h, w, generator=gen),
        styled(content),
        (0.8 * content + 0.1 + 0.03 * torch.rand(1, 3, h, w, generator=gen)).clamp(0, 1),
    )
    # Statistics computed in float32 too (compute_dtype=None, for devices without float64).
    stats32 = window_statistics(content, radius=radius, compute_dtype=None)
    for v in outputs:
        result = op.matvec(v)
        assert result.dtype == torch.float32
        assert rel_error(result, sparse_product(L, v)) <= F32_TOL
        assert rel_error(matrix_free_matvec(stats32, v), sparse_product(L, v)) <= F32_TOL


def test_bands_equal_one_piece(monkeypatch):
    import matting.matrix_free as mf

    content = to_tensor(photo(31, 27, seed=11))
    whole = window_statistics(content, radius=2)
    monkeypatch.setattr(mf, "_BAND_WINDOWS", 50)  # 2 window rows per band, a short last band
    banded = window_statistics(content, radius=2)
    for name in ("mean", "whiten", "count", "guide"):
        torch.testing.assert_close(getattr(banded, name), getattr(whole, name), rtol=0, atol=0)
    # The product in bands of output rows (the CPU path) equals the one-piece product.
    v = styled(content)
    expected = matrix_free_matvec(whole, v)
    for rows in (1, 4, 7):
        monkeypatch.setattr(mf, "_BAND_PIXELS", rows * 27)
        torch.testing.assert_close(matrix_free_matvec(whole, v), expected, rtol=0, atol=1e-13)
    small = window_statistics(to_tensor(photo(6, 5, seed=12)), eps=1e-4)
    x = torch.rand(1, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    monkeypatch.setattr(mf, "_BAND_PIXELS", 2 * 5)  # 3 bands
    assert torch.autograd.gradcheck(lambda t: matrix_free_matvec(small, t), (x,))


def test_matvec_constant_is_zero_and_affine_is_small():
    img = photo(25, 33, seed=5)
    content = to_tensor(img)
    stats = window_statistics(content)
    ones = torch.ones(1, 3, 25, 33, dtype=torch.float64)
    assert matrix_free_matvec(stats, ones).abs().max() <= 1e-12
    # L (A I + b) = eps-shrinkage only: tiny next to L of an unrelated image.
    A = torch.tensor([[0.6, 0.3, -0.1], [0.2, 0.5, 0.1], [-0.2, 0.1, 0.9]], dtype=torch.float64)
    affine = torch.einsum("dc,bchw->bdhw", A, content) + 0.1
    noise = torch.rand(1, 3, 25, 33, dtype=torch.float64)
    small = (affine * matrix_free_matvec(stats, affine)).sum()
    assert 0 <= small < 1e-4 * (noise * matrix_free_matvec(stats, noise)).sum()


@pytest.mark.parametrize("radius", [1, 2])
def test_matvec_symmetric_and_psd(radius):
    h, w = 19, 24
    stats = window_statistics(to_tensor(photo(h, w, seed=6)), radius=radius)
    gen = torch.Generator().manual_seed(3)
    u = torch.randn(1, 3, h, w, generator=gen, dtype=torch.float64)
    v = torch.randn(1, 3, h, w, generator=gen, dtype=torch.float64)
    lu, lv = matrix_free_matvec(stats, u), matrix_free_matvec(stats, v)
    uv, vu = (lu * v).sum().item(), (u * lv).sum().item()
    assert uv == pytest.approx(vu, rel=1e-10)
    assert (u * lu).sum() >= 0 and (v * lv).sum() >= 0


def test_matvec_autograd_gradcheck():
    stats = window_statistics(to_tensor(photo(7, 9, seed=7)), eps=1e-4)
    v = torch.rand(1, 3, 7, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: matrix_free_matvec(stats, t), (v,))


# --------------------------------------------------------------------------- energy


@pytest.fixture(scope="module")
def case():
    content = photo(13, 17, seed=8)
    L = matting_laplacian(content)
    image = styled(to_tensor(content), seed=4)
    return content, L, image


def test_energy_gradcheck(case):
    content, _, image = case
    op = MatrixFreeLaplacian(to_tensor(content))
    x = image.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: matting_energy_matrix_free(t, op, 0.7), (x,))
    fn = lambda t: matting_energy_matrix_free(t, op, 2.0, normalize=False)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize(("weight", "normalize"), [(1.0, True), (3.5, False)])
def test_energy_and_gradient_equal_sparse(case, weight, normalize):
    content, L, image = case
    lap = laplacian_to_torch(L, dtype=torch.float64)
    x_sparse = image.clone().requires_grad_(True)
    e_sparse = matting_energy(x_sparse, lap, weight, normalize)
    e_sparse.backward()
    x = image.clone().requires_grad_(True)
    op = MatrixFreeLaplacian(to_tensor(content))
    energy = matting_energy_matrix_free(x, op, weight, normalize)
    energy.backward()
    assert energy.dim() == 0 and energy.dtype == torch.float64
    assert energy.item() == pytest.approx(e_sparse.item(), rel=F64_TOL)
    expected = channels(x_sparse.grad)
    np.testing.assert_allclose(
        channels(x.grad), expected, rtol=0, atol=F64_TOL * np.abs(expected).max()
    )
    # Statistics work as the operator too.
    stats = window_statistics(to_tensor(content))
    assert matting_energy_matrix_free(image, stats, weight, normalize).item() == pytest.approx(
        e_sparse.item(), rel=F64_TOL
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_input_no_mutation(case, dtype):
    content, L, image = case
    content_t = to_tensor(content, dtype)
    content_before = content_t.clone()
    op = MatrixFreeLaplacian(content_t)
    torch.testing.assert_close(content_t, content_before, rtol=0, atol=0)
    assert all(b.dtype == dtype and b.device == content_t.device for b in op.buffers())
    assert op.guide.data_ptr() != content_t.data_ptr()  # a copy, not the caller's tensor
    x = image.to(dtype, copy=True).requires_grad_(True)
    before = x.detach().clone()
    energy = matting_energy_matrix_free(x, op, weight=5.0)
    energy.backward()
    assert energy.dtype == dtype and energy.device == x.device
    assert x.grad.dtype == dtype and x.grad.shape == x.shape
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0)
    # An image of the other dtype converts the statistics (like matting_energy).
    other = torch.float64 if dtype == torch.float32 else torch.float32
    value = matting_energy_matrix_free(image.to(other), op, weight=5.0)
    assert value.dtype == other
    assert value.item() == pytest.approx(energy.item(), rel=F32_TOL)
    assert op.matvec(image.to(other)).dtype == other
    assert all(b.dtype == dtype for b in op.buffers())  # not changed by the call


def test_module_to_and_nbytes(case):
    content, _, image = case
    op = MatrixFreeLaplacian(to_tensor(content, torch.float32))
    h, w = content.shape[:2]
    # guide 3 + count 1 maps of H x W, mean 3 + whiten 6 of (H - 2) x (W - 2), 12 fit values.
    assert op.nbytes == 4 * (4 * h * w + 9 * (h - 2) * (w - 2) + 12)
    assert op.state_dict() == {}  # derived from the content, not saved
    nbytes = op.nbytes
    op.to(torch.float64)  # module.to converts the buffers in place
    assert op.mean.dtype == torch.float64 and op.nbytes == 2 * nbytes
    assert "size=13x17" in repr(op)


def test_bad_input():
    x = torch.rand(1, 3, 8, 9)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        MatrixFreeLaplacian(x[0])
    with pytest.raises(ValueError, match="smaller than one"):
        MatrixFreeLaplacian(x[..., :4], radius=2)
    with pytest.raises(ValueError, match="radius"):
        MatrixFreeLaplacian(x, radius=0)
    with pytest.raises(ValueError, match="eps"):
        MatrixFreeLaplacian(x, eps=0.0)
    with pytest.raises(ValueError, match="NaN"):
        MatrixFreeLaplacian(torch.full((1, 3, 8, 9), float("nan")))
    op = MatrixFreeLaplacian(x)
    with pytest.raises(ValueError, match="8x9"):
        matting_energy_matrix_free(x[..., :-1], op)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        matting_energy_matrix_free(x.expand(2, -1, -1, -1), op)
    with pytest.raises(ValueError, match="8x9"):
        op.matvec(x[..., :-1])
    with pytest.raises(ValueError, match="op must be"):
        matting_energy_matrix_free(x, object())


# --------------------------------------------------------------------------- regularizer


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_regularizer_operators_agree(case, dtype):
    content, L, image = case
    content_t = to_tensor(content, dtype)
    regs = {op: MattingRegularizer(content_t, weight=3.0, operator=op) for op in
            ("auto", "sparse", "matrix_free")}
    assert regs["auto"].operator == "matrix_free" and regs["sparse"].operator == "sparse"
    assert regs["sparse"].matrix_free is None and regs["auto"].matrix_free is not None
    x = image.to(dtype)
    values, grads = {}, {}
    for name, reg in regs.items():
        xr = x.clone().requires_grad_(True)
        values[name] = reg(xr)
        values[name].backward()
        grads[name] = channels(xr.grad)
        assert values[name].dtype == dtype
    tol = F64_TOL if dtype == torch.float64 else F32_TOL
    v = channels(image)
    expected = 3.0 * np.sum(v * (L @ v)) / v.shape[0]
    for name in regs:
        assert values[name].item() == pytest.approx(expected, rel=tol)
        np.testing.assert_allclose(
            grads[name], grads["sparse"], rtol=0, atol=tol * np.abs(grads["sparse"]).max()
        )
    # The sparse matrix stays available: built on first access for matrix_free.
    reg = regs["matrix_free"]
    assert reg._laplacian is None
    lap = reg.laplacian
    assert lap.layout == torch.sparse_csr and lap.dtype == dtype and reg.laplacian is lap
    np.testing.assert_allclose(
        lap.to_dense().double().numpy(), regs["sparse"].laplacian.to_dense().double().numpy()
    )
    assert reg.state_dict() == {} and "operator='matrix_free'" in repr(reg)
    with pytest.raises(ValueError, match="operator"):
        MattingRegularizer(content_t, operator="dense")


def test_regularizer_auto_uses_sparse_for_half(case):
    content, _, _ = case
    assert MattingRegularizer(to_tensor(content, torch.bfloat16)).operator == "sparse"


# --------------------------------------------------------------------------- 3x3 inverse


def test_inverse_3x3_of_nearly_singular_matrices():
    rng = np.random.default_rng(9)
    reg = 1e-7 / 9
    mats = []
    for scale in (1e-1, 1e-3, 1e-5):
        g = rng.standard_normal((9, 1)) * scale
        for colours in (g * np.ones(3), g * rng.random(3), rng.standard_normal((9, 3)) * scale):
            c = colours - colours.mean(0)
            mats.append(c.T @ c / 9 + reg * np.eye(3))
    mats = np.stack(mats)
    s = [mats[:, i, j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))]
    inv = inverse_3x3(*s, reg)
    # Residual of the inverse, scaled by the condition number that backward stability allows.
    full = np.stack([inv[0], inv[1], inv[2], inv[1], inv[3], inv[4], inv[2], inv[4], inv[5]], -1)
    residual = np.abs(mats @ full.reshape(-1, 3, 3) - np.eye(3)).max(axis=(1, 2))
    assert np.all(residual <= 1e-9)
    # Same entries from torch tensors (the matrix-free path), and W Delta W^T = I.
    w = inverse_cholesky_3x3(*(torch.from_numpy(x) for x in s), reg)
    lower = torch.zeros(len(mats), 3, 3, dtype=torch.float64)
    for (i, j), value in zip(((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)), w, strict=True):
        lower[:, i, j] = value
    whitened = lower @ torch.from_numpy(mats) @ lower.transpose(1, 2)
    torch.testing.assert_close(whitened, torch.eye(3, dtype=torch.float64).expand_as(whitened))


def test_sparse_reference_exact_on_grey_content():
    # The adjugate inverse lost ~1e-6 relative on rank-one windows; the Cholesky one does not.
    img = grey(8, 10, seed=10)
    expected = brute_force_laplacian(img, 1e-7, 1)
    L = matting_laplacian(img).toarray()
    np.testing.assert_allclose(L, expected, rtol=0, atol=1e-10 * np.abs(expected).max())
