"""Tests of the numpy/OpenCV port of the local-affine post-process (matting.local_affine_numpy):
parity with the torch version, its invariants, edge cases, and that it never imports torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import matting.local_affine_numpy as lan
from matting.local_affine import bilateral_smooth, local_affine_fit, local_affine_post
from matting.local_affine_numpy import (
    apply_affine,
    bilateral_smooth_numpy,
    local_affine_fit_numpy,
    local_affine_post_numpy,
    resize_bilinear,
    upsample_coefficients,
)

MODULE = Path(lan.__file__).resolve()


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A float64 (H, W, 3) "photo" in [0, 1]: gradients, a hard edge, a blob, fine texture
    (windows from flat to textured; as in test_matting)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 2)
    img = np.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx * yy], axis=-1)
    img = np.where((xx + 0.5 * yy > 0.55)[..., None], img * [0.6, 1.1, 0.8], img)
    img += 0.25 * np.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.02)[..., None]
    img += 0.03 * rng.standard_normal((h, w, 3))
    return np.clip(img, 0.0, 1.0)


def stylized(con: np.ndarray, seed: int = 1) -> np.ndarray:
    """A plausible "stylized output": a channel-mixing recolouring plus blotches and noise."""
    rng = np.random.default_rng(seed)
    out = 0.7 * con[..., ::-1] + 0.15 + 0.05 * rng.standard_normal(con.shape)
    return np.clip(out, 0.0, 1.0)


def to_tensor(img: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(dtype)


def to_image(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).double().numpy()


def torch_post(out: np.ndarray, con: np.ndarray, dtype=torch.float64, **kwargs) -> np.ndarray:
    return to_image(local_affine_post(to_tensor(out, dtype), to_tensor(con, dtype), **kwargs))


def torch_resize_is_right(size: tuple[int, int], new: tuple[int, int]) -> bool:
    """False where torch's antialiased CPU resize is wrong: an output of width 1 and of a
    new height above 1 gets its first row copied to every row (torch 2.x; measured on all
    sizes up to 8x8; see test_width_one_at_reduced_scale_is_right_where_torch_is_not)."""
    return not (new[1] == 1 and 1 < new[0] != size[0])


def global_affine(con: np.ndarray) -> np.ndarray:
    A = np.array([[0.5, 0.3, 0.1], [0.1, 0.6, 0.2], [0.2, -0.1, 0.7]])
    return con @ A.T + np.array([0.1, 0.05, 0.1])


# --------------------------------------------------------------------------- parity with torch


@pytest.mark.parametrize("size", [(33, 57), (1, 9), (7, 1), (1, 1), (20, 24)])
@pytest.mark.parametrize("radius", [0, 1, 2])
def test_fit_matches_torch(size, radius):
    con = photo(*size, seed=4)
    out = stylized(con)
    coefs = local_affine_fit_numpy(out, con, radius=radius, eps=1e-4)
    expected = local_affine_fit(to_tensor(out), to_tensor(con), radius, 1e-4)
    expected = expected[0].permute(1, 2, 0).numpy().reshape(size + (3, 4))
    assert coefs.shape == size + (3, 4) and coefs.dtype == np.float64
    # Same closed form; Cholesky here, LU there: measured <= 6e-12 (|A| up to ~1e2 here).
    np.testing.assert_allclose(coefs, expected, rtol=0, atol=1e-10)


def test_fit_float32_as_accurate_as_torch():
    con = photo(96, 128, seed=3)
    out = stylized(con)
    exact = local_affine_fit_numpy(out, con)
    ours = local_affine_fit_numpy(out.astype(np.float32), con.astype(np.float32))
    theirs = local_affine_fit(to_tensor(out, torch.float32), to_tensor(con, torch.float32),
                               1, 1e-4)[0].permute(1, 2, 0).double().numpy().reshape(exact.shape)
    assert ours.dtype == np.float32
    # Ill-conditioned windows amplify the float32 rounding of E[xy] - E[x]E[y] alike in both:
    # measured 9e-4 (numpy) and 1.8e-3 (torch) on coefficients of magnitude up to ~40.
    assert np.abs(ours - exact).max() <= 1.5 * np.abs(theirs - exact).max() + 1e-6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("radius", "sigma_range"), [(3, 0.1), (6, 0.05), (15, 0.2)])
def test_bilateral_smoothing_matches_torch(dtype, radius, sigma_range):
    rng = np.random.default_rng(5)
    guide = photo(23, 37, seed=5)
    coefs = rng.standard_normal((23, 37, 12))
    smooth = bilateral_smooth_numpy(coefs.astype(dtype), guide.astype(dtype), radius=radius,
                                    sigma_range=sigma_range)
    expected = bilateral_smooth(
        torch.from_numpy(coefs.transpose(2, 0, 1).copy()),
        torch.from_numpy(guide.transpose(2, 0, 1).copy()),
        radius, radius / 3.0, sigma_range,
    ).permute(1, 2, 0).numpy()
    assert smooth.shape == coefs.shape and smooth.dtype == dtype
    atol = 1e-12 if dtype == np.float64 else 2e-5  # float32 measured: 3e-6
    np.testing.assert_allclose(smooth, expected, rtol=0, atol=atol)


def test_bilateral_smoothing_is_exact_whatever_the_tiling(monkeypatch):
    """Tile side and chunk size are speed knobs only."""
    rng = np.random.default_rng(6)
    guide, coefs = photo(19, 26, seed=6), rng.standard_normal((19, 26, 5))
    reference = bilateral_smooth_numpy(coefs, guide, radius=4)
    for tile, max_weights in [(1, 1), (3, 1), (5, 10_000), (8, 1 << 20), (40, 1 << 20)]:
        monkeypatch.setattr(lan, "_tile_side", lambda h, w, r, d, t=tile: t)
        monkeypatch.setattr(lan, "_MAX_WEIGHTS", max_weights)
        np.testing.assert_allclose(bilateral_smooth_numpy(coefs, guide, radius=4), reference,
                                   rtol=0, atol=1e-13)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.3, 0.25])
@pytest.mark.parametrize("size", [(33, 57), (40, 64), (1, 9), (2, 2)])
def test_post_matches_torch_float64(size, scale):
    con = photo(*size, seed=7)
    out = stylized(con)
    for smooth_radius in (15, 3, 0):
        kwargs = dict(smooth_radius=smooth_radius, scale=scale)
        # The resizes use ATen's taps and weights (antialiased down, bilinear up), so scale < 1
        # is as exact as scale = 1: measured <= 2e-13 at every scale.
        np.testing.assert_allclose(local_affine_post_numpy(out, con, **kwargs),
                                   torch_post(out, con, **kwargs), rtol=0, atol=1e-10)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25])
def test_post_matches_torch_float32(scale):
    con = photo(64, 96, seed=8)
    out = stylized(con)
    exact = torch_post(out, con, scale=scale)
    ours = local_affine_post_numpy(out.astype(np.float32), con.astype(np.float32), scale=scale)
    theirs = torch_post(out, con, dtype=torch.float32, scale=scale)
    assert ours.dtype == np.float32
    # float32 rounding (E[xy] - E[x]E[y], the expanded colour distance): measured up to 1.5e-5
    # for numpy and 2.3e-5 for torch against the float64 result, growing as scale falls.
    np.testing.assert_allclose(ours, exact, rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize(
    ("size", "new"),
    [((40, 64), (20, 32)), ((33, 57), (10, 29)), ((33, 57), (33, 19)), ((9, 13), (17, 40)),
     ((342, 512), (171, 256)), ((7, 3), (1, 2)), ((1, 8), (1, 3)), ((8, 1), (1, 1))],
)
def test_resize_matches_torch_interpolate(size, new, antialias):
    x = np.random.default_rng(9).random(size + (3,))
    ours = resize_bilinear(x, new, antialias=antialias)
    theirs = F.interpolate(to_tensor(x), size=new, mode="bilinear", align_corners=False,
                           antialias=antialias)
    np.testing.assert_allclose(ours, to_image(theirs), rtol=0, atol=1e-13)
    ours32 = resize_bilinear(x.astype(np.float32), new, antialias=antialias)
    assert ours32.dtype == np.float32
    np.testing.assert_allclose(ours32, to_image(theirs), rtol=0, atol=1e-6)


def test_width_one_at_reduced_scale_is_right_where_torch_is_not():
    """torch's CPU antialiased interpolate to a width of 1 copies its first output row to
    every row (torch 2.x): ``F.interpolate(arange(8).reshape(1, 1, 8, 1), (4, 1),
    mode="bilinear", antialias=True)`` gives 0.714 four times, and so does the input repeated
    over 3 columns. This port computes the true filter, which is what torch gives for an
    output of width 2 (of a column repeated twice)."""
    x = torch.arange(8.0, dtype=torch.float64).reshape(1, 1, 8, 1)
    broken = F.interpolate(x, size=(4, 1), mode="bilinear", antialias=True).flatten()
    assert torch.equal(broken, broken[:1].expand(4)), "torch fixed? drop the workarounds"
    wide = x.expand(1, 1, 8, 2).contiguous()
    fine = F.interpolate(wide, size=(4, 2), mode="bilinear", antialias=True)[0, 0, :, :1]
    ours = resize_bilinear(x[0, 0].numpy(), (4, 1))
    np.testing.assert_allclose(ours, fine.numpy(), atol=1e-14)
    np.testing.assert_allclose(ours[:, 0], [5 / 7, 2.5, 4.5, 44 / 7], atol=1e-14)
    three = resize_bilinear(np.repeat(x[0, 0].numpy(), 3, axis=1), (4, 1))
    np.testing.assert_allclose(three, ours, atol=1e-14)
    # The whole post-process on a width-1 image equals torch's on the column repeated three
    # times (repeating a column changes no window mean, no normalized bilateral weight, and
    # the reduced width is 2, which torch resizes right).
    con = photo(24, 1, seed=10)
    out = stylized(con)
    for scale in (1.0, 0.5):
        expected = torch_post(np.repeat(out, 3, axis=1), np.repeat(con, 3, axis=1),
                              scale=scale, smooth_radius=4)[:, :1]
        np.testing.assert_allclose(
            local_affine_post_numpy(out, con, scale=scale, smooth_radius=4), expected, atol=1e-10
        )


# --------------------------------------------------------------------------- invariants


def test_locally_affine_recolouring_is_reproduced():
    con = photo(48, 64, seed=9)
    target = global_affine(con)
    assert target.min() > 0 and target.max() < 1
    for scale in (1.0, 0.5, 0.25):
        # With a negligible ridge the fit is exact, and smoothing/upsampling constant
        # coefficients keeps them. Measured 5e-10 (scale 1) and 1.1e-6 (0.5: the reduced
        # image has nearly grey windows, ill-conditioned at eps = 1e-12), as torch.
        exact = local_affine_post_numpy(target, con, eps=1e-12, scale=scale)
        np.testing.assert_allclose(exact, target, rtol=0, atol=1e-6 if scale == 1 else 1e-5)
    # A piecewise affine recolouring (two maps, left and right of column 32) is kept beyond
    # the reach of the fit window and of the smoothing (1 + 4 pixels) from the split.
    left = global_affine(con)
    right = con[..., [1, 2, 0]] * 0.8 + 0.1
    split = np.where((np.arange(64) < 32)[None, :, None], left, right)
    result = local_affine_post_numpy(split, con, eps=1e-12, smooth_radius=4)
    np.testing.assert_allclose(result[:, :26], split[:, :26], atol=1e-5)  # measured 1.2e-6
    np.testing.assert_allclose(result[:, 38:], split[:, 38:], atol=1e-5)
    # With DPST's eps, the shrinkage of A in flat windows costs little (as in torch's test).
    error = np.abs(local_affine_post_numpy(target.astype(np.float32),
                                           con.astype(np.float32)) - target)
    assert error.mean() < 5e-3 and error.max() < 3e-2


def test_constant_images():
    con = np.full((12, 17, 3), 0.4)
    out = np.full((12, 17, 3), [0.2, 0.5, 0.9])
    for scale in (1.0, 0.5):
        np.testing.assert_allclose(local_affine_post_numpy(out, con, scale=scale), out,
                                   rtol=0, atol=1e-12)
    coefs = local_affine_fit_numpy(out, con)
    np.testing.assert_allclose(coefs[..., :3], 0.0, atol=1e-10)  # no colour variation: A = 0
    # Flat content, textured output: the result is a smoothed output (finite, in range).
    noisy = stylized(photo(12, 17))
    result = local_affine_post_numpy(noisy, con)
    assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1
    np.testing.assert_allclose(result, torch_post(noisy, con), atol=1e-10)
    assert result.std(axis=(0, 1)).max() < 0.5 * noisy.std(axis=(0, 1)).max()


@pytest.mark.parametrize("size", [(33, 57), (1, 1), (1, 40), (40, 1), (2, 3)])
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.1])
def test_odd_sizes(size, scale):
    con = photo(*size, seed=11)
    out = stylized(con)
    result = local_affine_post_numpy(out, con, scale=scale)
    assert result.shape == size + (3,) and np.isfinite(result).all()
    assert result.min() >= 0 and result.max() <= 1
    small = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    if torch_resize_is_right(size, small):
        np.testing.assert_allclose(result, torch_post(out, con, scale=scale), atol=1e-10)


def test_radius_zero_and_smooth_radius_zero():
    con = photo(15, 22, seed=12)
    out = stylized(con)
    coefs = local_affine_fit_numpy(out, con, radius=0)
    np.testing.assert_array_equal(coefs[..., :3], 0.0)
    np.testing.assert_array_equal(coefs[..., 3], out)  # one-pixel windows: b = O
    np.testing.assert_array_equal(local_affine_post_numpy(out, con, radius=0, smooth_radius=0),
                                  out)
    for radius in (0, 2):
        fit = local_affine_fit_numpy(out, con, radius=radius)
        np.testing.assert_array_equal(
            local_affine_post_numpy(out, con, radius=radius, smooth_radius=0),
            apply_affine(fit, con),
        )
    np.testing.assert_array_equal(bilateral_smooth_numpy(coefs, con, radius=0), coefs)


def test_split_api_composes_to_the_post_process(monkeypatch):
    con = photo(45, 70, seed=13)
    out = stylized(con)
    # scale = 1: fit, smooth, apply.
    coefs = bilateral_smooth_numpy(local_affine_fit_numpy(out, con), con, radius=15)
    np.testing.assert_array_equal(apply_affine(coefs, con), local_affine_post_numpy(out, con))
    # scale < 1: fit and smooth small, apply at full size (banded upsampling on the fly) or
    # after upsample_coefficients: the same numbers.
    small = (round(45 * 0.4), round(70 * 0.4))
    low_out, low_con = resize_bilinear(out, small), resize_bilinear(con, small)
    coefs = bilateral_smooth_numpy(local_affine_fit_numpy(low_out, low_con), low_con,
                                   radius=round(15 * 0.4))
    expected = local_affine_post_numpy(out, con, scale=0.4)
    np.testing.assert_allclose(apply_affine(coefs, con), expected, rtol=0, atol=1e-15)
    full = upsample_coefficients(coefs, (45, 70))
    assert full.shape == (45, 70, 3, 4)
    np.testing.assert_allclose(apply_affine(full, con), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(to_image(F.interpolate(
        torch.from_numpy(coefs.reshape(small + (12,)).transpose(2, 0, 1).copy())[None],
        size=(45, 70), mode="bilinear", align_corners=False)).reshape(full.shape), full,
        rtol=0, atol=1e-14)
    # Bands of one or a few rows (the band boundaries), float32 (OpenCV's upsampling) too.
    monkeypatch.setattr(lan, "_BAND_PIXELS", 100)
    np.testing.assert_allclose(apply_affine(coefs, con), expected, rtol=0, atol=1e-15)
    c32 = coefs.astype(np.float32)
    np.testing.assert_allclose(apply_affine(c32, con), apply_affine(
        upsample_coefficients(c32, (45, 70)), con), rtol=0, atol=2e-6)
    # The (H, W, 12) layout is the torch version's channel order.
    np.testing.assert_array_equal(apply_affine(coefs.reshape(small + (12,)), low_con),
                                  apply_affine(coefs, low_con))
    raw = apply_affine(coefs, con, clip=False)
    np.testing.assert_array_equal(np.clip(raw, 0, 1), apply_affine(coefs, con))


def test_dtype_follows_output_and_inputs_are_not_modified():
    con = photo(21, 26, seed=14)
    out = stylized(con)
    for out_dtype, con_dtype in [(np.float32, np.float64), (np.float64, np.float32),
                                 (np.float32, np.float32)]:
        o, c = out.astype(out_dtype), con.astype(con_dtype)
        before = (o.copy(), c.copy())
        o.flags.writeable = False  # any in-place write would raise
        c.flags.writeable = False
        for scale in (1.0, 0.5):
            result = local_affine_post_numpy(o, c, smooth_radius=4, scale=scale)
            assert result.dtype == out_dtype and result.shape == o.shape
            assert result.flags.writeable and result.flags.c_contiguous
        coefs = local_affine_fit_numpy(o, c)
        assert coefs.dtype == out_dtype
        coefs.flags.writeable = False
        assert bilateral_smooth_numpy(coefs, c, radius=3).dtype == out_dtype
        assert apply_affine(coefs, c).dtype == out_dtype
        assert upsample_coefficients(coefs, (30, 40)).dtype == out_dtype
        np.testing.assert_array_equal(o, before[0])
        np.testing.assert_array_equal(c, before[1])
    # Non-contiguous views are fine.
    view_o, view_c = out[::-1, ::2], con[::-1, ::2]
    np.testing.assert_array_equal(
        local_affine_post_numpy(view_o, view_c, smooth_radius=4, scale=0.5),
        local_affine_post_numpy(view_o.copy(), view_c.copy(), smooth_radius=4, scale=0.5),
    )


def test_bad_inputs_raise_value_error():
    x = np.random.default_rng(0).random((8, 8, 3))
    cases = [
        ((x, x[:, :7]), {}, "same shape"),
        ((x[..., 0], x[..., 0]), {}, r"\(H, W, 3\)"),
        ((x, np.random.rand(8, 8, 4)), {}, r"\(H, W, 3\)"),
        ((torch.from_numpy(x), x), {}, "numpy array"),
        ((x.tolist(), x), {}, "numpy array"),
        (((x * 255).astype(np.uint8), x), {}, "float32 or float64"),
        ((x.astype(np.float16), x), {}, "float32 or float64"),
        ((x[:0], x[:0]), {}, "empty"),
        ((x, x), {"eps": 0.0}, "eps"),
        ((x, x), {"eps": float("nan")}, "eps"),
        ((x, x), {"radius": -1}, "radius"),
        ((x, x), {"radius": 1.5}, "radius"),
        ((x, x), {"radius": True}, "radius"),
        ((x, x), {"smooth_radius": -1}, "smooth_radius"),
        ((x, x), {"sigma_range": 0.0}, "sigma_range"),
        ((x, x), {"scale": 0.0}, "scale"),
        ((x, x), {"scale": 1.5}, "scale"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            local_affine_post_numpy(*args, **kwargs)
    with pytest.raises(ValueError, match="eps"):
        local_affine_fit_numpy(x, x, eps=-1.0)
    coefs = local_affine_fit_numpy(x, x)
    with pytest.raises(ValueError, match="coefs"):
        apply_affine(coefs[..., :3], x)
    with pytest.raises(ValueError, match="coefs"):
        apply_affine(coefs.astype(np.int32), x)
    with pytest.raises(ValueError, match="content"):
        apply_affine(coefs, x[..., :2])
    with pytest.raises(ValueError, match="size"):
        upsample_coefficients(coefs, (0, 4))
    with pytest.raises(ValueError, match="size"):
        upsample_coefficients(coefs, 16)
    with pytest.raises(ValueError, match="one \\(H, W\\)"):
        bilateral_smooth_numpy(coefs, x[:7])
    with pytest.raises(ValueError, match="sigma_space"):
        bilateral_smooth_numpy(coefs, x, radius=2, sigma_space=0.0)
    with pytest.raises(ValueError, match="image"):
        resize_bilinear(x.astype(np.int64), (4, 4))


# --------------------------------------------------------------------------- no torch


@pytest.mark.parametrize("block_torch", [False, True])
def test_module_never_imports_torch(block_torch):
    """In a fresh interpreter, load matting/local_affine_numpy.py by its path and run every
    code path (lazy imports included); torch must not be imported, and with ``import torch``
    made to fail the module must still work (torch not installed).

    The file is loaded with ``importlib.util.spec_from_file_location`` rather than
    ``import matting.local_affine_numpy`` because ``matting/__init__.py`` still imports its
    torch modules eagerly: importing the submodule would run the package's ``__init__`` first
    and say nothing about the submodule itself. Loading by path runs exactly this file's
    imports (and those of numpy, scipy and OpenCV). Once ``matting/__init__`` is lazy, a plain
    import can be checked the same way.
    """
    script = textwrap.dedent(f"""
        import importlib.util, sys
        if {block_torch}:
            sys.modules["torch"] = None  # "import torch" now raises ImportError
        spec = importlib.util.spec_from_file_location("lan_isolated", {str(MODULE)!r})
        lan = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lan)
        import numpy as np
        rng = np.random.default_rng(0)
        con = rng.random((20, 30, 3)).astype(np.float32)
        out = rng.random((20, 30, 3))
        for scale in (1.0, 0.5):
            r = lan.local_affine_post_numpy(out, con, smooth_radius=3, scale=scale)
            r = lan.local_affine_post_numpy(out.astype(np.float32), con, scale=scale)
        coefs = lan.local_affine_fit_numpy(out, con)
        coefs = lan.bilateral_smooth_numpy(coefs, con, radius=2)
        lan.apply_affine(lan.upsample_coefficients(coefs, (40, 60)), rng.random((40, 60, 3)))
        lan.resize_bilinear(out, (7, 9))
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        if {block_torch}:
            assert sys.modules["torch"] is None, "something replaced the blocked torch"
            loaded.remove("torch")
        print("TORCH:", loaded)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "TORCH: []" in run.stdout, run.stdout


def test_benchmark_script_runs(tmp_path):
    """benchmarks/bench_local_affine.py still runs (tiny sizes; timings are not checked)."""
    import importlib.util

    path = MODULE.parents[1] / "benchmarks" / "bench_local_affine.py"
    spec = importlib.util.spec_from_file_location("bench_local_affine", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    report = bench.main(["--sizes", "40x30", "--repeat", "1", "--dtypes", "float32",
                         "--big-size", "64x48", "--big-scales", "0.5", "--big-repeat", "1",
                         "--json", str(out)])
    assert out.exists() and len(report["rows"]) == 2 and len(report["big"]) == 1
    assert all(row["numpy_s"] > 0 and row["max_abs_diff"] < 1e-4 for row in report["rows"])
    big = report["big"][0]
    assert not big["torch_imported"] and big["peak_rss_mb"] >= big["rss_before_mb"] > 0
