"""The two look networks: the bilateral one is per-pixel affine in the content, both are local,
batch-independent, and take any size, dtype and device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photostyle import Look
from photostyle.errors import InputError
from photostyle.evaluation.metrics import photorealism
from photostyle.io.tensors import to_array
from photostyle.looks.bilateral import BilateralGridNet, apply_affine, slice_grid
from photostyle.looks.look import new_look

from ..synthetic import scene, to_tensor

TINY = {"bilateral": {"low_res": 64, "grid_size": 8, "depth": 4, "width": 4,
                      "guide_channels": 8},
        "johnson": {"width": 8, "blocks": 2}}


def _scrambled(arch: str, seed: int = 0, dtype=torch.float64) -> Look:
    """A tiny look whose transform is far from the identity (an untrained bilateral look is
    exactly the identity): the last grid layer gets random weights."""
    look = new_look(arch, TINY[arch], seed=seed, dtype=dtype)
    if arch == "bilateral":
        g = torch.Generator().manual_seed(seed + 1)
        layer = look.network.to_grid
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * 0.2)
            layer.bias.add_(torch.randn(layer.bias.shape, generator=g) * 0.1)
    return look.eval()


def _photo(h: int = 96, w: int = 128, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    image, _ = scene(h, w, (0.3, 0.5, 0.9), (0.4, 0.6, 0.2), 0.45, seed)
    return to_tensor(image).to(dtype)


def _trilinear(grid: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Reference slicing: trilinear interpolation of ``grid`` (K,D,Hg,Wg) at every pixel of
    ``guide`` (H,W), corners aligned, written out with explicit cell weights."""
    k, d, gh, gw = grid.shape
    h, w = guide.shape
    out = np.zeros((k, h, w))
    for y in range(h):
        for x in range(w):
            coords = (guide[y, x] * (d - 1), y / max(h - 1, 1) * (gh - 1),
                      x / max(w - 1, 1) * (gw - 1))
            lows = [min(int(np.floor(c)), n - 2) for c, n in zip(coords, (d, gh, gw), strict=True)]
            fracs = [c - lo for c, lo in zip(coords, lows, strict=True)]
            for dz in (0, 1):
                for dy in (0, 1):
                    for dx in (0, 1):
                        weight = ((fracs[0] if dz else 1 - fracs[0])
                                  * (fracs[1] if dy else 1 - fracs[1])
                                  * (fracs[2] if dx else 1 - fracs[2]))
                        out[:, y, x] += weight * grid[:, lows[0] + dz, lows[1] + dy,
                                                      lows[2] + dx]
    return out


def test_slicing_is_trilinear_interpolation_of_the_grid():
    g = torch.Generator().manual_seed(0)
    grid = torch.randn(1, 5, 4, 3, 6, generator=g, dtype=torch.float64)
    guide = torch.rand(1, 1, 7, 9, generator=g, dtype=torch.float64)
    sliced = slice_grid(grid, guide)
    expected = _trilinear(grid[0].numpy(), guide[0, 0].numpy())
    np.testing.assert_allclose(sliced[0].numpy(), expected, atol=1e-12)
    # A band of rows sliced alone equals the same rows of the whole image.
    band = slice_grid(grid, guide[..., 2:5, :], rows=(2, 7))
    torch.testing.assert_close(band, sliced[..., 2:5, :], rtol=0, atol=1e-12)


