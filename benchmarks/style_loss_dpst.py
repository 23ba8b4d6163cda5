"""``--style-loss gram|histogram|both`` on the DPST pairs: eval metrics and loss stability.

Usage::

    python benchmarks/style_loss_dpst.py OUTDIR [--losses gram histogram both] [--pairs 1 3]
                                         [--size 512] [--quality default] [--mode photo]
                                         [--vgg-weights random]

For each pair in ../shared/dpst and each style loss, runs :func:`photostyle.transfer` with
that loss and everything else at its default, writes ``OUTDIR/<loss>/inN.png`` and scores it
as an 8-bit image with :func:`photostyle.metrics.evaluate` (as ``photostyle eval``:
photorealism, structure, style distance). Stability: for every stage at every level with at
least 10 steps, over the last 20% of its steps, the relative spread of the total loss
(``(max - min) / median``) and the share of steps where the loss went *up*; the table gives
stage 1 (coarsest level, the longest run) and the last stage-2 level. Prints a table and writes
``OUTDIR/style_loss.json`` (with every loss history). Skips (exit 0) when ../shared/dpst is
absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from dpst import DPST, load_pair, pair_numbers, write_json

from photostyle import Config, VGG19Features, save_image, transfer
from photostyle.images import read_image, to_uint8
from photostyle.metrics import evaluate

KEYS = ("photorealism", "structure", "style_distance")


def stability(history: list[dict], tail: float = 0.2) -> dict[str, dict[str, float]]:
    """Per ``L<level>S<stage>`` run of >= 10 steps: spread and share of rising steps of the
    total loss over its last ``tail`` of steps."""
    runs: dict[str, list[float]] = {}
    for row in history:
        runs.setdefault(f"L{int(row['level'])}S{int(row['stage'])}", []).append(row["total"])
    out = {}
    for key, values in runs.items():
        if len(values) < 10:
            continue
        last = np.asarray(values[-max(2, round(tail * len(values))):])
        out[key] = {"spread": float((last.max() - last.min()) / np.median(last)),
                    "rising": float(np.mean(np.diff(last) > 0)), "steps": len(values)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--losses", nargs="+", default=["gram", "histogram", "both"],
                   choices=("gram", "histogram", "both"))
    p.add_argument("--pairs", type=int, nargs="*")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--quality", default="default")
    p.add_argument("--mode", default="photo")
    p.add_argument("--vgg-weights", default="random")
    args = p.parse_args(argv)
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    model = VGG19Features(args.vgg_weights)
    rows = []
    for n in args.pairs or pair_numbers(args.dpst):
        content, style, c_labels, s_labels = load_pair(args.dpst, n)
        c_img = read_image(args.dpst / "input" / f"in{n}.png")
        s_img = read_image(args.dpst / "style" / f"tar{n}.png")
        for loss in args.losses:
            config = Config(size=args.size, quality=args.quality, mode=args.mode,
                            vgg_weights=args.vgg_weights, style_loss=loss)
            t0 = time.perf_counter()
            result = transfer(content, style, c_labels, s_labels, config=config, model=model)
            seconds = time.perf_counter() - t0
            (args.outdir / loss).mkdir(parents=True, exist_ok=True)
            save_image(result.image, args.outdir / loss / f"in{n}.png")
            with torch.no_grad():
                final = to_uint8(result.image) / 255.0
            metrics = evaluate(final, c_img, s_img, c_labels, s_labels)
            row = {"pair": n, "loss": loss, "seconds": seconds,
                   **{k: metrics[k] for k in KEYS}, "stability": stability(result.history),
                   "history": result.history}
            rows.append(row)
            brief = {k: v for k, v in row.items() if k != "history"}
            print(json.dumps(brief), flush=True)
    print(format_table(rows, args.losses))
    write_json(args.outdir / "style_loss.json", {
        "size": args.size, "quality": args.quality, "mode": args.mode,
        "weights": args.vgg_weights, "rows": rows}, indent=None)
    return 0


def format_table(rows: list[dict], losses: list[str]) -> str:
    """Per loss: the mean of each metric over the pairs, and of the stability figures."""
    lines = ["| style loss | photorealism | structure | style dist | stage-1 spread | stage-1 "
             "rising | last-level spread | seconds |", "|---|---|---|---|---|---|---|---|"]
    for loss in losses:
        mine = [r for r in rows if r["loss"] == loss]
        if not mine:
            continue
        mean = {k: float(np.mean([r[k] for r in mine])) for k in (*KEYS, "seconds")}
        first = [r["stability"][min(r["stability"])] for r in mine if r["stability"]]
        last = [r["stability"][max(r["stability"])] for r in mine if r["stability"]]
        lines.append(
            f"| {loss} | {mean['photorealism']:.3g} | {mean['structure']:.3f} | "
            f"{mean['style_distance']:.2f} | {np.mean([s['spread'] for s in first]):.3g} | "
            f"{np.mean([s['rising'] for s in first]):.2f} | "
            f"{np.mean([s['spread'] for s in last]):.3g} | {mean['seconds']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
