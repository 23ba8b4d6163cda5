"""Evaluating many results: the pairs of a folder laid out like the DPST examples, the output
file of each pair, loading and measuring one evaluation, and the summary table.

Output of pair ``N`` in a folder of outputs (image files only, hidden files ignored), first match
wins:

1. ``N.<ext>``, then ``inN.<ext>``, then ``bestN_t_1000.<ext>`` (the paper's final_results);
2. otherwise the one file whose name (without extension) contains ``N`` as a separate number,
   i.e. not next to another digit (``out_7``, ``7-final`` and ``res7`` match 7; ``17``, ``70``
   and ``in71`` do not), leaving out photostyle's intermediate images ``*.stageS*``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segment import align_masks, load_color_mask, resize_mask

from ..config import MAX_PIXELS
from ..errors import InputError, require_both
from ..io.files import OUTPUT_FORMATS, atomic_write_text
from ..io.images import (
    REDUCING_GAP,
    check_mask_pixels,
    image_info,
    pil_pixel_check_off,
    read_image,
)
from .metrics import evaluate, format_metric
from .report import make_contact_sheet

if TYPE_CHECKING:
    from ..neural.vgg import VGG19Features

__all__ = ["IMAGE_EXTENSIONS", "Loaded", "Pair", "find_output", "find_pairs", "format_table",
           "load_inputs", "measure", "render_report", "stage1_path", "summarize", "write_csv"]

#: Extensions of image files looked at in pair and output folders.
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(OUTPUT_FORMATS)

_STAGE_NAME = re.compile(r"\.stage\d")


@dataclass(frozen=True)
class Pair:
    """The input files of one pair of a ``--pairs`` folder.

    Attributes
    ----------
    number : int
        ``N`` of ``inN``/``tarN``.
    content, style : Path
        ``input/inN.*`` and ``style/tarN.*``.
    content_mask, style_mask : Path or None
        ``segmentation/inN.*`` and ``segmentation/tarN.*`` (both or neither).
    """

    number: int
    content: Path
    style: Path
    content_mask: Path | None
    style_mask: Path | None


@dataclass
class Loaded:
    """Images and aligned masks of one evaluation, as arrays."""

    content: np.ndarray
    style: np.ndarray
    output: np.ndarray
    content_labels: np.ndarray | None
    style_labels: np.ndarray | None
    colors: tuple[tuple[int, int, int], ...] | None


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_EXTENSIONS)


def _one_by_stem(files: Sequence[Path], stem: str) -> Path | None:
    """The file named ``stem.<ext>`` (``.png`` first if there are several)."""
    found = [p for p in files if p.stem == stem]
    found.sort(key=lambda p: (p.suffix.lower() != ".png", p.name))
    return found[0] if found else None


def find_pairs(folder: str | os.PathLike) -> list[Pair]:
    """The pairs of a folder laid out like ``../shared/dpst``, sorted by number.

    Raises
    ------
    InputError
        Not a folder, no ``input/inN.*`` image, or a pair without its style image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--pairs {folder} is not a folder; give a folder with input/, style/ "
                         "and segmentation/")
    inputs_dir = folder / "input"
    if not inputs_dir.is_dir():
        raise InputError(f"--pairs {folder} has no input/ folder; lay it out as input/inN.png, "
                         "style/tarN.png, segmentation/inN.png and segmentation/tarN.png")
    numbers = sorted({int(m.group(1)) for p in _image_files(inputs_dir)
                      if (m := re.fullmatch(r"in(\d+)", p.stem))})
    if not numbers:
        raise InputError(f"{inputs_dir} holds no inN image (e.g. in1.png); check the folder")
    style_files = _image_files(folder / "style") if (folder / "style").is_dir() else []
    seg_dir = folder / "segmentation"
    seg_files = _image_files(seg_dir) if seg_dir.is_dir() else []
    pairs = []
    input_files = _image_files(inputs_dir)
    for n in numbers:
        content = _one_by_stem(input_files, f"in{n}")
        style = _one_by_stem(style_files, f"tar{n}")
        if style is None:
            raise InputError(f"pair {n}: no style image {folder / 'style' / f'tar{n}.png'}; "
                             f"add it or remove {content}")
        c_mask = _one_by_stem(seg_files, f"in{n}")
        s_mask = _one_by_stem(seg_files, f"tar{n}")
        if c_mask is None or s_mask is None:
            c_mask = s_mask = None
        pairs.append(Pair(n, content, style, c_mask, s_mask))  # type: ignore[arg-type]
    return pairs


def find_output(folder: str | os.PathLike, number: int) -> list[Path]:
    """Candidates for the output of pair ``number`` in ``folder`` (rule in the module docstring).

    Returns
    -------
    list of Path
        One path when the output is found, none when it is missing, several when ambiguous.
    """
    files = _image_files(Path(folder))
    for stem in (f"{number}", f"in{number}", f"best{number}_t_1000"):
        found = _one_by_stem(files, stem)
        if found is not None:
            return [found]
    token = re.compile(rf"(?<!\d){number}(?!\d)")
    return [p for p in files if token.search(p.stem) and not _STAGE_NAME.search(p.stem)]


