"""The weight-free method's memory estimate and refusal (numpy only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from photostyle.classic.memory import (
    check_preview_memory,
    estimate_preview_memory,
    host_available_memory,
    read_memory,
)
from photostyle.errors import InputError
from photostyle.io.images import ImageInfo


def _info(w, h, fmt="PNG", deep=False):
    return ImageInfo(Path(f"photo.{fmt.lower()}"), w, h, fmt, "RGB", 1, deep)


def test_estimate_grows_with_size_labels_and_the_decode():
    photo, style = _info(12000, 9000), _info(1000, 750)
    at = [estimate_preview_memory(photo, style, side) for side in (512, 2048, 8192)]
    assert at[0] < at[1] < at[2]
    assert estimate_preview_memory(photo, style, 2048, labels=8) > at[1]
    # At 512 the decode dominates: PNG is decoded whole, JPEG at 1/8 of each side.
    assert estimate_preview_memory(_info(12000, 9000, "JPEG"), style, 512) < at[0] / 3
    assert 0.4e9 < at[0] < 1.0e9
    full, held = read_memory(_info(12000, 9000, deep=True), 512)
    assert full > read_memory(photo, 512)[0] and held < 50e6


def test_refusal_names_a_size_that_fits():
    photo, style = _info(12000, 9000), _info(1000, 750)
    budget = 3 * 2**30
    with pytest.raises(InputError, match=r"a 12000x9000 preview of photo.png needs about .* "
                                         r"GiB but the memory limit .* is 3.0 GiB; use --size "
                                         r"(\d+) or less") as caught:
        check_preview_memory(photo, style, 12000, budget=budget)
    side = int(caught.value.args[0].rsplit("--size ", 1)[1].split()[0])
    assert estimate_preview_memory(photo, style, side) <= budget
    assert estimate_preview_memory(photo, style, side + 8) > budget
    check_preview_memory(photo, style, side, budget=budget)


def test_host_memory_is_known_here():
    available = host_available_memory()
    assert available is None or available > 0
