"""Artistic mode (Gatys et al.), several styles, --style-scale, --original-colors and the
histogram style loss inside the pipeline, through the API and the CLI (random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle import ARTISTIC_QUALITY, Config, InputError, plan_levels, transfer
from photostyle.neural.histogram import histogram_target
from photostyle.neural.inputs import prepare, prepare_inputs
from photostyle.neural.objective import Objective
from photostyle.neural.original_colors import keep_original_colors, rgb_to_yiq, yiq_to_rgb

from ..cli_runner import run_cli
from ..synthetic import color_mask, scene, write_png

FAST = ["--vgg-weights", "random", "--size", "64", "-q"]


# --- configuration -------------------------------------------------------------------------


def test_modes_pick_their_start_post_and_schedule():
    photo, art = Config(), Config(mode="artistic")
    assert (photo.start, photo.use_post) == ("transfer", True)
    assert (art.start, art.use_post) == ("noise", False)
    levels = plan_levels(art, (384, 512))  # one stage, run at every level (texture is fine)
    assert [lv.long_side for lv in levels] == [128, 256, 512]
    assert all(lv.iters[0] > 0 and lv.iters[1] == 0 for lv in levels)
    assert all(n2 == 0 for n2 in (lv[1] for table in ARTISTIC_QUALITY.values() for lv in table))
    assert Config(mode="artistic", init="content", post=True).start == "content"
    assert Config(mode="artistic", iters=(90, 0)).level_steps[-1][1] == 0
    assert sum(n for n, _ in Config(mode="artistic", iters=(90, 0)).level_steps) == 90


@pytest.mark.parametrize("kwargs, needle", [
    ({"mode": "painting"}, "mode"),
    ({"mode": "artistic", "iters": (10, 5)}, "one stage"),
    ({"mode": "artistic", "schedule": ((10, 5),)}, "one stage"),
    ({"style_loss": "wasserstein"}, "style_loss"),
    ({"style_blend_weights": (1.0, -1.0)}, "style_blend_weights"),
    ({"style_blend_weights": (0.0, 0.0)}, "style_blend_weights"),
    ({"style_scale": 0.0}, "style_scale"),
    ({"histogram_weight": -1.0}, "histogram_weight"),
])
def test_bad_settings_are_refused(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        Config(**kwargs)


def test_feature_layers_follow_the_style_loss():
    assert "relu1_1" in Config().feature_layers
    hist_only = Config(style_loss="histogram", histogram_layers=("relu2_1",))
    assert hist_only.gram_layers == ()
    assert hist_only.feature_layers == ("relu4_2", "relu2_1")
    assert Config(style_loss="gram").histogram_loss_layers == ()


# --- artistic mode through the API ---------------------------------------------------------


def test_artistic_mode_is_one_stage_without_matting_or_post(pair, model):
    content, style, c_labels, s_labels = pair
    config = Config(mode="artistic", size=64, iters=(6, 0), vgg_weights="random",
                    init="content")
    result = transfer(content, style, c_labels, s_labels, config=config, model=model)
    assert result.stage2 is None
    assert {row["stage"] for row in result.history} == {1}
    assert all("matting" not in row for row in result.history)
    assert "post" not in result.timings and result.timings["laplacian"] == 0.0
    # No post-process: the final image is the optimization's result itself.
    assert torch.equal(result.image, result.stage1)
    assert not torch.equal(result.image, prepare_inputs(content, style, None, None, 64)[0])


def test_artistic_mode_starts_from_seeded_noise(pair, model):
    content, style, _, _ = pair
    config = Config(mode="artistic", size=64, iters=(0, 0), vgg_weights="random", seed=3)
    result = transfer(content, style, config=config, model=model)
    noise = torch.rand((1, 3, 51, 64), generator=torch.Generator().manual_seed(3))
    assert torch.equal(result.image, noise)


def test_artistic_mode_lowers_its_losses(pair, model):
    content, style, _, _ = pair
    for loss, key in (("gram", "style"), ("histogram", "histogram")):
        config = Config(mode="artistic", size=64, iters=(25, 0), vgg_weights="random",
                        init="content", style_loss=loss)
        history = transfer(content, style, config=config, model=model).history
        assert history[-1][key] < 0.5 * history[0][key], loss


# --- the histogram loss inside the pipeline ------------------------------------------------


@pytest.mark.parametrize("loss, keys", [("gram", {"style"}), ("histogram", {"histogram"}),
                                        ("both", {"style", "histogram"})])
def test_style_loss_choice_reaches_the_objective(pair, model, loss, keys):
    content, style, c_labels, s_labels = pair
    config = Config(size=64, iters=(2, 2), vgg_weights="random", style_loss=loss)
    result = transfer(content, style, c_labels, s_labels, config=config, model=model)
    for row in result.history:
        assert keys <= set(row) and not ({"style", "histogram"} - keys) & set(row)
    assert {row["stage"] for row in result.history} == {1, 2}


def test_histogram_term_is_zero_when_the_output_is_the_style(model):
    style = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    config = Config(size=64, vgg_weights="random", style_loss="histogram")
    objective = Objective(model, model, config, style, [style], None, None, None, False)
    _, terms = objective(style)
    assert float(terms["histogram"]) < 1e-6
    _, terms = objective(style.flip(-2))  # same pixels, different layout: features differ
    assert float(terms["histogram"]) > 1e-3


# --- several styles ------------------------------------------------------------------------


def _two_styles():
    a, la = scene(64, 72, (0.9, 0.5, 0.2), (0.2, 0.3, 0.1), 0.5, seed=5)
    b, lb = scene(56, 80, (0.2, 0.3, 0.8), (0.5, 0.4, 0.3), 0.4, seed=6)
    as_t = [torch.from_numpy(x).permute(2, 0, 1)[None].float() for x in (a, b)]
    return as_t, [la, lb]


def test_blended_targets_are_the_blend_of_each_styles(pair, model):
    content, _, c_labels, _ = pair
    (a, b), (la, lb) = _two_styles()
    config = Config(size=64, vgg_weights="random", style_loss="both")

    def objective(styles, masks, blend):
        cfg = config.replace(style_blend_weights=blend)
        c, ss, cm, sms, w = prepare(content, styles, c_labels, masks, 64,
                                     (64,) * len(styles))
        return Objective(model, model, cfg, c, ss, cm, sms, w, False)

    only_a = objective([a], [la], None)
    mixed = objective([a, b], [la, lb], (1.0, 3.0))
    a_first = objective([a, b], [la, lb], (1.0, 0.0))
    single_b = objective([b], [lb], None)
    equal = objective([a, b], [la, lb], None)
    for name, labels in mixed.style_terms.items():
        for k, label in enumerate(labels):
            ta, tb = only_a.style_terms[name][k].target, single_b.style_terms[name][k].target
            torch.testing.assert_close(label.target, 0.25 * ta + 0.75 * tb)
            torch.testing.assert_close(equal.style_terms[name][k].target, 0.5 * ta + 0.5 * tb)
            torch.testing.assert_close(a_first.style_terms[name][k].target,
                                       only_a.style_terms[name][k].target)
    for name, loss in a_first.histogram_terms.items():
        for got, want in zip(loss.targets, only_a.histogram_terms[name].targets, strict=True):
            torch.testing.assert_close(got.quantiles, want.quantiles)


def test_blend_weights_must_match_the_styles(pair, model):
    content, style, _, _ = pair
    config = Config(size=64, iters=(1, 1), vgg_weights="random", style_blend_weights=(1.0,))
    with pytest.raises(InputError, match="blend weights"):
        transfer(content, [style, style], config=config, model=model)
    with pytest.raises(InputError, match="one mask per style"):
        transfer(content, [style, style], np.zeros((51, 64), int), [np.zeros((51, 64), int)],
                 config=config.replace(style_blend_weights=None), model=model)


def test_histogram_blend_matches_pooled_samples():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 300, generator=gen)
    b = torch.randn(2, 100, generator=gen) + 3
    # Equal blend of a (300 px) and b (100 px) = each b sample counted three times.
    mixed = histogram_target([a, b], None, (1.0, 1.0))
    pooled = histogram_target(torch.cat([a, b.repeat(1, 3)], dim=1))
    levels = torch.tensor([0.1, 0.5, 0.9])
    for got, want in zip(mixed.quantiles, pooled.quantiles, strict=True):
        torch.testing.assert_close(torch.quantile(got, levels), torch.quantile(want, levels),
                                   atol=0.05, rtol=0)


# --- --style-scale ----------------------------------------------------------------------------


def test_style_scale_sets_the_style_size():
    levels = plan_levels(Config(size=256, style_scale=0.5), (192, 256), (300, 400))
    assert [lv.style_long_sides for lv in levels] == [(32,), (64,), (128,)][-len(levels):]
    assert [lv.long_side for lv in levels] == [64, 128, 256][-len(levels):]
    two = plan_levels(Config(size=None, quality="max", style_scale=2.0), (100, 120),
                      [(50, 60), (80, 40)])
    assert two[-1].style_long_sides == (120, 160)


def test_style_scale_too_small_is_a_clear_error(pair, model):
    content, style, _, _ = pair
    config = Config(size=64, quality="max", iters=(1, 0), vgg_weights="random",
                    style_scale=0.25, mode="artistic")
    with pytest.raises(InputError, match="style-scale"):
        transfer(content, style, config=config, model=model)


# --- --original-colors ---------------------------------------------------------------------


def test_yiq_round_trip_and_luminance():
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x)
    grey = torch.full((3, 4, 4), 0.4, dtype=torch.float64)
    yiq = rgb_to_yiq(grey)
    torch.testing.assert_close(yiq[0], grey[0])
    assert yiq[1:].abs().max() < 1e-4  # grey has no chrominance


def test_original_colors_keep_the_contents_chroma():
    gen = torch.Generator().manual_seed(0)
    content = 0.2 + 0.6 * torch.rand(1, 3, 16, 16, dtype=torch.float64, generator=gen)
    stylized = 0.3 + 0.4 * torch.rand(1, 3, 16, 16, dtype=torch.float64, generator=gen)
    out = keep_original_colors(stylized, content)
    inside = ((yiq_to_rgb(torch.cat([rgb_to_yiq(stylized)[:, :1], rgb_to_yiq(content)[:, 1:]],
                                    1)) - 0.5).abs() < 0.5).all(1, keepdim=True)
    got, want = rgb_to_yiq(out), rgb_to_yiq(content)
    assert inside.float().mean() > 0.5
    torch.testing.assert_close(got[:, 1:] * inside, want[:, 1:] * inside)
    torch.testing.assert_close(got[:, :1] * inside, rgb_to_yiq(stylized)[:, :1] * inside)
    assert not torch.allclose(got[:, 1:], rgb_to_yiq(stylized)[:, 1:], atol=1e-2)
    with pytest.raises(ValueError, match="same shape"):
        keep_original_colors(stylized, content[..., :8])


def test_original_colors_through_the_api(pair, model):
    content, style, _, _ = pair
    config = Config(mode="artistic", size=64, iters=(5, 0), vgg_weights="random",
                    init="content", original_colors=True)
    result = transfer(content, style, config=config, model=model)
    c = prepare_inputs(content, style, None, None, 64)[0]
    chroma = rgb_to_yiq(result.image)[:, 1:]
    clipped = ((result.image <= 0) | (result.image >= 1)).any(1, keepdim=True)
    err = ((chroma - rgb_to_yiq(c)[:, 1:]).abs() * ~clipped).max()
    assert err < 1e-5
    assert ((rgb_to_yiq(result.stage1)[:, 1:] - rgb_to_yiq(c)[:, 1:]).abs().max()) > 1e-2


# --- the command line ----------------------------------------------------------------------


def test_cli_artistic_end_to_end(tiny_pair, capsys):
    d = tiny_pair
    out = d["dir"] / "art.png"
    code, _, err = run_cli([d["content"], d["style"], "-o", out, "--mode", "artistic",
                           "--iters", "4", "--init", "content", "--pooling", "avg",
                           "--style-loss", "both", "--save-stages", "--vgg-weights", "random",
                           "--size", "64"], capsys)
    assert code == 0, err
    assert "artistic mode" in err and "stage 2" not in err
    assert Image.open(out).size == (64, 51)
    assert (d["dir"] / "art.stage1.png").exists()
    assert not (d["dir"] / "art.stage2.png").exists()


def test_cli_several_styles_scale_and_original_colors(tiny_pair, capsys):
    d = tiny_pair
    other, labels = scene(60, 60, (0.8, 0.2, 0.6), (0.1, 0.4, 0.2), 0.5, seed=9)
    style2 = write_png(d["dir"] / "style2.png", other)
    mask2 = write_png(d["dir"] / "style2_mask.png", color_mask(labels))
    out = d["dir"] / "mix.png"
    code, _, err = run_cli([d["content"], d["style"], style2, "-o", out,
                           "--content-mask", d["content_mask"],
                           "--style-mask", d["style_mask"], mask2,
                           "--style-blend-weights", "1,3", "--style-scale", "1.25",
                           "--original-colors", "--iters", "3,3", *FAST], capsys)
    assert code == 0, err
    content = np.asarray(Image.open(d["content"]).resize((64, 51), Image.BILINEAR)) / 255.0
    result = np.asarray(Image.open(out)) / 255.0
    to_t = [torch.from_numpy(x).permute(2, 0, 1).double() for x in (content, result)]
    chroma = [rgb_to_yiq(t)[1:] for t in to_t]
    # 8-bit output and a bilinear resize of the content: chroma equal within a few levels.
    assert float((chroma[0] - chroma[1]).abs().mean()) < 0.02


@pytest.mark.parametrize("extra, needle", [
    (["--mode", "artistic", "--iters", "4,4"], "one stage"),
    (["--mode", "artistic", "--quality", "preview"], "preview"),
    (["STYLE2", "--style-blend-weights", "1,2,3"], "--style-blend-weights"),
    (["--style-blend-weights", "1,-2"], "weights"),
    (["STYLE2", "--content-mask", "CMASK", "--style-mask", "SMASK"], "one mask per style"),
    (["STYLE2", "--seg", "cluster"], "--seg cluster"),
    (["STYLE2", "--quality", "preview"], "preview"),
    (["--original-colors", "--quality", "preview"], "--original-colors"),
])
def test_cli_bad_mode_options(tiny_pair, capsys, extra, needle):
    d = tiny_pair
    names = {"STYLE2": d["style"], "CMASK": d["content_mask"], "SMASK": d["style_mask"]}
    extra = [names.get(a, a) for a in extra]
    style_args = [d["style"]]
    if extra and extra[0] == d["style"]:  # a second style photo: a positional argument
        style_args.append(extra.pop(0))
    before = sorted(p.name for p in d["dir"].iterdir())
    code, _, err = run_cli([d["content"], *style_args, "-o", d["dir"] / "x.png", *FAST, *extra],
                           capsys)
    assert code == 2 and needle in err, err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert sorted(p.name for p in d["dir"].iterdir()) == before


def test_preview_and_transfer_check_every_style(pair, model):
    from photostyle import preview

    content, style, c_labels, _ = pair
    with pytest.raises(InputError, match="give both"):
        preview(content, style, c_labels, None, config=Config(size=64))
    with pytest.raises(InputError, match="style 2"):
        transfer(content, [style, style[:, :1]], config=Config(size=64, iters=(1, 1)),
                 model=model)
    with pytest.raises(InputError, match="at least one style"):
        transfer(content, [], config=Config(size=64), model=model)
