"""Run photostyle on the DPST example pairs in ../shared/dpst and keep every stage's image.

Usage::

    python benchmarks/dpst_run.py OUTDIR [--size 256] [--iters 200,200] [--pairs 1 3 7]
                                  [--vgg-weights random] [--device cpu]
                                  [--quality max] [--init content]

Writes ``OUTDIR/stage1/inN.png``, ``OUTDIR/stage2/inN.png`` (before the post-process),
``OUTDIR/final/inN.png`` and ``OUTDIR/timings.json``; compare them with
``photostyle eval --pairs ../shared/dpst --outputs OUTDIR/final``. Skips (exit 0) when
../shared/dpst is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from dpst import DPST, load_pair, pair_numbers, write_json

from photostyle import Config, VGG19Features, save_image, transfer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iters", default="200,200",
                   help="N1,N2, or 'preset' for the quality preset's own steps")
    p.add_argument("--pairs", type=int, nargs="*")
    p.add_argument("--vgg-weights", default="random")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quality", default="max", help="quality preset (max: single scale, as the "
                   "first measurements of this script)")
    p.add_argument("--init", default="content", help="start of stage 1 (content: the paper's)")
    args = p.parse_args(argv)
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    iters = None if args.iters == "preset" else tuple(int(n) for n in args.iters.split(","))
    config = Config(size=args.size, iters=iters, vgg_weights=args.vgg_weights,
                    quality=args.quality, init=args.init)
    device = torch.device(args.device)
    model = VGG19Features(args.vgg_weights).to(device)
    for sub in ("stage1", "stage2", "final"):
        (args.outdir / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.pairs or pair_numbers(args.dpst):
        content, style, c_labels, s_labels = load_pair(args.dpst, n, device)
        t0 = time.perf_counter()
        result = transfer(content, style, c_labels, s_labels, config=config, model=model)
        total = time.perf_counter() - t0
        save_image(result.stage1, args.outdir / "stage1" / f"in{n}.png")
        if result.stage2 is not None:
            save_image(result.stage2, args.outdir / "stage2" / f"in{n}.png")
        save_image(result.image, args.outdir / "final" / f"in{n}.png")
        steps = {s: [r for r in result.history if r["stage"] == s] for s in (1, 2)}
        per_step = {f"step{s}_s": (rows_[-1]["elapsed"] - rows_[0]["elapsed"]) / (len(rows_) - 1)
                    for s, rows_ in steps.items() if len(rows_) > 2}
        row = {"pair": n, "hw": list(result.image.shape[-2:]), "total_s": total,
               **{f"{k}_s": v for k, v in result.timings.items()}, **per_step}
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_json(args.outdir / "timings.json",
               {"size": args.size, "iters": None if iters is None else list(iters),
                "quality": args.quality, "weights": args.vgg_weights,
                "device": args.device, "pairs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
