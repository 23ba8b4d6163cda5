"""A contact sheet of one transfer: the inputs, the masks, the results and their metrics.

One row of tiles, all scaled to the same height — content | style | content mask | style mask |
stage 1 | final | loss curves (the masks, stage 1 and the curves only when given) — each
captioned, then the metrics of the final image (and of stage 1) as lines of text, and a legend
of what the numbers mean. Masks are drawn as colour overlays: each label's colour blended over
its photograph. Drawn with PIL only, in PIL's built-in font.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from segment import PALETTE, color_name, resize_labels

from ..errors import InputError, require_both
from ..io.files import check_output_path
from ..io.images import save_image, to_uint8
from .metrics import METRICS, format_metric

__all__ = ["format_metrics", "loss_plot", "make_contact_sheet", "make_image_row",
           "mask_overlay", "save_contact_sheet"]

RGB = tuple[int, int, int]

#: Blend of a label's colour over its photograph in the mask tiles.
OVERLAY_ALPHA = 0.55

_BACKGROUND = (255, 255, 255)
_TEXT = (20, 20, 20)
_MUTED = (90, 90, 90)
_GAP = 8
_MARGIN = 12

#: Colours of the loss terms in :func:`loss_plot` (other terms get grey).
TERM_COLORS: dict[str, RGB] = {
    "total": (20, 20, 20), "content": (31, 119, 180), "style": (214, 39, 40),
    "histogram": (148, 103, 189), "tv": (44, 160, 44), "matting": (255, 127, 14),
}
#: Keys of a history row that are not loss terms.
_NOT_TERMS = ("level", "stage", "step", "elapsed")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's default font at ``size`` px (the old fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def _as_uint8(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{name} must be an (H,W,3) image, got shape {arr.shape}")
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name} must be uint8 or float in [0, 1], got {arr.dtype}")
    return to_uint8(arr)


def mask_overlay(image: np.ndarray, labels: np.ndarray,
                 colors: Sequence[RGB] | None = None, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Each label's colour blended over an image: ``(1 - alpha) image + alpha colour`` (the
    contact sheet's mask tiles, and ``--save-masks``' overlays).

    Parameters
    ----------
    image : np.ndarray
        ``(H,W,3)`` uint8, or float in [0, 1]; not modified.
    labels : np.ndarray
        ``(h,w)`` integer label map, resized (nearest neighbour) to ``(H, W)`` if needed.
    colors : sequence of (int, int, int), optional
        RGB of each label (e.g. ``AlignedMasks.colors``); default: the DPST palette in order.
    alpha : float
        Weight of the label colour, in [0, 1].

    Returns
    -------
    np.ndarray
        ``(H,W,3)`` uint8.
    """
    img = _as_uint8(image, "image").astype(np.float64)
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be an (H,W) integer map, got {labels.dtype} "
                         f"{labels.shape}")
    if labels.shape != img.shape[:2]:
        labels = resize_labels(labels, img.shape[:2])
    table = list(colors) if colors is not None else list(PALETTE.values())
    top = int(labels.max(initial=0))
    while len(table) <= top:  # more labels than colours: repeat the palette
        table.append(tuple(PALETTE.values())[len(table) % len(PALETTE)])
    paint = np.asarray(table, dtype=np.float64)[np.clip(labels, 0, None)]
    return ((1.0 - alpha) * img + alpha * paint).round().astype(np.uint8)


def format_metrics(metrics: Mapping[str, float]) -> str:
    """Metrics as one line of text, e.g. ``"photorealism 0.00123   structure 0.912   …"``."""
    parts = []
    for key, value in metrics.items():
        label = METRICS[key].label if key in METRICS else key.replace("_", " ")
        parts.append(f"{label} {format_metric(key, value)}")
    return "   ".join(parts)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to lines no wider than ``width`` px."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text`` cut with an ellipsis so that it fits in ``width`` px."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _scaled(image: np.ndarray, height: int) -> Image.Image:
    pil = Image.fromarray(image)
    width = max(1, round(pil.width * height / pil.height))
    return pil.resize((width, height), Image.Resampling.LANCZOS)


