"""``--quality default`` (coarse to fine) against a single-scale run given 3x its CPU time.

Usage::

    python benchmarks/c2f_quality.py OUTDIR [--pairs 1 14] [--size 512] [--factor 3]
                                     [--quality default] [--vgg-weights random]

For each DPST pair in ../shared/dpst: runs ``Config(quality=...)``, measures its wall and CPU
time (``time.process_time``: the work done, robust to other load on a shared machine), then
runs the paper's single-scale schedule (``quality="max"``) with ``N + N`` steps, ``N`` chosen
so that its CPU time is ``--factor`` times the coarse-to-fine run's (per-step CPU time of a
full-size step measured at the coarse-to-fine run's finest level). Both results are saved
(``OUTDIR/<quality>/inN.png``, ``OUTDIR/single/inN.png``) and scored with
:func:`photostyle.evaluation.metrics.evaluate` as 8-bit images, like ``photostyle eval``.
Prints a table and writes ``OUTDIR/c2f_quality.json``. Skips (exit 0) when ../shared/dpst is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from dpst import DPST, load_pair, write_json

from photostyle import Config, VGG19Features, save_image, transfer
from photostyle.evaluation.metrics import evaluate
from photostyle.io.images import read_image, to_uint8


class _Clock:
    """Callback recording the CPU time of every progress read, per (level, stage)."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, int, int, float]] = []

    def __call__(self, info) -> None:
        self.marks.append((info.level, info.stage, info.step, time.process_time()))

    def per_step(self, level: int, stage: int) -> float | None:
        rows = [m for m in self.marks if m[0] == level and m[1] == stage]
        if len(rows) < 3:
            return None
        return (rows[-1][3] - rows[0][3]) / (rows[-1][2] - rows[0][2])


def _run(content, style, c_labels, s_labels, config, model) -> tuple[object, float, float,
                                                                     _Clock]:
    clock = _Clock()
    wall, cpu = time.perf_counter(), time.process_time()
    result = transfer(content, style, c_labels, s_labels, config=config, model=model,
                      callback=clock)
    return result, time.perf_counter() - wall, time.process_time() - cpu, clock


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--pairs", type=int, nargs="+", default=[1, 14])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--factor", type=float, default=3.0)
    p.add_argument("--quality", default="default")
    p.add_argument("--vgg-weights", default="random")
    args = p.parse_args(argv)
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    model = VGG19Features(args.vgg_weights)
    rows = []
    for sub in (args.quality, "single"):
        (args.outdir / sub).mkdir(parents=True, exist_ok=True)
    for n in args.pairs:
        content, style, c_labels, s_labels = load_pair(args.dpst, n)
        c2f_config = Config(size=args.size, quality=args.quality, vgg_weights=args.vgg_weights)
        c2f, wall, cpu, clock = _run(content, style, c_labels, s_labels, c2f_config, model)
        finest = len(c2f.levels)
        step_cpu = clock.per_step(finest, 2) or clock.per_step(finest, 1)
        steps_cpu = sum(
            (clock.per_step(lv, st) or 0.0) * c2f.levels[lv - 1].iters[st - 1]
            for lv in range(1, finest + 1) for st in (1, 2))
        fixed = max(cpu - steps_cpu, 0.0)  # setup, targets, Laplacians, post-process
        each = max(int((args.factor * cpu - fixed) / (2 * step_cpu)), 1)
        single_config = Config(size=args.size, quality="max", iters=(each, each),
                               vgg_weights=args.vgg_weights)
        single, s_wall, s_cpu, _ = _run(content, style, c_labels, s_labels, single_config,
                                        model)
        c_img = read_image(args.dpst / "input" / f"in{n}.png")
        s_img = read_image(args.dpst / "style" / f"tar{n}.png")
        for name, result, w, c, steps in (
                (args.quality, c2f, wall, cpu,
                 " ".join(f"{lv.iters[0]}+{lv.iters[1]}@{lv.long_side}" for lv in c2f.levels)),
                ("single", single, s_wall, s_cpu, f"{each}+{each}@{args.size}")):
            path = save_image(result.image, args.outdir / name / f"in{n}.png")
            out = to_uint8(result.image) / 255.0
            metrics = evaluate(out, c_img, s_img, c_labels, s_labels)
            row = {"pair": n, "run": name, "steps": steps, "wall_s": w, "cpu_s": c,
                   "output": str(path), **metrics}
            rows.append(row)
            print(json.dumps(row), flush=True)
    keys = ("photorealism", "structure", "style_distance")
    print(f"\nsize {args.size}, weights {args.vgg_weights}, single-scale CPU budget "
          f"{args.factor:g}x")
    print(f"{'pair':>4}  {'run':>8}  {'steps (s1+s2@long side)':>34}  {'wall s':>7}  "
          f"{'CPU s':>7}  {'photoreal.':>10}  {'structure':>9}  {'style dist':>10}")
    for r in rows:
        print(f"{r['pair']:>4}  {r['run']:>8}  {r['steps']:>34}  {r['wall_s']:7.1f}  "
              f"{r['cpu_s']:7.1f}  {r['photorealism']:10.3e}  {r['structure']:9.3f}  "
              f"{r['style_distance']:10.2f}")
    for name in (args.quality, "single"):
        sel = [r for r in rows if r["run"] == name]
        means = {k: float(np.mean([r[k] for r in sel])) for k in keys}
        print(f"mean {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in means.items()))
    write_json(args.outdir / "c2f_quality.json",
               {"size": args.size, "factor": args.factor, "quality": args.quality,
                "weights": args.vgg_weights, "threads": torch.get_num_threads(),
                "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
