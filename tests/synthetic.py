"""Synthetic test data: smooth two-region "photos" and DPST colour masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from segment import color_mask_image

BLUE, GREEN = (0, 0, 255), (0, 255, 0)


def scene(h: int, w: int, sky: tuple[float, float, float], ground: tuple[float, float, float],
          horizon: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth two-region "photo" (sky over ground, with a soft sun and some texture) and its
    label map (0 = sky, 1 = ground). Float (H,W,3) in [0,1] and int (H,W)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    line = horizon + 0.05 * np.sin(6 * xx)
    labels = (yy > line).astype(np.int64)
    sky_img = np.asarray(sky) * (0.75 + 0.25 * (1 - yy))[..., None]
    sun = np.exp(-((xx - 0.7) ** 2 + (yy - 0.2) ** 2) / 0.01)[..., None]
    sky_img = sky_img + 0.3 * sun
    ground_img = np.asarray(ground) * (0.6 + 0.4 * yy)[..., None]
    ground_img = ground_img + 0.05 * rng.standard_normal((h, w, 1))
    img = np.where(labels[..., None] == 1, ground_img, sky_img)
    return np.clip(img, 0, 1), labels


def write_png(path: Path, arr: np.ndarray) -> Path:
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def color_mask(labels: np.ndarray, colors=(BLUE, GREEN)) -> np.ndarray:
    return np.asarray(colors, dtype=np.uint8)[labels]


def to_tensor(arr: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(H,W,3)`` array → ``(1,3,H,W)`` tensor."""
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())[None].to(dtype)


def scene_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Content 64×80 (blue sky over green field) and style 72×64 (dusk), with label maps."""
    content, c_labels = scene(64, 80, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    style, s_labels = scene(72, 64, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)
    return content, style, c_labels, s_labels


def write_pair(folder: Path, content: np.ndarray, style: np.ndarray, c_labels: np.ndarray,
               s_labels: np.ndarray) -> dict[str, Path]:
    """The images and their DPST colour masks as PNGs in ``folder``: a dict of their paths
    (``content``, ``style``, ``content_mask``, ``style_mask``) and ``dir``."""
    return {
        "content": write_png(folder / "content.png", content),
        "style": write_png(folder / "style.png", style),
        "content_mask": write_png(folder / "content_mask.png", color_mask(c_labels)),
        "style_mask": write_png(folder / "style_mask.png", color_mask(s_labels)),
        "dir": folder,
    }


def save_mask(labels: np.ndarray, colors, path: Path) -> Path:
    """Write a label map as a colour-code PNG (:func:`segment.color_mask_image`)."""
    Image.fromarray(color_mask_image(labels, colors)).save(path)
    return path


def write_shoot(folder: Path, count: int = 6, *, corrupt: int | None = None,
                side: int = 64) -> dict[str, Path]:
    """A "shoot" for batch tests: ``count`` small photos ``photos/c0.png`` … (sizes differ a
    little), their masks ``masks/c0.png`` …, a style photo and its mask; photo ``corrupt`` is
    not an image. Returns the paths: ``photos``, ``masks``, ``style``, ``style_mask``,
    ``dir``."""
    photos, masks = folder / "photos", folder / "masks"
    photos.mkdir()
    masks.mkdir()
    for i in range(count):
        h = side * 3 // 4 + 2 * (i % 4)
        img, labels = scene(h, side, (0.5 + 0.05 * (i % 3), 0.65, 0.9), (0.3, 0.5, 0.2),
                            0.4 + 0.03 * (i % 5), seed=10 + i)
        write_png(masks / f"c{i}.png", color_mask(labels))
        if i == corrupt:
            (photos / f"c{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
        else:
            write_png(photos / f"c{i}.png", img)
    style, s_labels = scene(side, side, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)
    return {"photos": photos, "masks": masks, "style": write_png(folder / "style.png", style),
            "style_mask": write_png(folder / "style_mask.png", color_mask(s_labels)),
            "dir": folder}
