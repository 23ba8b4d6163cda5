"""Shared fixtures: small synthetic photo pairs with DPST colour masks, written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .synthetic import color_mask, scene, write_png

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def tiny_pair(tmp_path: Path) -> dict[str, Path]:
    """Content 64×80 and style 72×64 PNGs with colour masks, in tmp_path."""
    content, c_labels = scene(64, 80, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    style, s_labels = scene(72, 64, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)
    return {
        "content": write_png(tmp_path / "content.png", content),
        "style": write_png(tmp_path / "style.png", style),
        "content_mask": write_png(tmp_path / "content_mask.png", color_mask(c_labels)),
        "style_mask": write_png(tmp_path / "style_mask.png", color_mask(s_labels)),
        "dir": tmp_path,
    }