def load_inputs(content: Path, style: Path, output: Path, content_mask: Path | None,
                style_mask: Path | None, *, max_pixels: int | None = MAX_PIXELS) -> Loaded:
    """Read the images and parse and align the masks of one evaluation.

    The output is read as it is; content and style much larger than it are decoded at a
    reduced scale (:func:`photostyle.io.images.read_image` with the output's long side), and
    their masks brought to the sizes they were decoded at.

    Raises
    ------
    InputError, MaskError
        Unreadable files, images over ``max_pixels``, masks of the wrong size, only one mask.
    """
    require_both(content_mask, style_mask, ("--content-mask", "--style-mask"))
    o_img = read_image(output, max_pixels=max_pixels)
    side = max(o_img.shape[:2])
    c_img = read_image(content, long_side=side, max_pixels=max_pixels)
    s_img = read_image(style, long_side=side, max_pixels=max_pixels)
    c_labels = s_labels = colors = None
    if content_mask is not None:
        parsed = []
        for mask, photo, img in ((content_mask, content, c_img), (style_mask, style, s_img)):
            check_mask_pixels(mask, max_pixels)
            info = image_info(photo, max_pixels=max_pixels)
            with pil_pixel_check_off():  # as large as its photo, which passed max_pixels
                labels = load_color_mask(mask, (info.height, info.width),
                                         max_side=int(2 * REDUCING_GAP * side))
            parsed.append(resize_mask(labels, img.shape[:2]))
        aligned = align_masks(*parsed)
        c_labels, s_labels, colors = (aligned.content_labels, aligned.style_labels,
                                      aligned.colors)
    return Loaded(c_img, s_img, o_img, c_labels, s_labels, colors)


def measure(loaded: Loaded, output_name: str | os.PathLike,
            model: VGG19Features | None = None) -> dict[str, float]:
    """:func:`photostyle.evaluation.metrics.evaluate` on loaded inputs; errors name
    ``output_name``."""
    try:
        return evaluate(loaded.output, loaded.content, loaded.style, loaded.content_labels,
                        loaded.style_labels, model=model)
    except InputError as exc:
        raise InputError(f"{output_name}: {exc}") from exc


def stage1_path(explicit: Path | None, output: Path) -> Path | None:
    if explicit is not None:
        return explicit
    sibling = output.with_name(f"{output.stem}.stage1{output.suffix}")
    return sibling if sibling.is_file() else None


def render_report(loaded: Loaded, metrics: dict[str, float], *,
                  stage1: np.ndarray | None = None, stage1_name: str | os.PathLike = "stage 1",
                  model: VGG19Features | None = None, title: str | None = None) -> np.ndarray:
    """Contact sheet ``(H,W,3)`` uint8 of one evaluation (stage 1 is measured too when given)."""
    s1_metrics = None
    if stage1 is not None:
        s1_metrics = measure(Loaded(loaded.content, loaded.style, stage1, loaded.content_labels,
                                    loaded.style_labels, loaded.colors), stage1_name, model)
    return make_contact_sheet(loaded.content, loaded.style, loaded.output,
                              content_mask=loaded.content_labels,
                              style_mask=loaded.style_labels, colors=loaded.colors,
                              stage1=stage1, metrics=metrics, stage1_metrics=s1_metrics,
                              title=title)


def summarize(rows: Sequence[dict[str, float]], keys: Sequence[str]) -> dict[str, dict]:
    """Mean and median of each metric over the rows."""
    return {
        "mean": {k: statistics.fmean(r[k] for r in rows) for k in keys},
        "median": {k: statistics.median(r[k] for r in rows) for k in keys},
    }


def format_table(rows: Sequence[dict], keys: Sequence[str]) -> str:
    """Fixed-width text table: one row per pair, then the mean and median rows."""
    summary = summarize(rows, keys)
    header = ["pair", *keys]
    body = [[str(r["pair"]), *(format_metric(k, r[k], table=True) for k in keys)]
            for r in rows]
    for name in ("mean", "median"):
        body.append([name, *(format_metric(k, summary[name][k], table=True)
                             for k in keys)])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    for j, row in enumerate(body):
        if j == len(rows):
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def write_csv(path: str | os.PathLike, rows: Sequence[dict], keys: Sequence[str]) -> Path:
    """Write the table (pair rows, then ``mean`` and ``median``) as CSV, atomically."""
    path = Path(path)
    summary = summarize(rows, keys)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["pair", *keys, "output"])
    for r in rows:
        writer.writerow([r["pair"], *(f"{r[k]:.6g}" for k in keys), r["output"]])
    for name in ("mean", "median"):
        writer.writerow([name, *(f"{summary[name][k]:.6g}" for k in keys), ""])
    return atomic_write_text(path, buffer.getvalue())
