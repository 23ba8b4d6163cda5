"""The DPST example pairs in ../shared/dpst, for the benchmark scripts (not a test fixture)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from photostyle.io.files import atomic_write_text
from photostyle.io.tensors import load_image
from segment import align_masks, load_color_mask

DPST = Path(__file__).resolve().parents[1].parent / "shared" / "dpst"


def pair_numbers(root: Path) -> list[int]:
    """The pair numbers N of ``root/input/inN.png``, ascending."""
    return sorted(int(p.stem[2:]) for p in (root / "input").glob("in*.png"))


def load_pair(root: Path, n: int, device: torch.device | str | None = None,
              ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Content, style (``(1,3,H,W)`` in [0, 1]) and their aligned label maps of pair ``n``."""
    content = load_image(root / "input" / f"in{n}.png", device=device)
    style = load_image(root / "style" / f"tar{n}.png", device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # known quirks (in7 one row short, one-sided labels)
        aligned = align_masks(
            load_color_mask(root / "segmentation" / f"in{n}.png", tuple(content.shape[-2:])),
            load_color_mask(root / "segmentation" / f"tar{n}.png", tuple(style.shape[-2:])))
    return content, style, aligned.content_labels, aligned.style_labels


def write_json(path: Path, data: object, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    return atomic_write_text(path, json.dumps(data, indent=indent))
