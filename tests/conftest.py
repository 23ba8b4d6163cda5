"""Shared fixtures: small synthetic photo pairs with DPST colour masks, written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from photostyle import VGG19Features

from .synthetic import scene_pair, to_tensor, write_pair

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def tiny_pair(tmp_path: Path) -> dict[str, Path]:
    """Content 64×80 and style 72×64 PNGs with colour masks, in tmp_path."""
    return write_pair(tmp_path, *scene_pair())


@pytest.fixture(scope="module")
def model() -> VGG19Features:
    """Untrained VGG-19 (seed 0), shared by the tests of a module."""
    return VGG19Features("random", seed=0)


@pytest.fixture(scope="module")
def pair():
    """:func:`scene_pair` as tensors: content, style, content labels, style labels."""
    content, style, c_labels, s_labels = scene_pair()
    return to_tensor(content), to_tensor(style), c_labels, s_labels
