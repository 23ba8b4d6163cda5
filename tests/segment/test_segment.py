"""Tests for the ``segment`` package: colour-mask parsing, alignment, I/O and mask pyramids."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from segment import (
    PALETTE,
    AlignedMasks,
    MaskError,
    MaskWarning,
    ParsedMask,
    align_masks,
    color_mask_image,
    color_name,
    load_color_mask,
    mask_pyramid,
    mask_tensors,
    onehot_masks,
    parse_color_mask,
    resize_labels,
)

from ..conftest import SHARED
from ..synthetic import save_mask

DPST = SHARED / "dpst"
DPST_IDS = (1, 3, 7, 8, 11, 14, 25, 30)

BLUE, GREEN, BLACK, WHITE = PALETTE["blue"], PALETTE["green"], PALETTE["black"], PALETTE["white"]
RED, YELLOW, GREY = PALETTE["red"], PALETTE["yellow"], PALETTE["grey"]


# --------------------------------------------------------------------------- helpers


def _shapes(height: int = 120, width: int = 160) -> np.ndarray:
    """A three-region label map: background 0, a disc 1 and a rectangle 2."""
    yy, xx = np.mgrid[:height, :width]
    labels = np.zeros((height, width), dtype=np.int32)
    labels[(yy - 0.42 * height) ** 2 + (xx - 0.34 * width) ** 2 < (0.29 * height) ** 2] = 1
    labels[round(0.58 * height):round(0.92 * height), round(0.56 * width):round(0.94 * width)] = 2
    return labels


def _antialiased(labels: np.ndarray, colors: list[tuple[int, int, int]],
                 sigma: float = 1.0) -> np.ndarray:
    """Paint ``labels`` in ``colors``, blur the edges with a Gaussian and quantise to uint8."""
    rgb = np.asarray(colors, dtype=np.float64)[labels]
    blurred = ndimage.gaussian_filter(rgb, sigma=(sigma, sigma, 0), mode="nearest")
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def _agreement(parsed: ParsedMask, truth: np.ndarray,
               colors: list[tuple[int, int, int]]) -> float:
    """Fraction of pixels whose parsed colour is the true colour."""
    got = np.asarray(parsed.colors)[parsed.labels]
    want = np.asarray(colors)[truth]
    return float((got == want).all(axis=-1).mean())


def _parsed(labels: np.ndarray, colors: list[tuple[int, int, int]]) -> ParsedMask:
    return ParsedMask.from_labels(labels, tuple(colors))


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("colors", [
    [BLUE, GREEN, RED],          # blue/green blends are close to dark cyan
    [BLACK, WHITE, GREEN],       # black/white blends are grey
    [BLACK, WHITE, GREY],        # ... and grey is a real label too
    [YELLOW, BLUE, PALETTE["purple"]],
])
@pytest.mark.parametrize("sigma", [0.7, 1.5, 3.0])
def test_antialiased_masks_parse_to_the_drawn_labels(colors, sigma):
    truth = _shapes()
    mask = _antialiased(truth, colors, sigma)
    assert (np.abs(mask.astype(int) - np.asarray(colors)[truth]).max(-1) > 0).mean() > 0.02
    parsed = parse_color_mask(mask)
    assert set(parsed.colors) == set(colors)
    assert _agreement(parsed, truth, colors) >= 0.99
    assert parsed.labels.dtype == np.int32 and parsed.labels.shape == truth.shape
    assert sum(parsed.counts) == truth.size
    assert parsed.counts == tuple(int((parsed.labels == k).sum()) for k in range(len(colors)))


def test_two_colour_mask_has_no_spurious_labels():
    truth = (np.add.outer(np.arange(90), np.arange(130)) % 40 < 20).astype(np.int32)  # stripes
    mask = _antialiased(truth, [BLACK, WHITE], sigma=1.0)
    parsed = parse_color_mask(mask)
    assert parsed.names == ("black", "white")
    assert _agreement(parsed, truth, [BLACK, WHITE]) >= 0.99


def test_labels_follow_palette_order_and_names():
    mask = _antialiased(_shapes(), [RED, BLUE, GREEN])
    parsed = parse_color_mask(mask)
    assert parsed.colors == (BLUE, GREEN, RED)
    assert parsed.names == ("blue", "green", "red")
    assert parsed.num_labels == 3 and parsed.shape == (120, 160)


def test_greyscale_mask_parses_to_black_grey_white():
    truth = _shapes()
    grey = np.array([0, 128, 255], dtype=np.float64)[truth]
    mask = np.clip(np.rint(ndimage.gaussian_filter(grey, 1.0)), 0, 255).astype(np.uint8)
    assert mask.ndim == 2
    parsed = parse_color_mask(mask)
    assert parsed.names == ("black", "white", "grey")
    assert _agreement(parsed, truth, [BLACK, GREY, WHITE]) >= 0.99


def test_non_palette_colours_become_labels():
    orange, teal = (255, 128, 0), (20, 120, 140)
    truth = _shapes()
    mask = _antialiased(truth, [orange, teal, BLUE])
    parsed = parse_color_mask(mask)
    assert set(parsed.colors) == {orange, teal, BLUE}
    assert parsed.colors[0] == BLUE  # palette colours first, then others by RGB
    assert parsed.names[1:] == ("#14788c", "#ff8000")
    assert _agreement(parsed, truth, [orange, teal, BLUE]) >= 0.99


def test_slightly_off_palette_colours_count_as_palette():
    truth = _shapes()
    mask = np.asarray([(250, 4, 3), (2, 251, 6), (9, 0, 240)], dtype=np.uint8)[truth]
    parsed = parse_color_mask(mask)
    assert parsed.colors == (BLUE, GREEN, RED)


def test_noise_mask_raises():
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    with pytest.raises(MaskError, match="no colour"):
        parse_color_mask(noise)


def test_mask_of_one_pixel_detail_raises():
    checker = (np.indices((40, 40)).sum(0) % 2 * 255).astype(np.uint8)
    with pytest.raises(MaskError):
        parse_color_mask(checker)


def test_small_regions_under_threshold_are_absorbed():
    labels = np.zeros((200, 200), dtype=np.int32)
    labels[100:110, 100:110] = 1  # core of 8x8 = 64 px >= 2e-4 of the mask: a label
    labels[10:12, 10:40] = 2      # 2 px wide line: anti-aliasing, not a label
    mask = np.asarray([WHITE, RED, BLUE], dtype=np.uint8)[labels]
    parsed = parse_color_mask(mask)
    assert parsed.colors == (WHITE, RED)
    assert parse_color_mask(mask, min_fraction=2e-3).colors == (WHITE,)


def test_parse_does_not_modify_input_and_returns_read_only_labels():
    mask = _antialiased(_shapes(), [BLUE, GREEN, RED])
    before = mask.copy()
    parsed = parse_color_mask(mask)
    assert np.array_equal(mask, before)
    assert not parsed.labels.flags.writeable


def test_parse_is_idempotent_on_its_output():
    colors = [BLACK, WHITE, GREY]
    parsed = parse_color_mask(_antialiased(_shapes(), colors, sigma=1.5))
    again = parse_color_mask(np.asarray(parsed.colors, dtype=np.uint8)[parsed.labels])
    assert again.colors == parsed.colors
    assert np.array_equal(again.labels, parsed.labels)


def test_parse_rejects_bad_arrays():
    with pytest.raises(TypeError):
        parse_color_mask(np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        parse_color_mask(np.zeros((8, 8, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        parse_color_mask(np.zeros((8, 8, 3), dtype=np.uint8), tolerance=80)


def test_color_name():
    assert color_name((128, 128, 128)) == "grey"
    assert color_name((1, 2, 255)) == "#0102ff"


# --------------------------------------------------------------------------- alignment


def test_align_shared_labels_without_warnings():
    content = _parsed(_shapes(), [GREEN, BLUE, RED])
    style = _parsed(_shapes(60, 90), [RED, GREEN, BLUE])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aligned = align_masks(content, style)
    assert isinstance(aligned, AlignedMasks)
    assert aligned.colors == (BLUE, GREEN, RED)
    assert aligned.names == ("blue", "green", "red")
    assert aligned.content_only == () and aligned.style_only == ()
    assert aligned.num_channels == 3
    # colours are preserved pixel by pixel
    assert np.array_equal(np.asarray(aligned.colors)[aligned.content_labels],
                          np.asarray(content.colors)[content.labels])
    assert np.array_equal(np.asarray(aligned.colors)[aligned.style_labels],
                          np.asarray(style.colors)[style.labels])


def test_align_one_sided_labels_warn_and_are_handled():
    content = _parsed(_shapes(), [BLUE, GREEN, RED])      # red only in the content
    style = _parsed(_shapes(50, 70), [BLUE, GREEN, YELLOW])  # yellow only in the style
    with pytest.warns(MaskWarning) as record:
        aligned = align_masks(content, style)
    messages = [str(w.message) for w in record]
    assert any("red" in m and "whole style image" in m for m in messages)
    assert any("yellow" in m and "ignored" in m for m in messages)
    assert aligned.colors == (BLUE, GREEN, RED, YELLOW)
    assert aligned.content_only == (2,) and aligned.style_only == (3,)
    assert aligned.num_channels == 3

    content_t, style_t = mask_tensors(aligned)
    assert content_t.shape == (3, 120, 160) and style_t.shape == (3, 50, 70)
    assert torch.all(content_t.sum(0) == 1)
    assert torch.all(style_t[2] == 1)  # content-only label: whole style image
    yellow = torch.from_numpy(aligned.style_labels == 3)
    assert yellow.any()
    assert torch.all(style_t[:2, yellow] == 0)  # style-only label: dropped
    assert torch.all(style_t[:2].sum(0)[~yellow] == 1)


def test_mask_tensors_resize_device_dtype():
    content = _parsed(_shapes(), [BLUE, GREEN, RED])
    aligned = align_masks(content, content)
    c, s = mask_tensors(aligned, (30, 40), (61, 81), dtype=torch.float64)
    assert c.shape == (3, 30, 40) and s.shape == (3, 61, 81)
    assert c.dtype == torch.float64 and s.dtype == torch.float64
    assert torch.all(c.sum(0) == 1) and torch.all(s.sum(0) == 1)


# --------------------------------------------------------------------------- one-hot


def test_onehot_sums_to_one_and_resizes():
    labels = np.random.default_rng(1).integers(0, 5, size=(33, 47))
    masks = onehot_masks(labels, 5)
    assert masks.shape == (5, 33, 47) and masks.dtype == torch.float32
    assert torch.all(masks.sum(0) == 1)
    assert torch.equal(masks.argmax(0), torch.from_numpy(labels))
    small = onehot_masks(labels, 7, (10, 13))
    assert small.shape == (7, 10, 13)
    assert torch.all(small.sum(0) == 1)
    assert torch.all(small[5:] == 0)


def test_onehot_negative_labels_are_unlabelled_and_range_is_checked():
    labels = np.array([[0, -1], [1, 1]])
    masks = onehot_masks(labels, 2)
    assert masks[:, 0, 1].sum() == 0
    with pytest.raises(ValueError):
        onehot_masks(labels, 1)


def test_resize_labels_matches_pil_nearest():
    labels = np.random.default_rng(2).integers(0, 200, size=(37, 53)).astype(np.uint8)
    for size in [(18, 26), (74, 106), (38, 52), (5, 90)]:
        ours = resize_labels(labels, size)
        pil = np.asarray(Image.fromarray(labels).resize(size[::-1], Image.Resampling.NEAREST))
        assert np.array_equal(ours, pil), size


# --------------------------------------------------------------------------- I/O


def _write(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    img = Image.fromarray(array)
    if mode is not None:
        img = img.convert(mode)
    img.save(path)
    return path


def test_save_load_round_trip_is_exact(tmp_path):
    colors = [BLACK, WHITE, (255, 128, 0)]
    parsed = parse_color_mask(_antialiased(_shapes(), colors, sigma=1.2))
    out = save_mask(parsed.labels, parsed.colors, tmp_path / "mask.png")
    loaded = load_color_mask(out, parsed.shape)
    assert loaded.colors == parsed.colors
    assert np.array_equal(loaded.labels, parsed.labels)


def test_color_mask_image_paints_exact_colours_and_checks_labels():
    labels = np.array([[0, 1], [1, 0]], dtype=np.int32)
    image = color_mask_image(labels, (RED, BLUE))
    assert image.dtype == np.uint8 and image.shape == (2, 2, 3)
    assert tuple(image[0, 0]) == RED and tuple(image[0, 1]) == BLUE
    with pytest.raises(ValueError, match="labels"):
        color_mask_image(labels, (RED,))
    with pytest.raises(ValueError, match="0..255"):
        color_mask_image(labels, (RED, (0, 0, 256)))


def test_load_resizes_small_size_mismatch_with_warning(tmp_path):
    colors = [BLUE, GREEN, RED]
    mask = _antialiased(_shapes(119, 160), colors)  # one row short, like DPST's in7
    path = _write(tmp_path / "short.png", mask)
    with pytest.warns(MaskWarning, match="resized"):
        parsed = load_color_mask(path, (120, 160))
    assert parsed.shape == (120, 160)
    assert set(parsed.colors) == set(colors)


def test_load_resizes_same_aspect_ratio_with_warning(tmp_path):
    path = _write(tmp_path / "half.png", _antialiased(_shapes(60, 80), [BLUE, GREEN, RED]))
    with pytest.warns(MaskWarning):
        parsed = load_color_mask(path, (120, 160))
    assert parsed.shape == (120, 160)


def test_load_rejects_large_size_mismatch(tmp_path):
    path = _write(tmp_path / "wrong.png", _antialiased(_shapes(100, 160), [BLUE, GREEN, RED]))
    with pytest.raises(MaskError) as info:
        load_color_mask(path, (120, 160))
    message = str(info.value)
    assert "wrong.png" in message and "160x100" in message and "160x120" in message
    assert "draw the mask at the image's size" in message and "\n" not in message


def test_load_missing_and_non_image_files(tmp_path):
    with pytest.raises(MaskError, match="nope.png.*does not exist"):
        load_color_mask(tmp_path / "nope.png", (10, 10))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(MaskError, match="notes.png"):
        load_color_mask(text, (10, 10))
    with pytest.raises(MaskError, match="folder"):
        load_color_mask(tmp_path, (10, 10))


def test_load_parse_failure_names_the_file(tmp_path):
    noise = np.random.default_rng(3).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    path = _write(tmp_path / "noise.png", noise)
    with pytest.raises(MaskError, match="noise.png"):
        load_color_mask(path, (40, 40))


@pytest.mark.parametrize("mode", ["RGBA", "P", "CMYK", "L"])
def test_load_pixel_formats(tmp_path, mode):
    truth = _shapes()
    colors = [BLACK, WHITE, GREY] if mode == "L" else [BLUE, GREEN, RED]
    mask = np.asarray(colors, dtype=np.uint8)[truth]
    suffix = ".tif" if mode == "CMYK" else ".png"
    path = _write(tmp_path / f"mask{suffix}", mask, mode)
    with Image.open(path) as img:
        assert img.mode == mode
    parsed = load_color_mask(path, truth.shape)
    assert set(parsed.colors) == set(colors)
    assert _agreement(parsed, truth, colors) == 1.0


def test_load_sixteen_bit_greyscale(tmp_path):
    truth = _shapes()
    values = np.array([0, 32896, 65535], dtype=np.uint16)[truth]  # 128 * 257 = 32896
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    parsed = load_color_mask(path, truth.shape)
    assert parsed.names == ("black", "white", "grey")
    assert _agreement(parsed, truth, [BLACK, GREY, WHITE]) == 1.0


# --------------------------------------------------------------------------- pyramid

VGG_OPS = (["conv", "relu", "conv", "relu", "pool"] * 2
           + (["conv", "relu"] * 4 + ["pool"]) * 3)


def _vgg_like_sizes(height: int, width: int) -> list[tuple[int, int]]:
    x = torch.zeros(1, 1, height, width)
    sizes = []
    for op in VGG_OPS:
        if op == "conv":
            x = torch.nn.functional.conv2d(x, torch.zeros(1, 1, 3, 3), padding=1)
        elif op == "pool":
            x = torch.nn.MaxPool2d(2, 2)(x)
        sizes.append(tuple(x.shape[-2:]))
    return sizes


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (45, 33)])
def test_pyramid_matches_maxpool_sizes_and_keeps_ones(size):
    ones = torch.ones(2, *size)
    levels = mask_pyramid(ones, VGG_OPS)
    assert [tuple(level.shape[-2:]) for level in levels] == _vgg_like_sizes(*size)
    assert all(level.shape[0] == 2 for level in levels)
    for level in levels:
        assert torch.allclose(level, torch.ones_like(level))
    assert torch.equal(ones, torch.ones(2, *size))


def test_pyramid_does_not_modify_input_and_keeps_partition():
    labels = _shapes(45, 61)
    masks = onehot_masks(labels, 3)
    before = masks.clone()
    levels = mask_pyramid(masks, ["conv", "relu", "pool", "conv", "pool"])
    assert torch.equal(masks, before)
    assert levels[1] is levels[0]
    for level in levels:
        assert torch.allclose(level.sum(0), torch.ones(level.shape[1:]), atol=1e-6)
        assert level.min() >= 0 and level.max() <= 1
    assert levels[2].shape == (3, 22, 30)


def test_pyramid_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown layer kind"):
        mask_pyramid(torch.ones(1, 8, 8), ["conv", "norm"])
    with pytest.raises(ValueError):
        mask_pyramid(torch.ones(8, 8), ["conv"])
    with pytest.raises(TypeError):
        mask_pyramid(torch.ones(1, 8, 8, dtype=torch.int64), ["conv"])


# --------------------------------------------------------------------------- DPST examples

needs_dpst = pytest.mark.skipif(not (DPST / "segmentation").is_dir(),
                                reason=f"DPST example masks not found at {DPST}")

#: Labels found in the DPST example masks (content, style) with the default thresholds.
DPST_LABELS = {
    1: ({"green", "black", "white"}, {"green", "black", "white"}),
    3: ({"black", "white"}, {"green", "black", "white"}),
    7: ({"black", "white"}, {"black", "white"}),
    8: ({"black", "white"}, {"black", "white"}),
    11: ({"blue", "green", "black", "white", "red", "yellow"},) * 2,
    14: ({"black", "white"}, {"black", "white"}),
    25: ({"blue", "green", "black", "white", "red", "yellow", "grey", "lightblue", "purple"},) * 2,
    30: ({"blue", "green", "white", "red", "yellow"}, {"blue", "green", "black", "red", "yellow"}),
}


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        return img.height, img.width


@needs_dpst
@pytest.mark.parametrize("n", DPST_IDS)
def test_dpst_masks_parse_and_overlap(n):
    parsed = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaskWarning)  # in7 is resized, see below
        for side, folder in (("in", "input"), ("tar", "style")):
            size = _image_size(DPST / folder / f"{side}{n}.png")
            parsed[side] = load_color_mask(DPST / "segmentation" / f"{side}{n}.png", size)
            assert parsed[side].shape == size
    content_names, style_names = set(parsed["in"].names), set(parsed["tar"].names)
    assert (content_names, style_names) == DPST_LABELS[n]
    assert content_names & style_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaskWarning)
        aligned = align_masks(parsed["in"], parsed["tar"])
    content_t, style_t = mask_tensors(aligned, (64, 64), (64, 64))
    assert torch.all(content_t.sum(0) == 1)
    assert torch.all(style_t.flatten(1).sum(1) > 0)


@needs_dpst
def test_dpst_in7_is_one_row_short_and_loads_with_warning():
    size = _image_size(DPST / "input" / "in7.png")
    assert _image_size(DPST / "segmentation" / "in7.png") == (size[0] - 1, size[1])
    with pytest.warns(MaskWarning, match="in7.png"):
        parsed = load_color_mask(DPST / "segmentation" / "in7.png", size)
    assert parsed.shape == size


@needs_dpst
def test_dpst_in8_greyscale_loads():
    path = DPST / "segmentation" / "in8.png"
    with Image.open(path) as img:
        assert img.mode == "L"
    parsed = load_color_mask(path, _image_size(DPST / "input" / "in8.png"))
    assert parsed.names == ("black", "white")


@needs_dpst
def test_dpst_one_sided_labels_warn():
    content = load_color_mask(DPST / "segmentation" / "in30.png",
                              _image_size(DPST / "input" / "in30.png"))
    style = load_color_mask(DPST / "segmentation" / "tar30.png",
                            _image_size(DPST / "style" / "tar30.png"))
    with pytest.warns(MaskWarning) as record:
        aligned = align_masks(content, style)
    assert len(record) == 2
    assert [aligned.names[i] for i in aligned.content_only] == ["white"]
    assert [aligned.names[i] for i in aligned.style_only] == ["black"]


@needs_dpst
def test_dpst_round_trip_is_exact(tmp_path):
    path = DPST / "segmentation" / "tar25.png"
    size = _image_size(path)
    parsed = load_color_mask(path, size)
    copy = save_mask(parsed.labels, parsed.colors, tmp_path / "tar25.png")
    again = load_color_mask(copy, size)
    assert again.colors == parsed.colors
    assert np.array_equal(again.labels, parsed.labels)
