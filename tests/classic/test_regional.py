"""Regional colour transfer and the preview (numpy, API and CLI, no weights), and
``init="transfer"`` of the neural method."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle import Config, VGG19Features, cli, preview, transfer
from photostyle.classic.color import lab_to_rgb, rgb_to_lab
from photostyle.classic.regional import (
    histogram_match_channels,
    monge_kantorovich_map,
    regional_color_transfer,
)
from photostyle.errors import WeightsError
from photostyle.io.tensors import from_array, to_array

from ..synthetic import scene

PREVIEW = Config(quality="preview")


def _gaussian_samples(n, mean, cov, seed):
    z = np.random.default_rng(seed).standard_normal((n, 3))
    return np.asarray(mean) + z @ np.linalg.cholesky(np.asarray(cov)).T


def _stats(x):  # (N,3) -> mean, covariance (biased, as the transfer's)
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def _halves(h, w, split):
    """One-hot (2,H,W) masks: columns < split, columns >= split."""
    left = np.zeros((h, w))
    left[:, :split] = 1
    return np.stack([left, 1 - left])


SOURCE_COV = [[0.010, 0.004, 0.001], [0.004, 0.008, 0.002], [0.001, 0.002, 0.005]]
TARGET_COV = [[0.004, -0.001, 0.0], [-0.001, 0.012, 0.003], [0.0, 0.003, 0.006]]


def test_linear_map_reproduces_target_mean_and_covariance():
    src = _gaussian_samples(5000, [0.4, 0.5, 0.3], SOURCE_COV, seed=0)
    tgt = _gaussian_samples(7000, [0.6, 0.3, 0.5], TARGET_COV, seed=1)
    (mu_s, cov_s), (mu_t, cov_t) = _stats(src), _stats(tgt)
    a, b = monge_kantorovich_map(mu_s, cov_s, mu_t, cov_t, eps=0.0)
    mapped_mean, mapped_cov = _stats(src @ a.T + b)
    np.testing.assert_allclose(mapped_mean, mu_t, atol=1e-12, rtol=0)
    np.testing.assert_allclose(mapped_cov, cov_t, atol=1e-12, rtol=0)
    assert np.allclose(a, a.T) and np.all(np.linalg.eigvalsh(a) > 0)
    # the default ridge changes the covariance by at most eps·A²
    a2, b2 = monge_kantorovich_map(mu_s, cov_s, mu_t, cov_t)
    assert np.abs(_stats(src @ a2.T + b2)[1] - cov_t).max() < 1e-4
    # a degenerate source stays finite
    a0, _ = monge_kantorovich_map(mu_s, np.zeros((3, 3)), mu_t, cov_t)
    assert np.all(np.isfinite(a0))
    with pytest.raises(ValueError, match="shape"):
        monge_kantorovich_map(mu_s[:2], cov_s, mu_t, cov_t)


def test_lab_round_trip_and_skimage():
    from skimage.color import rgb2lab

    rgb = np.random.default_rng(3).random((2, 17, 23, 3))
    rgb[0, 0, :3] = np.array([[0.0, 1.0, 0.02]]).T  # black, white, near the linear part
    lab = rgb_to_lab(rgb)
    np.testing.assert_allclose(lab[1], rgb2lab(rgb[1]), atol=2e-3)
    np.testing.assert_allclose(lab_to_rgb(lab), rgb, atol=1e-12, rtol=0)
    rgb32 = rgb.astype(np.float32)
    back = lab_to_rgb(rgb_to_lab(rgb32))
    assert back.dtype == np.float32 and np.abs(back - rgb32).max() < 5e-5


def test_histogram_matching_gives_the_target_histogram_and_identity():
    rng = np.random.default_rng(0)
    values = rng.random((1000, 3)) ** 2
    target = rng.random((1000, 3)) * 0.5 + 0.3
    matched = histogram_match_channels(values, target)
    np.testing.assert_allclose(np.sort(matched, 0), np.sort(target, 0), atol=1e-12)
    np.testing.assert_allclose(histogram_match_channels(values, values), values, atol=1e-12)
    quantized = np.round(values * 8) / 8  # ties
    np.testing.assert_allclose(histogram_match_channels(quantized, quantized), quantized,
                               atol=1e-12)


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_content_equal_to_style_gives_the_identity(space):
    img, labels = scene(48, 64, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    noise = np.random.default_rng(0).normal(0, 0.02, img.shape)  # full-rank colour covariances
    x = np.clip(img + noise, 0, 1)
    masks = np.stack([labels == k for k in (0, 1)]).astype(np.float64)
    # linear: every region's map is the identity, so any blend of them is too
    out = regional_color_transfer(x, x, masks, masks, method="linear", space=space, eps=0.0)
    np.testing.assert_allclose(out, x, atol=1e-8, rtol=0)
    # histogram: the identity on each region's own colours (exactly with hard borders)
    out = regional_color_transfer(x, x, masks, masks, method="histogram", space=space,
                                  blend_radius=0)
    np.testing.assert_allclose(out, x, atol=1e-10, rtol=0)
    # the default ridge, float32, no masks: close to the identity
    x32 = x.astype(np.float32)
    out = regional_color_transfer(x32, x32, space=space)
    assert out.dtype == np.float32 and np.abs(out - x32).max() < 2e-3


def test_regions_are_mapped_independently():
    rng = np.random.default_rng(0)
    h, w = 40, 60
    content = 0.3 + 0.4 * rng.random((h, w, 3))
    style = 0.3 + 0.2 * rng.random((30, 50, 3))
    style[:, 25:] = style[:, 25:] * 0.5 + np.array([0.4, 0.1, 0.2])
    c_masks, s_masks = _halves(h, w, 30), _halves(30, 50, 25)
    originals = [t.copy() for t in (content, style, c_masks, s_masks)]
    out = regional_color_transfer(content, style, c_masks, s_masks, space="rgb", blend_radius=0,
                                  eps=0.0)
    for k in (0, 1):  # each region has its own style region's mean and covariance
        region = out.reshape(-1, 3)[c_masks[k].ravel() > 0]
        target = style.reshape(-1, 3)[s_masks[k].ravel() > 0]
        for got, want in zip(_stats(region), _stats(target), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-10, rtol=0)
    # changing the style of region 1 leaves region 0 untouched (away from the blend)
    other = style.copy()
    other[:, 25:] = 1 - other[:, 25:]
    a = regional_color_transfer(content, style, c_masks, s_masks, blend_radius=5)
    b = regional_color_transfer(content, other, c_masks, s_masks, blend_radius=5)
    np.testing.assert_allclose(a[:, :24], b[:, :24], atol=1e-12, rtol=0)
    assert np.abs(a[:, 36:] - b[:, 36:]).mean() > 0.05
    # a label absent from the style uses the whole style image
    empty, whole = s_masks.copy(), s_masks.copy()
    empty[1], whole[1] = 0, 1
    np.testing.assert_allclose(regional_color_transfer(content, style, c_masks, empty),
                               regional_color_transfer(content, style, c_masks, whole))
    for before, after in zip(originals, (content, style, c_masks, s_masks), strict=True):
        assert np.array_equal(before, after)  # inputs are not modified
    with pytest.raises(ValueError, match="region"):
        regional_color_transfer(content, style, np.zeros((1, h, w)), np.ones((1, 30, 50)))


def test_preview_is_continuous_across_a_mask_border():
    h, w = 48, 96
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    texture = 0.03 * np.sin(xx * 40) * np.cos(yy * 25)
    content = np.stack([0.3 + 0.3 * yy + texture, 0.5 + 0.1 * xx + texture,
                        0.4 + texture], axis=-1)
    content[10:20, 8:18] -= 0.15  # a dark object: the content's own edges
    style = np.empty((h, w, 3))
    style[:, : w // 2] = [0.8, 0.5, 0.2]
    style[:, w // 2:] = [0.2, 0.3, 0.7]
    style = style + 0.05 * np.random.default_rng(0).random((h, w, 3))
    labels = np.zeros((h, w), np.int64)
    labels[:, w // 2:] = 1  # the border runs through smooth content
    content_step = np.abs(np.diff(content, axis=1)).max()

    def border_step(image):
        return np.abs(np.diff(image[:, w // 2 - 12:w // 2 + 12], axis=1)).max()

    hard = preview(content, style, labels, labels,
                   config=PREVIEW.replace(size=None, post=False, transfer_blend=0))
    assert border_step(hard) > 2 * content_step  # a seam without blending and smoothing
    smooth = preview(content, style, labels, labels, config=PREVIEW.replace(size=None))
    assert border_step(smooth) <= content_step
    assert smooth[:, :20, 0].mean() > 0.6  # region 0 took red
    assert smooth[:, -20:, 2].mean() > 0.5  # region 1 took blue
    # tensors in, a tensor out, on the content's dtype (the same picture)
    as_tensor = preview(from_array(content, dtype=torch.float64), from_array(style),
                        labels, labels, config=PREVIEW.replace(size=None))
    assert as_tensor.shape == (1, 3, h, w) and as_tensor.dtype == torch.float64
    np.testing.assert_allclose(to_array(as_tensor), smooth, atol=1e-6)


def test_init_transfer_starts_stage1_from_the_colour_transfer():
    content, c_labels = scene(64, 80, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    style, s_labels = scene(72, 64, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)
    content, style = from_array(content), from_array(style)
    model = VGG19Features("random", seed=0)
    config = Config(size=None, iters=(0, 0), vgg_weights="random", init="transfer", post=False)
    start = transfer(content, style, c_labels, s_labels, config=config, model=model).stage1
    expected = preview(content, style, c_labels, s_labels,
                       config=config.replace(quality="preview"))
    torch.testing.assert_close(start, expected, atol=1e-6, rtol=0)
    result = transfer(content, style, c_labels, s_labels, config=config.replace(iters=(3, 2)),
                      model=model)
    assert [r["stage"] for r in result.history] == [1, 1, 1, 2, 2]
    assert result.image.shape == content.shape


def test_cli_preview_needs_no_weights(tiny_pair, capsys, monkeypatch):
    d = tiny_pair
    monkeypatch.setenv("TORCH_HOME", str(d["dir"] / "empty_torch_home"))
    monkeypatch.delenv("PHOTOSTYLE_VGG_WEIGHTS", raising=False)
    # No network can be built: the neural package is not importable during this run.
    monkeypatch.setitem(sys.modules, "photostyle.neural", None)
    monkeypatch.setitem(sys.modules, "photostyle.neural.vgg", None)
    out = d["dir"] / "preview.png"
    code = cli.main([str(d["content"]), str(d["style"]), "-o", str(out), "--quality", "preview",
                     "--content-mask", str(d["content_mask"]), "--style-mask",
                     str(d["style_mask"]), "--size", "64", "--transfer", "histogram"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "random" not in err and "wrote" in err
    assert Image.open(out).size == (64, 51)


def test_missing_weights_error_mentions_the_preview(tmp_path):
    with pytest.raises(WeightsError, match="--quality preview, which needs no weights"):
        VGG19Features(str(tmp_path / "missing.pth"))
