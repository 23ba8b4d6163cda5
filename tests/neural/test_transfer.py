"""The two-stage optimization through the Python API (random VGG weights, tiny images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photostyle import Config, TransferInterrupted, VGG19Features, transfer
from photostyle.errors import InputError
from photostyle.evaluation.metrics import photorealism
from photostyle.io.tensors import to_array

FAST = Config(size=None, iters=(12, 12), vgg_weights="random")


def test_callback_sees_every_step_of_both_stages(pair, model):
    content, style, c_labels, s_labels = pair
    seen = []
    result = transfer(content, style, c_labels, s_labels, config=FAST,
                      callback=lambda info: seen.append((info.stage, info.step, info.steps,
                                                         sorted(info.losses))), model=model)
    assert [s[:2] for s in seen] == [(1, i) for i in range(1, 13)] + [(2, i) for i in range(1, 13)]
    assert seen[0][3] == ["content", "style", "tv"]
    assert seen[-1][3] == ["content", "matting", "style", "tv"]
    assert result.image.shape == content.shape
    assert result.stage1.shape == result.stage2.shape == content.shape
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1
    assert len(result.history) == 24 and "laplacian" in result.timings


def test_stage1_lowers_the_loss(pair, model):
    content, style, c_labels, s_labels = pair
    result = transfer(content, style, c_labels, s_labels,
                      config=FAST.replace(iters=(20, 0), post=False), model=model)
    totals = [row["total"] for row in result.history]
    assert totals[-1] < 0.5 * totals[0]
    assert result.stage2 is None


def test_stage2_and_post_are_more_photorealistic_than_stage1(pair, model):
    content, style, c_labels, s_labels = pair
    result = transfer(content, style, c_labels, s_labels,
                      config=FAST.replace(iters=(30, 30)), model=model)
    r1, r2, rf = (photorealism(to_array(image), to_array(content))
                  for image in (result.stage1, result.stage2, result.image))
    assert r2 < r1
    assert rf < r1 / 5


def test_dtype_and_device_follow_content(pair):
    content, style, c_labels, s_labels = pair
    model64 = VGG19Features("random").to(torch.float64)
    result = transfer(content.double(), style, c_labels, s_labels,
                      config=FAST.replace(iters=(2, 2)), model=model64)
    assert result.image.dtype == torch.float64 and result.image.device == content.device


def test_inputs_are_not_modified(pair, model):
    content, style, c_labels, s_labels = pair
    before = (content.clone(), style.clone(), c_labels.copy())
    transfer(content, style, c_labels, s_labels, config=FAST.replace(iters=(3, 3)), model=model)
    assert torch.equal(content, before[0]) and torch.equal(style, before[1])
    assert np.array_equal(c_labels, before[2])


def test_resizes_to_size(pair, model):
    content, style, c_labels, s_labels = pair
    result = transfer(content, style, c_labels, s_labels,
                      config=FAST.replace(size=100, iters=(1, 0), post=False), model=model)
    assert result.image.shape[-2:] == (80, 100)


def test_same_result_with_full_masks_as_without(pair, model):
    content, style, _, _ = pair
    cfg = FAST.replace(iters=(5, 0), post=False)
    ones_c = np.zeros(content.shape[-2:], np.int64)
    ones_s = np.zeros(style.shape[-2:], np.int64)
    a = transfer(content, style, ones_c, ones_s, config=cfg, model=model).image
    b = transfer(content, style, config=cfg, model=model).image
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_content_label_missing_from_style_uses_whole_style(pair, model):
    content, style, c_labels, s_labels = pair
    only_sky = np.zeros_like(s_labels)  # the style has no label 1 (ground)
    result = transfer(content, style, c_labels, only_sky,
                      config=FAST.replace(iters=(3, 0), post=False), model=model)
    assert torch.isfinite(result.image).all()


def test_interrupt_returns_best_image_so_far(pair, model):
    content, style, c_labels, s_labels = pair

    def stop(info):
        if info.stage == 2 and info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(TransferInterrupted) as caught:
        transfer(content, style, c_labels, s_labels, config=FAST, callback=stop, model=model)
    assert caught.value.stage == 2 and caught.value.step == 3
    assert caught.value.image.shape == content.shape


def test_bad_api_input(pair, model):
    content, style, c_labels, _ = pair
    with pytest.raises(InputError, match="both"):
        transfer(content, style, c_labels, None, config=FAST, model=model)
    with pytest.raises(InputError, match="shape"):
        transfer(content[:, :2], style, config=FAST, model=model)
    with pytest.raises(InputError, match="integer label map"):
        transfer(content, style, c_labels.astype(float), c_labels.astype(float), config=FAST,
                 model=model)
