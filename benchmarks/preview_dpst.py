"""Time ``--quality preview`` (:func:`photostyle.preview`) on the DPST example pairs.

Usage::

    python benchmarks/preview_dpst.py OUTDIR [--size 512] [--repeat 5] [--pairs 1 3 7]
                                      [--transfer linear] [--transfer-space lab]

For each pair ``N`` of ../shared/dpst it writes ``OUTDIR/inN.png`` and measures, in one
process (torch's default threads; the first pair also pays torch's warm-up):

* ``load_s``: reading content, style and both masks and aligning the masks;
* ``first_s``: the first :func:`photostyle.preview` call of that pair;
* ``best_s`` / ``median_s``: best and median of ``--repeat`` further calls (the machine may be
  shared: the best is the figure least disturbed by other work);
* ``cpu_s``: process CPU time of the best call's run (all threads);
* ``total_s``: load + first call + writing the PNG (what one ``photostyle --quality preview``
  spends after Python and torch are imported).

Prints a table and one JSON object; compare the images with
``photostyle eval --pairs ../shared/dpst --outputs OUTDIR``. Skips (exit 0) when ../shared/dpst
is absent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from dpst import DPST, load_pair, pair_numbers

from photostyle import Config, preview, save_image


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--pairs", type=int, nargs="*")
    p.add_argument("--transfer", choices=("linear", "histogram"), default="linear")
    p.add_argument("--transfer-space", choices=("lab", "rgb"), default="lab")
    p.add_argument("--no-masks", action="store_true", help="one global region per image")
    args = p.parse_args(argv)
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    args.outdir.mkdir(parents=True, exist_ok=True)
    config = Config(quality="preview", size=args.size, transfer_method=args.transfer,
                    transfer_space=args.transfer_space)
    rows = []
    for n in args.pairs or pair_numbers(args.dpst):
        t0 = time.perf_counter()
        content, style, c_labels, s_labels = load_pair(args.dpst, n)
        if args.no_masks:
            c_labels = s_labels = None
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        image = preview(content, style, c_labels, s_labels, config=config)
        first_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        save_image(image, args.outdir / f"in{n}.png")
        save_s = time.perf_counter() - t2
        walls, cpus = [], []
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            preview(content, style, c_labels, s_labels, config=config)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        best = min(range(len(walls)), key=walls.__getitem__) if walls else None
        rows.append({
            "pair": n, "hw": list(image.shape[-2:]), "load_s": load_s, "first_s": first_s,
            "best_s": walls[best] if walls else first_s,
            "median_s": statistics.median(walls) if walls else first_s,
            "cpu_s": cpus[best] if walls else float("nan"),
            "total_s": load_s + first_s + save_s,
        })
    keys = ("load_s", "first_s", "best_s", "median_s", "cpu_s", "total_s")
    print(f"preview at {args.size} px, {args.transfer}/{args.transfer_space}, "
          f"{'no masks' if args.no_masks else 'DPST masks'}, torch threads "
          f"{torch.get_num_threads()}")
    print("pair  size      " + "  ".join(f"{k:>8}" for k in keys))
    for row in rows:
        print(f"{row['pair']:>4}  {row['hw'][1]}x{row['hw'][0]:<4}  "
              + "  ".join(f"{row[k]:8.3f}" for k in keys))
    print("mean            " + "  ".join(
        f"{statistics.mean(r[k] for r in rows):8.3f}" for k in keys))
    print(json.dumps({"size": args.size, "transfer": args.transfer,
                      "space": args.transfer_space, "masks": not args.no_masks,
                      "threads": torch.get_num_threads(), "pairs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