def _names(labels: np.ndarray, colors: Sequence[RGB] | None) -> str:
    present = np.unique(np.asarray(labels))
    table = list(colors) if colors is not None else list(PALETTE.values())
    return ", ".join(color_name(table[int(k)]) for k in present if 0 <= k < len(table))


def loss_plot(history: Sequence[Mapping[str, float]], width: int = 384, height: int = 256,
              font_size: int = 14) -> np.ndarray:
    """The loss curves of a run: each weighted term and the total against the reported steps,
    on a log scale, the stages (and pyramid levels) one after the other, separated by grey
    lines and labelled (``S1``, ``S2``; ``L2 S2`` with several levels).

    Parameters
    ----------
    history : sequence of mapping
        ``TransferResult.history``: rows with ``level``, ``stage``, ``step``, ``elapsed``,
        ``total`` and each term.
    width, height : int
        Size of the plot in px.

    Returns
    -------
    np.ndarray
        ``(height, width, 3)`` uint8.
    """
    if not history:
        raise InputError("loss_plot: the history is empty")
    font = _font(font_size)
    terms = [k for k in TERM_COLORS if any(k in row for row in history)]
    terms += [k for row in history for k in row if k not in _NOT_TERMS and k not in terms]
    logs = {k: [math.log10(row[k]) if row.get(k, 0) > 0 else None for row in history]
            for k in terms}
    values = [v for series in logs.values() for v in series if v is not None]
    low, high = (math.floor(min(values)), math.ceil(max(values))) if values else (0, 1)
    high = max(high, low + 1)
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, top = round(font_size * 3.2), round(font_size * 1.8)
    right, bottom = width - _GAP, height - round(font_size * 1.6)
    count = len(history)

    def xy(i: int, value: float) -> tuple[float, float]:
        x = left + (right - left) * (i / max(count - 1, 1))
        return x, bottom - (bottom - top) * (value - low) / (high - low)

    step = max(1, (high - low) // 6 + ((high - low) % 6 > 0))
    for decade in range(low, high + 1, step):
        y = xy(0, decade)[1]
        draw.line([(left, y), (right, y)], fill=(225, 225, 225))
        label = f"1e{decade}"
        draw.text((left - _GAP - draw.textlength(label, font=font), y - font_size / 2), label,
                  fill=_MUTED, font=font)
    several = len({row["level"] for row in history}) > 1
    for i, row in enumerate(history):
        if i == 0 or (row["level"], row["stage"]) != (history[i - 1]["level"],
                                                       history[i - 1]["stage"]):
            x = xy(i, low)[0]
            if i:
                draw.line([(x, top), (x, bottom)], fill=(170, 170, 170))
            where = f"L{int(row['level'])} " if several else ""
            draw.text((x + 3, bottom + 2), f"{where}S{int(row['stage'])}", fill=_MUTED,
                      font=font)
    draw.rectangle([(left, top), (right, bottom)], outline=_MUTED)
    for k in terms:
        color = TERM_COLORS.get(k, (128, 128, 128))
        points = [xy(i, v) for i, v in enumerate(logs[k]) if v is not None]
        if len(points) > 1:
            draw.line(points, fill=color, width=2 if k == "total" else 1)
        elif points:
            draw.ellipse([(points[0][0] - 2, points[0][1] - 2),
                          (points[0][0] + 2, points[0][1] + 2)], fill=color)
    x = left
    for k in terms:  # legend above the frame
        color = TERM_COLORS.get(k, (128, 128, 128))
        draw.rectangle([(x, 5), (x + 8, 13)], fill=color)
        draw.text((x + 11, 1), k, fill=_TEXT, font=font)
        x += 11 + draw.textlength(k, font=font) + _GAP
    return np.asarray(image)


def make_contact_sheet(content: np.ndarray, style: np.ndarray, final: np.ndarray, *,
                       content_mask: np.ndarray | None = None,
                       style_mask: np.ndarray | None = None,
                       colors: Sequence[RGB] | None = None,
                       stage1: np.ndarray | None = None,
                       metrics: Mapping[str, float] | None = None,
                       stage1_metrics: Mapping[str, float] | None = None,
                       history: Sequence[Mapping[str, float]] | None = None,
                       title: str | None = None, height: int = 256,
                       font_size: int = 18) -> np.ndarray:
    """Draw the contact sheet of one transfer.

    Tiles, left to right, each scaled to ``height`` px and captioned with its name and size:
    content | style | content mask | style mask | stage 1 | final | loss curves (mask tiles only
    with both masks, stage 1 and the curves only when given). Under them: ``title``, the
    metrics of the final image and of stage 1 (one line each, :func:`format_metrics`), and a
    legend of the metrics.

    Parameters
    ----------
    content, style, final : np.ndarray
        ``(H,W,3)`` uint8, or float in [0, 1]; any sizes; not modified.
    content_mask, style_mask : np.ndarray, optional
        Integer label maps of content and style on one label set (both or neither).
    colors : sequence of (int, int, int), optional
        RGB of each label (``AlignedMasks.colors``); default: the DPST palette in order.
    stage1 : np.ndarray, optional
        Stage 1's result.
    metrics, stage1_metrics : mapping of str to float, optional
        From :func:`photostyle.metrics.evaluate`.
    history : sequence of mapping, optional
        The run's loss history (``TransferResult.history``), drawn by :func:`loss_plot`.
    title : str, optional
        First text line (e.g. the file names).
    height : int
        Height of the tiles in px (>= 32).
    font_size : int
        Text size in px.

    Returns
    -------
    np.ndarray
        ``(H,W,3)`` uint8 sheet.
    """
    if height < 32:
        raise InputError(f"contact sheet height {height} is too small; use at least 32 px")
    require_both(content_mask, style_mask)
    content_u8 = _as_uint8(content, "content")
    style_u8 = _as_uint8(style, "style")
    tiles: list[tuple[str, np.ndarray]] = [
        (f"content {content_u8.shape[1]}x{content_u8.shape[0]}", content_u8),
        (f"style {style_u8.shape[1]}x{style_u8.shape[0]}", style_u8),
    ]
    if content_mask is not None:
        tiles.append((f"content mask: {_names(content_mask, colors)}",
                      mask_overlay(content_u8, content_mask, colors)))
        tiles.append((f"style mask: {_names(style_mask, colors)}",
                      mask_overlay(style_u8, style_mask, colors)))
    if stage1 is not None:
        s1 = _as_uint8(stage1, "stage 1")
        tiles.append((f"stage 1 {s1.shape[1]}x{s1.shape[0]}", s1))
    final_u8 = _as_uint8(final, "final")
    tiles.append((f"final {final_u8.shape[1]}x{final_u8.shape[0]}", final_u8))
    if history:
        tiles.append(("loss (log scale) per reported step",
                      loss_plot(history, width=round(height * 1.5), height=height,
                                font_size=max(10, round(font_size * 0.75)))))

    font = _font(font_size)
    big = _font(round(font_size * 1.4))
    small = _font(max(10, font_size - 2))
    scaled = [(caption, _scaled(img, height)) for caption, img in tiles]
    width = 2 * _MARGIN + sum(t.width for _, t in scaled) + _GAP * (len(scaled) - 1)
    line_h = round(font_size * 1.35)
    big_h = round(font_size * 1.4 * 1.35)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = width - 2 * _MARGIN

    # Metrics as a small table: one column per metric, one row per image.
    rows = [(name, values) for name, values in (("final", metrics), ("stage 1", stage1_metrics))
            if values]
    keys = [k for k in METRICS if any(k in values for _, values in rows)]
    keys += [k for _, values in rows for k in values if k not in keys]
    headers = ["", *(METRICS[k].label if k in METRICS else k.replace("_", " ") for k in keys)]
    hints = ["", *(METRICS[k].better if k in METRICS else "" for k in keys)]
    cells = [[name, *("" if k not in values else format_metric(k, values[k]) for k in keys)]
             for name, values in rows]
    col_w = [max(max(probe.textlength(row[i], font=big) for row in [headers, *cells]),
                 probe.textlength(hints[i], font=small)) + 3 * _GAP
             for i in range(len(headers))]
    legend: list[str] = []
    if rows:
        for key in keys:
            if key in METRICS:
                legend += _wrap(probe, f"{METRICS[key].label}: {METRICS[key].legend}", small,
                                text_w)
    title_lines = _wrap(probe, title, font, text_w) if title else []
    text_h = (len(title_lines) * line_h + ((len(rows) + 1) * big_h + line_h) * bool(rows)
              + (_GAP if rows else 0) + len(legend) * round(line_h * 0.9))
    total_h = _MARGIN + height + line_h + 4 + (_GAP + text_h if text_h else 0) + _MARGIN

    sheet = Image.new("RGB", (width, total_h), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    x = _MARGIN
    for caption, tile in scaled:
        sheet.paste(tile, (x, _MARGIN))
        draw.text((x, _MARGIN + height + 4), _fit_text(draw, caption, font, tile.width),
                  fill=_TEXT, font=font)
        x += tile.width + _GAP
    y = _MARGIN + height + line_h + 4 + _GAP
    for line in title_lines:
        draw.text((_MARGIN, y), line, fill=_TEXT, font=font)
        y += line_h
    if rows:
        for r, row in enumerate([headers, hints, *cells]):
            x = _MARGIN
            f = small if r == 1 else big
            for i, cell in enumerate(row):
                fill = _MUTED if r < 2 or i == 0 else _TEXT
                # right-aligned numbers under right-aligned headers
                left = x if i == 0 else x + col_w[i] - _GAP - draw.textlength(cell, font=f)
                draw.text((left, y), cell, fill=fill, font=f)
                x += col_w[i]
            y += line_h if r == 1 else big_h
        y += _GAP
    for line in legend:
        draw.text((_MARGIN, y), line, fill=_MUTED, font=small)
        y += round(line_h * 0.9)
    return np.asarray(sheet)


def save_contact_sheet(path: str | os.PathLike, content: np.ndarray, style: np.ndarray,
                       final: np.ndarray, **options: object) -> Path:
    """Draw the contact sheet (:func:`make_contact_sheet`, same keyword options) and write it
    atomically (temporary file, then rename) to ``path`` (``.png`` recommended).

    Raises
    ------
    InputError
        Unknown image extension or a missing folder (checked before drawing).
    """
    path = check_output_path(path, what="report")
    sheet = make_contact_sheet(content, style, final, **options)  # type: ignore[arg-type]
    return save_image(sheet, path)


def make_image_row(tiles: Sequence[tuple[str, np.ndarray]], *, title: str | None = None,
                   height: int = 200, font_size: int = 16) -> np.ndarray:
    """One row of captioned images, all scaled to ``height`` (figures such as the README's).

    Parameters
    ----------
    tiles : sequence of (str, array)
        Caption and ``(H,W,3)`` image (uint8, or float in [0, 1]) of each tile, left to right.
    title : str, optional
        A line of text above the row.

    Returns
    -------
    np.ndarray
        ``(H,W,3)`` uint8.
    """
    if not tiles:
        raise ValueError("make_image_row: no tiles")
    font = _font(font_size)
    images = [_scaled(_as_uint8(image, caption), height) for caption, image in tiles]
    width = sum(im.width for im in images) + _GAP * (len(images) - 1) + 2 * _MARGIN
    line = font_size + 6
    top = _MARGIN + (line if title else 0)
    sheet = Image.new("RGB", (width, top + height + line + _MARGIN), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((_MARGIN, _MARGIN), _fit_text(draw, title, font, width - 2 * _MARGIN),
                  fill=_TEXT, font=font)
    x = _MARGIN
    for (caption, _), im in zip(tiles, images, strict=True):
        sheet.paste(im, (x, top))
        draw.text((x, top + height + 3), _fit_text(draw, caption, font, im.width),
                  fill=_MUTED, font=font)
        x += im.width + _GAP
    return np.asarray(sheet)
