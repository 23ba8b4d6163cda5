"""The editor's masks: the label payload, the canonical form the command line reads unchanged,
masks brought to the photo's size, and the legend."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from photostyle.errors import InputError
from photostyle.io.images import save_image
from photostyle.ui.masks import (
    at_size,
    canonical_mask,
    decode_labels,
    encode_labels,
    legend,
    mask_size,
    one_region,
)
from segment import MaskError, ParsedMask, align_masks, color_mask_image, load_color_mask

BLUE, GREEN, RED, GREY = (0, 0, 255), (0, 255, 0), (255, 0, 0), (128, 128, 128)


def painted(h: int = 60, w: int = 90) -> tuple[np.ndarray, tuple]:
    """Sky (blue) over ground (green), a red disc and a 1-px red line (too thin to be a
    region), as the page paints them: label bytes into a colour table."""
    labels = np.zeros((h, w), np.uint8)
    labels[h // 2:] = 1
    yy, xx = np.mgrid[0:h, 0:w]
    labels[(yy - 20) ** 2 + (xx - 60) ** 2 <= 49] = 2
    labels[45, 5:80] = 2
    return labels, (BLUE, GREEN, RED)


def payload(labels: np.ndarray, colors) -> dict:
    h, w = labels.shape
    return {"width": w, "height": h, "colors": [list(c) for c in colors],
            "labels": base64.b64encode(labels.astype(np.uint8).tobytes()).decode()}


def test_payload_round_trip():
    labels, colors = painted()
    mask = ParsedMask.from_labels(labels, colors)
    back, back_colors = decode_labels(encode_labels(mask), labels.shape, "mask")
    assert back_colors == mask.colors
    np.testing.assert_array_equal(back, mask.labels)


@pytest.mark.parametrize("change, message", [
    ({"width": 91}, "91x60"),
    ({"colors": [[0, 0, 255]]}, "a label has no colour"),
    ({"colors": [[0, 0, 255], [0, 0, 255], [1, 2, 3]]}, "distinct"),
    ({"colors": [[0, 0, 256], [0, 255, 0], [255, 0, 0]]}, "0..255"),
    ({"labels": "not base64!"}, "malformed"),
    ({"labels": base64.b64encode(b"\0" * 10).decode()}, "10 label bytes"),
])
def test_bad_payloads_are_refused(change, message):
    labels, colors = painted()
    with pytest.raises(InputError, match=message):
        decode_labels({**payload(labels, colors), **change}, labels.shape, "content mask")


def test_canonical_mask_is_what_the_command_line_reads(tmp_path):
    labels, colors = painted()
    mask = canonical_mask(labels, colors, "content mask")
    # The 1-px line is anti-aliasing to the parser: it is gone, the disc stays.
    assert mask.labels[45, 30] == mask.colors.index(GREEN)
    assert mask.labels[20, 60] == mask.colors.index(RED)
    # Written as the editor writes it, the CLI's reader gives back the very same mask.
    path = save_image(color_mask_image(mask.labels, mask.colors), tmp_path / "m.png")
    loaded = load_color_mask(path, labels.shape)
    assert loaded.colors == mask.colors
    np.testing.assert_array_equal(loaded.labels, mask.labels)
    # And canonical is idempotent.
    again = canonical_mask(mask.labels, mask.colors, "content mask")
    np.testing.assert_array_equal(again.labels, mask.labels)


def test_a_mask_with_nothing_solid_names_the_mask():
    labels = np.indices((40, 40)).sum(axis=0) % 2  # a checkerboard: no 3x3 core anywhere
    with pytest.raises(MaskError, match="style mask"):
        canonical_mask(labels.astype(np.uint8), (BLUE, GREEN), "style mask")


@pytest.mark.parametrize("size", [(137, 203), (60, 90), (30, 45)])
def test_masks_brought_to_the_photo_size_load_back_unchanged(tmp_path, size):
    labels, colors = painted()
    mask = canonical_mask(labels, colors, "content mask")
    full = at_size(mask, size, "content mask")
    assert full.shape == size
    path = save_image(color_mask_image(full.labels, full.colors), tmp_path / "full.png")
    loaded = load_color_mask(path, size)
    assert loaded.colors == full.colors
    np.testing.assert_array_equal(loaded.labels, full.labels)


def test_mask_size_keeps_small_photos_and_scales_large_ones():
    assert mask_size(342, 512, 1024) == (342, 512)
    assert mask_size(3000, 4000, 1024) == (768, 1024)


def test_legend_flags_one_sided_labels():
    c = ParsedMask.from_labels(np.array([[0] * 8 + [1] * 8] * 16), (BLUE, RED))
    s = ParsedMask.from_labels(np.array([[0] * 8 + [1] * 8] * 16), (BLUE, GREEN))
    with pytest.warns(UserWarning):
        rows = {row["name"]: row for row in legend(align_masks(c, s))}
    assert rows["blue"]["where"] == "both" and rows["blue"]["content"] == 0.5
    assert rows["red"]["where"] == "content" and rows["red"]["style"] == 0
    assert rows["green"]["where"] == "style"
    grey = ParsedMask.from_labels(np.zeros((4, 4), int), (GREY,))
    assert one_region(grey, grey) and not one_region(c, s)
