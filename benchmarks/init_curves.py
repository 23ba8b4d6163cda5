"""Steps-to-quality of the stage-1 starts (``init``: content, noise, transfer) on DPST pairs.

Usage::

    python benchmarks/init_curves.py OUTDIR [--size 256] [--steps 100] [--pairs 3 14]
                                     [--checkpoints 0 10 25 50 100] [--vgg-weights random]

For every pair and start it runs stage 1 only (no stage 2, no post-process) and records the
weighted style loss at every step (``result.history``) and, at the checkpoints, the
:mod:`photostyle.evaluation.metrics` of the current image (photorealism, structure, Lab
style distance).
``transfer+post`` is the transfer start followed by the preview's local-affine post-process
(measured here to choose whether ``init="transfer"`` should include it). Writes
``OUTDIR/curves.json`` (every curve) and prints, per start, the mean over pairs of the
checkpoint values and the number of steps each start needs to reach the style loss that the
content start (the paper's) reaches at its last step.

With ``--vgg-weights random`` the features are untrained: the curves test the mechanics of the
starts (what the optimizer is given), not the quality a trained VGG-19 would give.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from dpst import DPST, load_pair, write_json

from matting.local_affine_numpy import local_affine_post_numpy
from photostyle import Config, VGG19Features, transfer
from photostyle.evaluation.metrics import evaluate

STARTS = ("content", "noise", "transfer", "transfer+post")
#: The module (``photostyle.transfer`` the attribute is the function of that name).
transfer_module = importlib.import_module("photostyle.neural.transfer")


def _array(image: torch.Tensor) -> np.ndarray:
    """8-bit rounded (H,W,3) float64, as a saved result would be measured."""
    return np.round(image[0].permute(1, 2, 0).double().cpu().numpy() * 255) / 255


def _with_post(config: Config):
    """A stand-in for the transfer start that also applies the preview's post-process."""
    plain = transfer_module.regional_color_transfer

    def start(content, style, c_masks, s_masks, **options):
        image = plain(content, style, c_masks, s_masks, **options)
        return local_affine_post_numpy(image, content, radius=config.post_radius,
                                       eps=config.post_eps,
                                       smooth_radius=config.post_smooth_radius,
                                       sigma_range=config.post_sigma,
                                       scale=config.preview_post_scale)

    return plain, start


def run_start(name: str, pair, config: Config, model, checkpoints) -> dict:
    content, style, c_labels, s_labels = pair
    snapshots: dict[int, torch.Tensor] = {}

    def keep(info) -> None:
        if info.stage == 1 and info.step in checkpoints:
            snapshots[info.step] = info.image.clamp(0, 1).clone()

    init = "transfer" if name.startswith("transfer") else name
    cfg = config.replace(init=init)
    plain, with_post = _with_post(cfg)
    if name == "transfer+post":
        transfer_module.regional_color_transfer = with_post
    try:
        start = transfer(content, style, c_labels, s_labels, config=cfg.replace(iters=(0, 0)),
                         model=model)
        t0 = time.perf_counter()
        result = transfer(content, style, c_labels, s_labels, config=cfg, callback=keep,
                          model=model)
        seconds = time.perf_counter() - t0
    finally:
        transfer_module.regional_color_transfer = plain
    snapshots[0] = start.stage1
    c_arr, s_arr = _array(content), _array(style)
    metrics = {}
    for step in sorted(snapshots):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metrics[step] = evaluate(_array(snapshots[step]), c_arr, s_arr, c_labels, s_labels)
    return {"style": [row["style"] for row in result.history],
            "total": [row["total"] for row in result.history],
            "metrics": {str(k): v for k, v in metrics.items()}, "seconds": seconds,
            "setup_s": result.timings.get("setup", float("nan"))}


def steps_to_reach(curve: list[float], level: float) -> int | None:
    """First step (1-based) whose value is <= level, or None."""
    for i, value in enumerate(curve, start=1):
        if value <= level:
            return i
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--pairs", type=int, nargs="*", default=[3, 14])
    p.add_argument("--checkpoints", type=int, nargs="*", default=[10, 25, 50, 100])
    p.add_argument("--starts", nargs="*", default=list(STARTS), choices=STARTS)
    p.add_argument("--vgg-weights", default="random")
    args = p.parse_args(argv)
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    args.outdir.mkdir(parents=True, exist_ok=True)
    config = Config(size=args.size, iters=(args.steps, 0), post=False, quality="max",
                    vgg_weights=args.vgg_weights)
    model = VGG19Features(args.vgg_weights, seed=config.seed)
    checkpoints = {c for c in args.checkpoints if c <= args.steps}
    curves: dict[str, dict[str, dict]] = {}
    for n in args.pairs:
        pair = load_pair(args.dpst, n)
        curves[str(n)] = {}
        for name in args.starts:
            curves[str(n)][name] = run_start(name, pair, config, model, checkpoints)
            row = curves[str(n)][name]
            print(f"pair {n} {name:14s} style {row['style'][0]:.4g} -> {row['style'][-1]:.4g} "
                  f"({row['seconds']:.0f}s)", file=sys.stderr, flush=True)

    steps = sorted({0, *checkpoints})
    print(f"stage 1 only, size {args.size}, weights {args.vgg_weights}, pairs "
          f"{' '.join(map(str, args.pairs))}; mean over pairs")
    for key in ("style_loss", "style_distance", "photorealism", "structure"):
        print(f"\n{key} at step " + "  ".join(f"{s:>9}" for s in steps))
        for name in args.starts:
            values = []
            for s in steps:
                per_pair = []
                for n in curves:
                    row = curves[n][name]
                    if key == "style_loss":  # evaluated at step s (at s = 0: the start)
                        per_pair.append(row["style"][max(s - 1, 0)])
                    else:
                        per_pair.append(row["metrics"][str(s)][key])
                values.append(statistics.mean(per_pair))
            print(f"{name:14s}      " + "  ".join(f"{v:9.4g}" for v in values))
    print("\nsteps to reach the content start's final style loss (per pair):")
    for name in args.starts:
        reach = [steps_to_reach(curves[n][name]["style"], curves[n]["content"]["style"][-1])
                 for n in curves] if "content" in args.starts else []
        print(f"{name:14s} {reach}")
    write_json(args.outdir / "curves.json",
               {"size": args.size, "steps": args.steps, "weights": args.vgg_weights,
                "pairs": args.pairs, "curves": curves}, indent=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
