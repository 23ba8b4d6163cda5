"""Peak memory and time of ``photostyle`` on a huge photo: a 12000 x 9000 image, whole process.

Usage::

    python benchmarks/huge_image_memory.py [--json benchmarks/results/huge_image_memory.json]
                                           [--size 512] [--formats png jpg] [--neural]
                                           [--args "--method classic"]

Makes the photo in a temporary folder (a smooth gradient with sensor-like noise, 8-bit RGB;
PNG and JPEG; in a child process), then runs the command line on it, one fresh process per
run, and reports each run's **peak resident memory of the whole process** (its ``ru_maxrss``:
the interpreter and every library included) and its wall time. Each run is started by a small
launcher process and measured as the launcher's child: on Linux a process's ``ru_maxrss``
starts from its parent's resident size at the fork, so a run started by this (large) script
would be reported at least as large as the script. The runs:

* ``--quality preview --size S`` (the weight-free method; ``--args`` adds options, e.g. another
  weight-free method) for each format — the issue's target is at most 1.5 GB at 512;
* ``--quality preview --size 12000`` on the PNG: the memory estimate refuses it before any
  work (it names a size that fits);
* with ``--neural``: the neural method at ``--size 64`` (random weights, 2 + 2 steps), where
  the photo used to be decoded in full in float64.

Prints a table and writes the JSON. The style photo is ``data/rocket_style.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photostyle.io.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
STYLE = ROOT / "data" / "rocket_style.png"
HEIGHT, WIDTH = 9000, 12000


def make_photo(folder: Path, formats: list[str]) -> dict[str, Path]:
    """The 12000 x 9000 test photo in each format (made in strips: ~0.3 GB at once)."""
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    x = np.linspace(0, 1, WIDTH, dtype=np.float32)[None]
    rng = np.random.default_rng(0)
    strip = 500
    for y0 in range(0, HEIGHT, strip):
        y = np.linspace(y0 / HEIGHT, (y0 + strip) / HEIGHT, strip, endpoint=False,
                        dtype=np.float32)[:, None]
        channels = [0.5 + 0.4 * np.sin(6 * x + 3 * y), 0.3 + 0.6 * y + 0 * x,
                    0.5 + 0.3 * np.cos(9 * x * y)]
        block = np.stack(channels, axis=2) * 255 + rng.normal(0, 6, (strip, WIDTH, 1))
        image[y0:y0 + strip] = np.clip(block, 0, 255).astype(np.uint8)
    picture = Image.fromarray(image)
    paths = {}
    for fmt in formats:
        paths[fmt] = folder / f"photo_12000x9000.{fmt}"
        options = {"quality": 90} if fmt == "jpg" else {"compress_level": 1}
        picture.save(paths[fmt], **options)
    return paths


#: Runs the command given as arguments; prints its exit status and peak RSS (KiB).
_LAUNCHER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measure(argv: list[str]) -> dict:
    """Run ``python -m photostyle ARGV`` in a fresh process: exit status, wall seconds, peak
    RSS of the whole process (bytes), the last stderr line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "photostyle",
                           *argv], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    code, peak_kib = (int(v) for v in done.stdout.split()[-2:])
    lines = [line for line in done.stderr.strip().splitlines() if line]
    return {"exit": code, "wall_s": round(wall, 2), "peak_rss_bytes": peak_kib * 1024,
            "peak_rss_gib": peak_kib / 2**20, "stderr_last": lines[-1] if lines else ""}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path,
                   default=ROOT / "benchmarks" / "results" / "huge_image_memory.json")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--formats", nargs="+", default=["png", "jpg"], choices=("png", "jpg"))
    p.add_argument("--args", default="", help="more options for the weight-free runs")
    p.add_argument("--neural", action="store_true", help="also the neural method at --size 64")
    p.add_argument("--make", nargs="+", metavar=("FOLDER", "FORMAT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.make:  # the child that makes the photo
        make_photo(Path(args.make[0]), args.make[1:])
        return 0
    extra = shlex.split(args.args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="photostyle_huge_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        photos = {fmt: folder / f"photo_12000x9000.{fmt}" for fmt in args.formats}
        subprocess.run([sys.executable, __file__, "--make", str(folder), *args.formats],
                       check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        print(f"made {', '.join(p.name for p in photos.values())} in "
              f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
        runs = [(f"preview --size {args.size} {' '.join(extra)}".strip(), fmt,
                 ["--quality", "preview", "--size", str(args.size), *extra])
                for fmt in photos]
        if "png" in photos:
            runs.append(("preview --size 12000 (refused)", "png",
                         ["--quality", "preview", "--size", "12000"]))
        if args.neural:
            runs += [("neural --size 64, 2+2 steps, random weights", fmt,
                      ["--vgg-weights", "random", "--size", "64", "--iters", "2,2"])
                     for fmt in photos]
        for name, fmt, options in runs:
            out = folder / f"out_{len(rows)}.png"
            row = {"run": name, "format": fmt, "file_mb": round(photos[fmt].stat().st_size / 1e6,
                                                                 1),
                   **measure([str(photos[fmt]), str(STYLE), "-o", str(out), "-q", *options])}
            if out.exists():
                with Image.open(out) as img:
                    row["out_size"] = list(img.size)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    header = "| run | photo | exit | peak RSS (GiB) | wall (s) | output |"
    print(header)
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        size = "x".join(map(str, row.get("out_size", []))) or row["stderr_last"][:60]
        print(f"| {row['run']} | 12000x9000 {row['format']} ({row['file_mb']} MB) | "
              f"{row['exit']} | {row['peak_rss_gib']:.2f} | {row['wall_s']:.1f} | {size} |")
    result = {"photo": f"{WIDTH}x{HEIGHT}", "style": str(STYLE.relative_to(ROOT)),
              "target_peak_gib_at_512": 1.5, "python": sys.version.split()[0],
              "cpus": os.cpu_count(), "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(result, indent=2))
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
