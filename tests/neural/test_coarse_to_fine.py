"""Coarse-to-fine schedules, the lean loop and the memory estimate (random VGG weights, tiny
images)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from photostyle import Config, TransferInterrupted, cli, transfer
from photostyle.config import QUALITY
from photostyle.errors import InputError
from photostyle.neural.gram import MaskedGramLoss, gram_labels
from photostyle.neural.losses import style_loss, style_targets
from photostyle.neural.memory import estimate_peak_memory, largest_fitting_size, memory_phases
from photostyle.neural.optim import LBFGS
from photostyle.neural.schedule import plan_levels
from photostyle.neural.transfer import cuda_flags

#: Two levels at size 96: 48 px (38 px short side) and 96 px.
TWO = Config(size=96, schedule=((4, 3), (0, 2)), min_level_side=32, vgg_weights="random")


# --- schedules ------------------------------------------------------------------------------

def test_quality_schedules_plan_the_pyramid():
    # The paper's run: one level at the working size, 1000 + 1000 steps.
    (level,) = plan_levels(Config(quality="max"), (384, 512))
    assert (level.height, level.width, level.iters) == (384, 512, (1000, 1000))
    # Coarse to fine: each level twice the size of the one below, the finest at the working
    # size; stage 1 only at the coarsest level, which also runs the most steps.
    for quality in ("draft", "default"):
        levels = plan_levels(Config(quality=quality), (384, 512))
        assert [lv.long_side for lv in levels] == [128, 256, 512]
        assert [(lv.height, lv.width) for lv in levels] == [(96, 128), (192, 256), (384, 512)]
        assert all(lv.iters[0] == 0 and lv.iters[1] > 0 for lv in levels[1:])
        assert sum(levels[0].iters) >= max(sum(lv.iters) for lv in levels)
    draft, default = (sum(map(sum, (lv.iters for lv in plan_levels(Config(quality=q),
                                                                    (384, 512)))))
                      for q in ("draft", "default"))
    assert draft < default


def test_iters_are_totals_spread_like_the_schedule():
    for quality in QUALITY:
        for iters in ((0, 0), (7, 5), (300, 301)):
            steps = Config(quality=quality, iters=iters).level_steps
            assert tuple(map(sum, zip(*steps, strict=True))) == iters
            assert len(steps) == len(QUALITY[quality])
    assert Config(quality="max", iters=(5, 7)).level_steps == ((5, 7),)
    assert Config(schedule=((2, 0), (0, 0)), iters=(4, 3)).level_steps == ((4, 0), (0, 3))


def test_small_levels_are_dropped_and_their_steps_kept():
    config = Config(size=256, schedule=((10, 5), (0, 4), (0, 2)))
    levels = plan_levels(config, (160, 256))  # the 64 px level: 40 px short side
    assert [lv.long_side for lv in levels] == [128, 256]
    assert [lv.iters for lv in levels] == [(10, 9), (0, 2)]
    assert len(plan_levels(config.replace(size=None), (64, 80))) == 1  # single scale
    # size=None keeps each image's own size at the finest level
    levels = plan_levels(Config(size=None, min_level_side=32), (128, 160), (72, 64))
    assert (levels[-1].long_side, levels[-1].style_long_sides) == (160, (72,))


def test_one_step_count_means_both_stages_or_artistic_one():
    assert Config(iters=(5,)).iters == (5, 5)
    assert Config(iters=(5,), mode="artistic").iters == (5, 0)
    with pytest.raises(InputError, match="preview"):
        Config(quality="preview").level_steps  # noqa: B018 - no schedule to run


@pytest.mark.parametrize("bad", [dict(quality="preview", mode="artistic"), dict(quality="fast"),
                                 dict(iters=(1, 2, 3)), dict(schedule=()),
                                 dict(schedule=((1, -1),)), dict(progress_every=0),
                                 dict(min_level_side=8), dict(memory_limit=0),
                                 dict(matting_operator="dense")])
def test_bad_settings_raise(bad):
    with pytest.raises(InputError):
        Config(**bad)


# --- coarse to fine end to end --------------------------------------------------------------

def test_coarse_to_fine_levels_stages_and_steps(pair, model):
    content, style, c_labels, s_labels = pair
    seen = []
    result = transfer(content, style, c_labels, s_labels, config=TWO, model=model,
                      callback=lambda i: seen.append((i.level, i.levels, i.stage, i.step,
                                                      i.steps, tuple(i.image.shape[-2:]))))
    first = [(1, 2, 1, k, 4, (38, 48)) for k in range(1, 5)]
    first += [(1, 2, 2, k, 3, (38, 48)) for k in range(1, 4)]
    assert seen == first + [(2, 2, 2, k, 2, (77, 96)) for k in range(1, 3)]
    assert [(lv.height, lv.width, lv.iters) for lv in result.levels] == \
        [(38, 48, (4, 3)), (77, 96, (0, 2))]
    assert result.image.shape[-2:] == result.stage1.shape[-2:] == result.stage2.shape[-2:] \
        == (77, 96)
    assert [r["level"] for r in result.history] == [1] * 7 + [2] * 2
    assert {"level1", "level2", "laplacian", "post"} <= set(result.timings)
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1


def test_progress_every_reads_the_first_and_every_k_steps(pair, model):
    content, style, c_labels, s_labels = pair
    seen = []
    result = transfer(content, style, c_labels, s_labels, model=model,
                      config=TWO.replace(schedule=((7, 3), (0, 4)), progress_every=3),
                      callback=lambda i: seen.append((i.level, i.stage, i.step)))
    # each stage's first step (its start image's terms), every 3rd step and its last step
    assert seen == [(1, 1, 1), (1, 1, 3), (1, 1, 6), (1, 1, 7), (1, 2, 1), (1, 2, 3),
                    (2, 2, 1), (2, 2, 3), (2, 2, 4)]
    assert len(result.history) == len(seen)


def test_interrupt_at_a_coarse_level_gives_a_working_size_image(pair, model):
    content, style, c_labels, s_labels = pair

    def stop(info):
        if info.level == 1 and info.stage == 1 and info.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(TransferInterrupted) as caught:
        transfer(content, style, c_labels, s_labels, config=TWO, callback=stop, model=model)
    assert caught.value.level == 1 and caught.value.step == 2
    assert caught.value.image.shape[-2:] == (77, 96)


def test_cli_coarse_to_fine(tiny_pair, capsys):
    d = tiny_pair
    out = d["dir"] / "out.png"
    code = cli.main([str(a) for a in (d["content"], d["style"], "-o", out, "--content-mask",
                                      d["content_mask"], "--style-mask", d["style_mask"],
                                      "--vgg-weights", "random", "--size", "160", "--quality",
                                      "draft", "--iters", "4,3", "--save-every", "2", "-q")])
    err = capsys.readouterr().err
    assert code == 0, err
    from PIL import Image

    assert Image.open(out).size == (160, 128)
    names = {p.name for p in d["dir"].iterdir()}
    assert {"out.L1_stage1_0002.png", "out.L1_stage1_0004.png"} <= names


# --- the lean loop --------------------------------------------------------------------------

def test_fused_masked_gram_loss_matches_the_reference():
    gen = torch.Generator().manual_seed(0)
    feats = torch.rand(1, 8, 12, 10, generator=gen, dtype=torch.float64)
    labels = torch.zeros(12, 10, dtype=torch.long)
    labels[:4] = 1
    labels[8:, 6:] = 2
    masks = F.one_hot(labels, 3).permute(2, 0, 1).double()
    masks = F.avg_pool2d(masks[None], 3, 1, 1, count_include_pad=False)[0]  # soft borders
    masks[:, 11, :] = masks[:, 11, :] * torch.tensor([1, 1, 0.0])[:, None]  # a partial label
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    style = torch.rand(1, 8, 12, 10, generator=gen, dtype=torch.float64)
    targets = style_targets(style, masks)
    for m, w in ((masks, weights), (None, None)):
        t = targets if m is not None else style_targets(style, None)
        a = feats.clone().requires_grad_(True)
        b = feats.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True)
        ref = style_loss(a, t, m, w)
        ref.backward()
        fused = MaskedGramLoss.apply(b, gram_labels(t, m, w, 120))
        fused.backward()
        torch.testing.assert_close(fused, ref)
        torch.testing.assert_close(b.grad, a.grad)


def test_lbfgs_matches_torch_and_never_syncs():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(20, 20, generator=gen, dtype=torch.float64)
    a = a @ a.T / 20 + 0.1 * torch.eye(20, dtype=torch.float64)
    b = torch.randn(20, generator=gen, dtype=torch.float64)

    def f(x):
        return 0.5 * x @ a @ x - b @ x + 0.05 * (x ** 4).sum()

    x1 = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    ref = torch.optim.LBFGS([x1], lr=1, max_iter=1, history_size=4, tolerance_grad=-1,
                            tolerance_change=-1)
    ours = LBFGS(x2, history_size=4)
    for _ in range(12):
        def closure():
            ref.zero_grad()
            loss = f(x1)
            loss.backward()
            return loss

        ref.step(closure)
        x2.grad = None
        f(x2).backward()
        ours.step(x2.grad)
        torch.testing.assert_close(x2, x1, rtol=1e-9, atol=1e-12)
    # every scalar stays a tensor: no .item(), float() or bool() on device values
    assert all(isinstance(r, torch.Tensor) for r in ours.rho)


def test_channels_last_autocast_and_compile_paths_run(pair, model):
    content, style, c_labels, s_labels = pair
    base = Config(size=None, iters=(1, 0), vgg_weights="random", post=False, init="content")
    ref = transfer(content, style, c_labels, s_labels, config=base, model=model)
    cl = transfer(content, style, c_labels, s_labels, model=model,
                  config=base.replace(channels_last=True))
    assert cl.history[0]["total"] == pytest.approx(ref.history[0]["total"], rel=1e-5)
    torch.testing.assert_close(cl.image, ref.image, atol=1e-3, rtol=0)  # float32 conv order
    assert next(model.parameters()).is_contiguous()  # the caller's model is restored
    full = base.replace(iters=(2, 1), channels_last=True, post=True)
    assert torch.isfinite(transfer(content, style, c_labels, s_labels, model=model,
                                   config=full).image).all()
    bf = transfer(content, style, c_labels, s_labels, model=model,
                  config=base.replace(autocast=True))
    assert bf.image.dtype == content.dtype
    assert bf.history[0]["total"] == pytest.approx(ref.history[0]["total"], rel=0.05)
    comp = transfer(content, style, c_labels, s_labels, model=model,
                    config=base.replace(compile="eager"))
    assert comp.history[0]["total"] == pytest.approx(ref.history[0]["total"], rel=1e-5)


def testcuda_flags_are_restored():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
              torch.backends.cudnn.benchmark)
    with cuda_flags(True):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    after = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.backends.cudnn.benchmark)
    assert after == before


# --- memory ---------------------------------------------------------------------------------

def test_memory_estimate_grows_with_size():
    sizes = [estimate_peak_memory(s * 3 // 4, s, Config()) for s in (128, 256, 512, 1024)]
    assert sizes == sorted(sizes) and sizes[-1] > 3 * sizes[-2] > 9 * sizes[-3] / 2
    paper = memory_phases(384, 512, Config(quality="max"))
    default = memory_phases(384, 512, Config())
    assert paper["optimizer"] > default["optimizer"]  # the L-BFGS history fills at 1000 steps
    assert estimate_peak_memory(384, 512, Config(autocast=True)) < sizes[2]
    # The histogram loss sorts every activation of its layers: counted only when used.
    assert default["histogram"] == 0
    hist = memory_phases(384, 512, Config(style_loss="histogram"))
    assert hist["histogram"] > 384 * 512 * 64 * 4 and hist["peak"] > default["peak"]
    fewer = memory_phases(384, 512, Config(style_loss="both", histogram_layers=("relu5_1",)))
    assert 0 < fewer["histogram"] < hist["histogram"] / 10


def test_too_large_raises_naming_a_size_that_fits(pair, model):
    content, style, c_labels, s_labels = pair
    limit = 200 * 2**20
    config = Config(size=700, iters=(1, 1), vgg_weights="random", memory_limit=limit)
    with pytest.raises(InputError, match=r"--size (\d+)") as caught:
        transfer(content, style, c_labels, s_labels, config=config, model=model)
    side = int(caught.value.args[0].split("--size ")[1].split()[0])
    assert 64 <= side < 700
    assert estimate_peak_memory(*_fit(64, 80, side), config, labels=2) <= limit
    assert side == largest_fitting_size(560, 700, limit, config, labels=2)


def _fit(h, w, side):
    scale = side / max(h, w)
    return round(h * scale), round(w * scale)


def test_fit_memory_works_smaller_and_upsamples(pair, model):
    content, style, c_labels, s_labels = pair
    config = Config(size=400, iters=(1, 1), vgg_weights="random", memory_limit=200 * 2**20,
                    fit_memory=True)
    result = transfer(content, style, c_labels, s_labels, config=config, model=model)
    assert result.image.shape[-2:] == (320, 400)
    assert max(result.levels[-1].height, result.levels[-1].width) < 400
    assert result.stage2.shape[-2:] == (result.levels[-1].height, result.levels[-1].width)
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1


def test_cli_max_memory(tiny_pair, capsys):
    d = tiny_pair
    out = d["dir"] / "out.png"
    code = cli.main([str(a) for a in (d["content"], d["style"], "-o", out, "--vgg-weights",
                                      "random", "--size", "400", "--iters", "1,1",
                                      "--max-memory", "0.19")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "to fit the memory budget" in err
    from PIL import Image

    assert Image.open(out).size == (400, 320)
