"""Items per minute of ``photostyle batch`` with 1 and 2 workers (issue #16): the weight-free
method (``--quality preview``) on 24 photos at 512 px, one style, no masks (``--method``: other
options, e.g. a neural method on a GPU).

    python benchmarks/batch.py [--workers 1 2] [--repeat 3] [--count 24] [--size 512]
                               [--method "--quality preview"]
                               [--dpst ../shared/dpst] [--json benchmarks/results/batch.json]

The photos are made in a temporary folder from ../shared/dpst's inputs when present, else from
``data/``'s (flipped and cropped variants, resized to ``--size`` on the long side); nothing is
copied into the repository. Each run is the whole command as a new process (start-up, workers
spawning, reading, the method, writing, the report) into a fresh output folder; ``rerun_s`` is
the same command again, when every output is complete (all skipped); ``cpu_s`` the CPU time
(user + system) of the command and its workers, which a loaded machine does not inflate as it
does wall time. Figures: best and median of ``--repeat`` runs; ``items_per_min`` from the
best. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from dpst import DPST

ROOT = Path(__file__).resolve().parents[1]


def sources(dpst: Path) -> tuple[list[Path], Path]:
    """Content photos and a style photo to build the batch from."""
    if (dpst / "input").is_dir():
        return sorted((dpst / "input").glob("in*.png")), dpst / "style" / "tar1.png"
    data = ROOT / "data"
    return sorted(data.glob("*_content.png")), data / "rocket_style.png"


def make_photos(folder: Path, count: int, size: int, dpst: Path) -> Path:
    """``count`` photos at ``size`` px on the long side in ``folder``; returns the style."""
    from photostyle.io.images import fit_long_side, read_image, resize_image, save_image

    contents, style = sources(dpst)
    images = [read_image(p) for p in contents]
    for i in range(count):
        image = images[i % len(images)]
        variant = i // len(images)
        if variant % 2:
            image = image[:, ::-1]
        if variant >= 2:  # a centre crop of 90%
            h, w = image.shape[:2]
            image = image[h // 20: h - h // 20, w // 20: w - w // 20]
        image = resize_image(np.ascontiguousarray(image), fit_long_side(*image.shape[:2], size))
        save_image(image, folder / f"photo{i:02d}.png")
    return style


def run(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, of the process and its workers) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    spent = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}: {done.stderr[-800:]}")
    return spent, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(photos: Path, style: Path, work: Path, workers: int, size: int, repeat: int,
            count: int, method: list[str]) -> dict:
    from photostyle.batch import read_report

    times, cpu, reruns, per_item = [], [], [], []
    for r in range(repeat):
        out = work / f"out_w{workers}_{r}"
        command = [sys.executable, "-m", "photostyle", "batch", str(photos), "-o", str(out),
                   "--style", str(style), *method, "--size", str(size), "-q",
                   "--workers", str(workers)]
        wall, used = run(command)
        times.append(wall)
        cpu.append(used)
        rows = read_report(out / "batch_report.csv")
        if [row.status for row in rows] != ["done"] * count:
            raise SystemExit(f"workers {workers}: not every item was done: {rows}")
        per_item.append(statistics.median(row.seconds for row in rows))
        reruns.append(run(command)[0])
    best = min(times)
    return {"workers": workers, "best_s": best, "median_s": statistics.median(times),
            "items_per_min": count * 60 / best, "cpu_s": min(cpu),
            "item_median_s": min(per_item),
            "rerun_s": min(reruns), "runs": repeat}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--count", type=int, default=24)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--method", default="--quality preview", metavar="OPTIONS",
                   help="the method's options (default: the weight-free '--quality preview'; "
                        "e.g. on a GPU: '--quality draft --vgg-weights random --devices "
                        "cuda:0')")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "batch.json")
    args = p.parse_args(argv)
    method = shlex.split(args.method)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = work / "photos"
        photos.mkdir()
        style = make_photos(photos, args.count, args.size, args.dpst)
        rows = [measure(photos, style, work, w, args.size, args.repeat, args.count, method)
                for w in args.workers]
    result = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
              "load_average": os.getloadavg(), "photos": args.count, "size": args.size,
              "method": args.method, "source": str(sources(args.dpst)[0][0].parent),
              "rows": rows}
    print(f"{args.count} photos at {args.size} px, {args.method}, from "
          f"{result['source']}")
    print("workers  best s  median s  items/min  CPU s  item median s  rerun (all skipped) s")
    for row in rows:
        print(f"{row['workers']:7d}  {row['best_s']:6.2f}  {row['median_s']:8.2f}  "
              f"{row['items_per_min']:9.1f}  {row['cpu_s']:5.1f}  {row['item_median_s']:13.3f}  "
              f"{row['rerun_s']:21.2f}")
    from photostyle.io.files import atomic_write_text

    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