def test_slicing_and_affine_gradcheck():
    g = torch.Generator().manual_seed(1)
    grid = torch.randn(1, 12, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    guide = (0.1 + 0.8 * torch.rand(1, 1, 5, 6, generator=g, dtype=torch.float64))
    guide.requires_grad_(True)
    assert torch.autograd.gradcheck(slice_grid, (grid, guide))
    coefs = torch.randn(2, 12, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    image = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(apply_affine, (coefs, image))


def test_bilateral_output_is_exactly_per_pixel_affine_in_the_content():
    look = _scrambled("bilateral")
    net = look.network
    content = _photo()
    with torch.no_grad():
        out = net(content)
        coefs = net.coefficients(content)
    a = coefs.view(1, 3, 4, *content.shape[-2:])
    # O(p) = A(p) I(p) + b(p), written out channel by channel.
    for c in range(3):
        rebuilt = (a[:, c, 0] * content[:, 0] + a[:, c, 1] * content[:, 1]
                   + a[:, c, 2] * content[:, 2] + a[:, c, 3])
        torch.testing.assert_close(out[:, c], rebuilt, rtol=0, atol=1e-12)
    # The coefficients are the grid sliced with the content's guidance map.
    with torch.no_grad():
        grid, guide = net.grid(content), net.guide(content)
    expected = _trilinear(grid[0].numpy(), guide[0, 0].numpy())
    np.testing.assert_allclose(coefs[0].numpy(), expected, atol=1e-10)
    assert float((out - content).abs().mean()) > 0.05  # far from the identity: the test bites


def test_untrained_bilateral_look_is_the_identity():
    look = new_look("bilateral", TINY["bilateral"], dtype=torch.float64)
    content = _photo()
    torch.testing.assert_close(look(content), content, rtol=0, atol=1e-12)


def test_bilateral_matting_residual_is_small_and_johnson_is_not():
    content = _photo(seed=3)
    with torch.no_grad():
        bilateral = _scrambled("bilateral")(content)
        johnson = _scrambled("johnson")(content)
    c = to_array(content)
    residual = photorealism(to_array(bilateral), c)
    noise = np.random.default_rng(0).normal(0, 0.01, c.shape)
    # Independent noise of std 0.01 costs about 15 * 0.01^2 = 1.5e-3 (metrics docstring).
    assert residual < 1e-4
    assert photorealism(np.clip(to_array(bilateral) + noise, 0, 1), c) > 10 * residual
    assert photorealism(to_array(johnson), c) > 10 * residual


def test_one_pixel_change_does_not_reach_far_pixels():
    look = _scrambled("bilateral")
    content = _photo(128, 128, seed=4)
    changed = content.clone()
    changed[0, :, 10, 12] = 1.0 - changed[0, :, 10, 12]
    with torch.no_grad():
        diff = (look(changed) - look(content)).abs().amax(1)[0]
    assert float(diff[10, 12]) > 0.05  # the pixel itself changes
    # Only the grid, through the low-resolution copy, sees the change elsewhere.
    assert float(diff[:, 40:].max()) < 1e-3, float(diff[:, 40:].max())
    assert float(diff[40:, :].max()) < 1e-3


@pytest.mark.parametrize("arch", ["bilateral", "johnson"])
@pytest.mark.parametrize("dtype, size", [(torch.float32, (333, 517)), (torch.float64, (37, 53))])
def test_odd_sizes_batches_and_dtypes(arch, dtype, size):
    look = _scrambled(arch, dtype=torch.float32)
    g = torch.Generator().manual_seed(5)
    batch = torch.rand(2, 3, *size, generator=g).to(dtype)
    before = batch.clone()
    with torch.no_grad():
        out = look(batch)
        first = look(batch[:1])
    assert out.shape == batch.shape and out.dtype == dtype and out.device == batch.device
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    torch.testing.assert_close(out[:1], first)  # each photo of a batch on its own
    assert torch.equal(batch, before)  # the input is not modified
    assert next(look.parameters()).dtype == dtype  # the look followed the input


def test_bilateral_bands_do_not_change_the_result(monkeypatch):
    from photostyle.looks import bilateral

    look = _scrambled("bilateral")
    content = _photo(50, 40)
    with torch.no_grad():
        whole = look(content)
        monkeypatch.setattr(bilateral, "CHUNK_PIXELS", 7 * 40)  # bands of 7 rows
        banded = look(content)
    torch.testing.assert_close(banded, whole, rtol=0, atol=1e-12)


def test_post_process_makes_johnson_locally_affine():
    content = _photo(64, 80, seed=6)
    look = _scrambled("johnson")
    with torch.no_grad():
        raw, post = look(content), look(content, post=True)
    c = to_array(content)
    assert photorealism(to_array(post), c) < 0.2 * photorealism(to_array(raw), c)


@pytest.mark.parametrize("bad", ["shape", "int", "tiny"])
def test_bad_input(bad):
    look = new_look("bilateral", TINY["bilateral"])
    image = {"shape": torch.rand(3, 16, 16), "int": torch.zeros(1, 3, 16, 16, dtype=torch.uint8),
             "tiny": torch.rand(1, 3, 4, 16)}[bad]
    with pytest.raises(InputError):
        look(image)


def test_bad_grid_geometry():
    with pytest.raises(ValueError):
        BilateralGridNet(low_res=100, grid_size=16)
