"""Draw the README's figures for artistic mode and the style losses.

Run from the repository root (a few minutes on a laptop CPU)::

    .venv/bin/python docs/make_figures.py [--vgg-weights random] [--size 256]
                                          [--only artistic|style_loss]

Writes ``docs/artistic.png`` (the rocket photo in the style of ``data/strokes_style.png``:
artistic mode from noise and from the content, with the histogram loss, with
``--original-colors``) and ``docs/style_loss.png`` (the coffee pair in photo mode with
``--style-loss gram``, ``histogram`` and ``both``). With ``--vgg-weights random`` (the only
weights in this workplace) the pictures show the mechanics, not the quality: untrained features
give blotchy, noisy stylizations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from photostyle import Config, VGG19Features, load_image, save_image, transfer
from photostyle.evaluation.report import make_image_row
from photostyle.io.images import to_uint8
from segment import align_masks, load_color_mask

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def artistic(model: VGG19Features, weights: str, size: int) -> None:
    content = load_image(DATA / "rocket_content.png")
    style = load_image(DATA / "strokes_style.png")
    base = Config(mode="artistic", size=size, vgg_weights=weights)
    runs = [("--mode artistic", base),
            ("--init content", base.replace(init="content")),
            ("--style-loss histogram", base.replace(init="content", style_loss="histogram")),
            ("--init content --original-colors", base.replace(init="content",
                                                              original_colors=True))]
    tiles = [("content", to_uint8(content)), ("style", to_uint8(style))]
    for caption, config in runs:
        tiles.append((caption, to_uint8(transfer(content, style, config=config,
                                              model=model).image)))
    title = (f"artistic mode, {size} px, --quality default, --vgg-weights {weights}"
             + (" (untrained features: mechanics only)" if weights == "random" else ""))
    save_image(make_image_row(tiles, title=title), ROOT / "docs" / "artistic.png")


def style_losses(model: VGG19Features, weights: str, size: int) -> None:
    content = load_image(DATA / "coffee_content.png")
    style = load_image(DATA / "coffee_style.png")
    aligned = align_masks(
        load_color_mask(DATA / "coffee_content_mask.png", tuple(content.shape[-2:])),
        load_color_mask(DATA / "coffee_style_mask.png", tuple(style.shape[-2:])))
    tiles = [("content", to_uint8(content)), ("style", to_uint8(style))]
    for loss in ("gram", "histogram", "both"):
        config = Config(size=size, vgg_weights=weights, style_loss=loss)
        result = transfer(content, style, aligned.content_labels, aligned.style_labels,
                          config=config, model=model)
        tiles.append((f"--style-loss {loss}", to_uint8(result.image)))
    title = (f"photo mode with masks, {size} px, --quality default, --vgg-weights {weights}"
             + (" (untrained features)" if weights == "random" else ""))
    save_image(make_image_row(tiles, title=title), ROOT / "docs" / "style_loss.png")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vgg-weights", default="random")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--only", choices=("artistic", "style_loss"), default=None,
                   help="draw one of the figures")
    args = p.parse_args(argv)
    model = VGG19Features(args.vgg_weights)
    if args.only in (None, "artistic"):
        artistic(model, args.vgg_weights, args.size)
    if args.only in (None, "style_loss"):
        style_losses(model, args.vgg_weights, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
