"""Regional colour transfer, the preview (API and CLI, no weights) and ``init="transfer"``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle import Config, VGG19Features, cli, preview, transfer
from photostyle.color_transfer import (
    histogram_match_channels,
    lab_to_rgb,
    monge_kantorovich_map,
    regional_color_transfer,
    rgb_to_lab,
)
from photostyle.errors import WeightsError

from .synthetic import scene


def _gaussian_samples(n, mean, cov, seed):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    return torch.as_tensor(mean, dtype=torch.float64) + z @ torch.linalg.cholesky(
        torch.as_tensor(cov, dtype=torch.float64)).T


def _stats(x):  # (N,3) -> mean, covariance (biased, as the transfer's)
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def _tensor(arr, dtype=torch.float32):
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].to(dtype)


def _halves(h, w, split):
    """One-hot (2,H,W) masks: columns < split, columns >= split."""
    left = torch.zeros(h, w, dtype=torch.float64)
    left[:, :split] = 1
    return torch.stack([left, 1 - left])


SOURCE_COV = [[0.010, 0.004, 0.001], [0.004, 0.008, 0.002], [0.001, 0.002, 0.005]]
TARGET_COV = [[0.004, -0.001, 0.0], [-0.001, 0.012, 0.003], [0.0, 0.003, 0.006]]


def test_linear_map_reproduces_target_mean_and_covariance():
    src = _gaussian_samples(5000, [0.4, 0.5, 0.3], SOURCE_COV, seed=0)
    tgt = _gaussian_samples(7000, [0.6, 0.3, 0.5], TARGET_COV, seed=1)
    (mu_s, cov_s), (mu_t, cov_t) = _stats(src), _stats(tgt)
    a, b = monge_kantorovich_map(mu_s, cov_s, mu_t, cov_t, eps=0.0)
    mapped_mean, mapped_cov = _stats(src @ a.T + b)
    torch.testing.assert_close(mapped_mean, mu_t, atol=1e-12, rtol=0)
    torch.testing.assert_close(mapped_cov, cov_t, atol=1e-12, rtol=0)
    assert torch.allclose(a, a.T) and bool((torch.linalg.eigvalsh(a) > 0).all())
    # the default ridge changes the covariance by at most eps·A²
    a2, b2 = monge_kantorovich_map(mu_s, cov_s, mu_t, cov_t)
    assert float((_stats(src @ a2.T + b2)[1] - cov_t).abs().max()) < 1e-4
    # float32 in, float32 out (float64 inside); degenerate source stays finite
    a32, _ = monge_kantorovich_map(mu_s.float(), torch.zeros(3, 3), mu_t.float(), cov_t.float())
    assert a32.dtype == torch.float32 and bool(torch.isfinite(a32).all())


def test_lab_round_trip_and_skimage():
    from skimage.color import rgb2lab

    rgb = torch.rand(2, 3, 17, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    rgb[0, :, 0, :3] = torch.tensor([[0.0, 1.0, 0.02]]).T  # black, white, near the linear part
    lab = rgb_to_lab(rgb)
    reference = rgb2lab(rgb[1].permute(1, 2, 0).numpy())
    np.testing.assert_allclose(lab[1].permute(1, 2, 0).numpy(), reference, atol=2e-3)
    torch.testing.assert_close(lab_to_rgb(lab), rgb, atol=1e-12, rtol=0)
    rgb32 = rgb.float()
    back = lab_to_rgb(rgb_to_lab(rgb32))
    assert back.dtype == torch.float32 and float((back - rgb32).abs().max()) < 5e-5


def test_histogram_matching_gives_the_target_histogram_and_identity():
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(1000, 3, generator=gen, dtype=torch.float64) ** 2
    target = torch.rand(1000, 3, generator=gen, dtype=torch.float64) * 0.5 + 0.3
    matched = histogram_match_channels(values, target)
    torch.testing.assert_close(matched.sort(0).values, target.sort(0).values)
    torch.testing.assert_close(histogram_match_channels(values, values), values)
    quantized = (values * 8).round() / 8  # ties
    torch.testing.assert_close(histogram_match_channels(quantized, quantized), quantized)


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_content_equal_to_style_gives_the_identity(space):
    img, labels = scene(48, 64, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    noise = np.random.default_rng(0).normal(0, 0.02, img.shape)  # full-rank colour covariances
    x = _tensor(np.clip(img + noise, 0, 1), torch.float64)
    masks = torch.stack([torch.from_numpy(labels == k) for k in (0, 1)]).double()
    # linear: every region's map is the identity, so any blend of them is too
    out = regional_color_transfer(x, x, masks, masks, method="linear", space=space, eps=0.0)
    torch.testing.assert_close(out, x, atol=1e-8, rtol=0)
    # histogram: the identity on each region's own colours (exactly with hard borders)
    out = regional_color_transfer(x, x, masks, masks, method="histogram", space=space,
                                  blend_radius=0)
    torch.testing.assert_close(out, x, atol=1e-10, rtol=0)
    # the default ridge, float32, no masks: close to the identity
    out = regional_color_transfer(x.float(), x.float(), space=space)
    assert out.dtype == torch.float32 and float((out - x.float()).abs().max()) < 2e-3


def test_regions_are_mapped_independently():
    gen = torch.Generator().manual_seed(0)
    h, w = 40, 60
    content = 0.3 + 0.4 * torch.rand(1, 3, h, w, generator=gen, dtype=torch.float64)
    style = 0.3 + 0.2 * torch.rand(1, 3, 30, 50, generator=gen, dtype=torch.float64)
    style[..., 25:] = style[..., 25:] * 0.5 + torch.tensor([0.4, 0.1, 0.2],
                                                           dtype=torch.float64)[:, None, None]
    c_masks, s_masks = _halves(h, w, 30), _halves(30, 50, 25)
    originals = [t.clone() for t in (content, style, c_masks, s_masks)]
    out = regional_color_transfer(content, style, c_masks, s_masks, space="rgb", blend_radius=0,
                                  eps=0.0)
    for k in (0, 1):  # each region has its own style region's mean and covariance
        region = out[0].reshape(3, -1)[:, c_masks[k].flatten() > 0].T
        target = style[0].reshape(3, -1)[:, s_masks[k].flatten() > 0].T
        for got, want in zip(_stats(region), _stats(target), strict=True):
            torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    # changing the style of region 1 leaves region 0 untouched (away from the blend)
    other = style.clone()
    other[..., 25:] = 1 - other[..., 25:]
    a = regional_color_transfer(content, style, c_masks, s_masks, blend_radius=5)
    b = regional_color_transfer(content, other, c_masks, s_masks, blend_radius=5)
    torch.testing.assert_close(a[..., :24], b[..., :24], atol=1e-12, rtol=0)
    assert float((a[..., 36:] - b[..., 36:]).abs().mean()) > 0.05
    # a label absent from the style uses the whole style image
    empty = s_masks.clone()
    empty[1] = 0
    whole = s_masks.clone()
    whole[1] = 1
    torch.testing.assert_close(regional_color_transfer(content, style, c_masks, empty),
                               regional_color_transfer(content, style, c_masks, whole))
    for before, after in zip(originals, (content, style, c_masks, s_masks), strict=True):
        assert before.equal(after)  # inputs are not modified


def test_preview_is_continuous_across_a_mask_border():
    h, w = 48, 96
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    texture = 0.03 * torch.sin(xx * 40) * torch.cos(yy * 25)
    content = torch.stack([0.3 + 0.3 * yy + texture, 0.5 + 0.1 * xx + texture,
                           0.4 + texture])[None]
    content[..., 10:20, 8:18] -= 0.15  # a dark object: the content's own edges
    style = torch.stack([torch.full((h, w), 0.8), torch.full((h, w), 0.5),
                         torch.full((h, w), 0.2)])
    style[:, :, w // 2:] = torch.tensor([0.2, 0.3, 0.7])[:, None, None]
    style = style + 0.05 * torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    labels = np.zeros((h, w), np.int64)
    labels[:, w // 2:] = 1  # the border runs through smooth content
    content_step = float(content.diff(dim=-1).abs().max())

    def border_step(image):
        return float(image[..., w // 2 - 12:w // 2 + 12].diff(dim=-1).abs().max())

    hard = preview(content, style, labels, labels,
                   config=Config(size=None, post=False, transfer_blend=0))
    assert border_step(hard) > 2 * content_step  # a seam without blending and smoothing
    smooth = preview(content, style, labels, labels, config=Config(size=None))
    assert border_step(smooth) <= content_step
    assert float(smooth[..., :20].mean((-1, -2))[0, 0]) > 0.6  # region 0 took red
    assert float(smooth[..., -20:].mean((-1, -2))[0, 2]) > 0.5  # region 1 took blue


def test_init_transfer_starts_stage1_from_the_colour_transfer():
    content, c_labels = scene(64, 80, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    style, s_labels = scene(72, 64, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)
    content, style = _tensor(content), _tensor(style)
    model = VGG19Features("random", seed=0)
    config = Config(size=None, iters=(0, 0), vgg_weights="random", init="transfer", post=False)
    start = transfer(content, style, c_labels, s_labels, config=config, model=model).stage1
    expected = preview(content, style, c_labels, s_labels, config=config)
    torch.testing.assert_close(start, expected)
    result = transfer(content, style, c_labels, s_labels, config=config.replace(iters=(3, 2)),
                      model=model)
    assert [r["stage"] for r in result.history] == [1, 1, 1, 2, 2]
    assert result.image.shape == content.shape


def test_cli_preview_needs_no_weights(tiny_pair, capsys, monkeypatch):
    d = tiny_pair
    monkeypatch.setenv("TORCH_HOME", str(d["dir"] / "empty_torch_home"))
    monkeypatch.delenv("PHOTOSTYLE_VGG_WEIGHTS", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("the preview must not build a VGG network")

    monkeypatch.setattr(cli, "VGG19Features", no_network)
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


def test_fast_local_affine_post_keeps_an_affine_recolouring():
    from matting import local_affine_post

    img, _ = scene(40, 56, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    noise = np.random.default_rng(0).normal(0, 0.05, img.shape)  # full-rank local colours
    content = _tensor(np.clip(img + noise, 0, 1), torch.float64)
    a = torch.tensor([[0.7, 0.1, 0.0], [0.05, 0.6, 0.1], [0.0, 0.2, 0.5]], dtype=torch.float64)
    recoloured = torch.einsum("ij,bjhw->bihw", a, content) + 0.1
    for scale in (0.5, 0.25):  # constant coefficients survive the upsampling exactly
        out = local_affine_post(recoloured, content, eps=1e-12, smooth_radius=6, scale=scale)
        torch.testing.assert_close(out, recoloured, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="scale"):
        local_affine_post(recoloured, content, scale=0.0)
