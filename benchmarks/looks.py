"""Speed of looks: forward pass per megapixel, the whole ``photostyle run --model`` process
against the optimization, and training steps per second.

Usage::

    python benchmarks/looks.py [--device cpu|cuda] [--sizes 512 1024 2048] [--reps 5]
                               [--archs bilateral johnson] [--train-steps 4] [--no-process]
                               [--no-optimization] [--json benchmarks/results/looks.json]

* **Forward pass** (this process): ``Look(image)`` under ``torch.inference_mode()`` for each
  architecture at its default size, on a 4:3 image of each long side; median of ``--reps``
  after a warm-up (``torch.cuda.synchronize()`` on CUDA), and milliseconds per megapixel.
  Untrained networks: the work does not depend on the weights.
* **Whole process** (CPU, fresh processes, one run each as the issue asks; ``--reps`` for
  more): ``photostyle run C --model LOOK.pt -o OUT`` with the example content upscaled to 1024
  px (a bilateral look at full resolution; a Johnson look at ``--size 1024``), against
  ``photostyle run C S -o OUT --quality default --vgg-weights random`` at 512 px on the
  example pair with its masks (the README's figure), and ``python -c "import torch"`` alone,
  the floor of any torch process. Both are reported as wall time of the process, with the
  forward pass of the look as the command prints it.
* **Training** (this process): seconds per step of :func:`photostyle.looks.train.train` at
  256 px crops, batch 4, random VGG weights (the same work as ImageNet weights), for each
  architecture: the median over ``--train-steps`` steps after the first.

Prints tables and writes JSON. The machine, the torch threads and the load average are
recorded: on a shared machine every figure is slower than it would be alone.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import load_average, machine, machine_text, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
PHOTOSTYLE = [sys.executable, "-m", "photostyle"]
CPU_SIZES = [512, 1024, 2048]
GPU_SIZES = [512, 1024, 2048, 4096]


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def forward(arch: str, long_side: int, device: str, reps: int) -> dict:
    """Median forward time of an untrained look of ``arch`` on a 4:3 image."""
    import torch

    from photostyle.looks.look import new_look

    look = new_look(arch, device=device).eval()
    h, w = round(long_side * 3 / 4), long_side
    image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    with torch.inference_mode():
        look(image)
        _sync(device)
        for _ in range(reps):
            start = time.perf_counter()
            look(image)
            _sync(device)
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    megapixels = h * w / 1e6
    return {"arch": arch, "device": device, "height": h, "width": w, "seconds": seconds,
            "best_seconds": min(times), "ms_per_megapixel": 1000 * seconds / megapixels}


def _process(args: list[str], reps: int) -> dict:
    """Wall seconds of ``args`` in fresh processes (each run) and the last stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    times, err = [], ""
    for _ in range(reps):
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        err = done.stderr
    return {"seconds": times, "best_seconds": min(times), "stderr": err.strip()}


def process(archs: list[str], reps: int, optimization: bool) -> dict:
    """The whole-process comparison (CPU)."""
    from photostyle.io.images import read_image, resize_image, save_image
    from photostyle.looks.checkpoint import Checkpoint, write_checkpoint
    from photostyle.looks.look import new_look

    rows: dict = {"torch_import": _process([sys.executable, "-c", "import torch"], reps)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        content = read_image(DATA / "rocket_content.png")
        big = folder / "content_1024.png"
        save_image(resize_image(content, (round(content.shape[0] * 1024 / content.shape[1]),
                                          1024)), big)
        for arch in archs:
            net = new_look(arch).network
            look = folder / f"{arch}.pt"
            write_checkpoint(look, Checkpoint(arch, net.hparams, net.state_dict(), 0, "", "",
                                              "random", "random", True, {}, {}))
            size = ["--size", "1024"] if arch == "johnson" else []
            row = _process([*PHOTOSTYLE, "run", str(big), "--model", str(look), "-o",
                            str(folder / f"{arch}.png"), *size, "--device", "cpu"], reps)
            found = re.search(r"forward ([0-9.]+)s", row["stderr"])
            row["forward_seconds"] = float(found.group(1)) if found else None
            rows[f"look_{arch}_1024"] = row
        if optimization:
            rows["optimization_default_512"] = _process(
                [*PHOTOSTYLE, "run", str(DATA / "rocket_content.png"),
                 str(DATA / "rocket_style.png"), "--content-mask",
                 str(DATA / "rocket_content_mask.png"), "--style-mask",
                 str(DATA / "rocket_style_mask.png"), "-o", str(folder / "opt.png"),
                 "--quality", "default", "--size", "512", "--vgg-weights", "random",
                 "--device", "cpu", "-q"], 1)
    return rows


def training(arch: str, device: str, steps: int, size: int = 256) -> dict:
    """Seconds per training step (median after the first) at ``size`` px crops, batch 4."""
    import torch

    from photostyle import Config
    from photostyle.io.tensors import load_image
    from photostyle.looks.options import TrainOptions
    from photostyle.looks.train import train

    photos = [load_image(DATA / name) for name in (
        "rocket_content.png", "rocket_style.png", "coffee_content.png", "coffee_style.png",
        "strokes_style.png")]
    style = load_image(DATA / "rocket_style.png", device=device)
    stamps: list[float] = []
    start = time.perf_counter()

    def tick(info) -> None:
        _sync(device)
        stamps.append(time.perf_counter())

    train(photos, style, config=Config(vgg_weights="random", progress_every=1),
          options=TrainOptions(arch=arch, size=size, steps=steps + 1), callback=tick)
    per_step = statistics.median(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    return {"arch": arch, "device": device, "size": size, "batch": 4,
            "seconds_per_step": per_step, "steps_per_second": 1 / per_step,
            "first_step_seconds": stamps[0] - start,
            "threads": torch.get_num_threads()}


def report(result: dict) -> str:
    lines = [f"machine: {machine_text(result['machine'])}; load average before "
             f"{result['load_before']}, after {result['load_after']}", "",
             "| arch | device | image | forward (median) | ms per megapixel |",
             "| --- | --- | --- | --- | --- |"]
    for row in result["forward"]:
        lines.append(f"| {row['arch']} | {row['device']} | {row['width']}x{row['height']} | "
                     f"{1000 * row['seconds']:.1f} ms | {row['ms_per_megapixel']:.1f} |")
    rows = result.get("process") or {}
    if rows:
        lines += ["", "| whole process (CPU) | wall, best of runs | forward pass |",
                  "| --- | --- | --- |"]
        for key, row in rows.items():
            forward_s = row.get("forward_seconds")
            lines.append(f"| {key} | {row['best_seconds']:.2f} s | "
                         f"{'' if forward_s is None else f'{forward_s:.2f} s'} |")
        reference = rows.get("optimization_default_512")
        if reference is not None:
            for key, row in rows.items():
                if key.startswith("look_"):
                    ratio = reference["best_seconds"] / row["best_seconds"]
                    fwd = row.get("forward_seconds")
                    fwd_ratio = "" if not fwd else \
                        f", forward pass {reference['best_seconds'] / fwd:.0f}x"
                    lines.append(f"\n{key}: whole process {ratio:.0f}x faster than "
                                 f"--quality default at 512{fwd_ratio}")
    if result["training"]:
        lines += ["", "| training | device | crops | s per step | steps per s |",
                  "| --- | --- | --- | --- | --- |"]
        for row in result["training"]:
            lines.append(f"| {row['arch']} | {row['device']} | {row['size']} px x 4 | "
                         f"{row['seconds_per_step']:.3f} | {row['steps_per_second']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help=f"long sides of the forward pass (default {CPU_SIZES}; CUDA "
                        f"{GPU_SIZES})")
    p.add_argument("--archs", nargs="+", default=["bilateral", "johnson"],
                   choices=("bilateral", "johnson"))
    p.add_argument("--reps", type=int, default=5, help="forward passes timed (median)")
    p.add_argument("--process-reps", type=int, default=1,
                   help="runs of each whole process (the issue asks for one)")
    p.add_argument("--train-steps", type=int, default=4, help="training steps timed (0: none)")
    p.add_argument("--no-process", action="store_true", help="skip the whole-process runs")
    p.add_argument("--no-optimization", action="store_true",
                   help="skip the --quality default run (about 2 minutes on a CPU)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "looks.json")
    args = p.parse_args(argv)

    import torch

    cuda = torch.device(args.device).type == "cuda"
    sizes = args.sizes or (GPU_SIZES if cuda else CPU_SIZES)
    result: dict = {"machine": machine(args.device), "load_before": load_average(),
                    "forward": [], "training": []}
    for arch in args.archs:
        for size in sizes:
            row = forward(arch, size, args.device, args.reps)
            result["forward"].append(row)
            print(f"forward {arch} {size}: {1000 * row['seconds']:.1f} ms", flush=True)
    if not args.no_process:
        result["process"] = process(args.archs, args.process_reps, not args.no_optimization)
    for arch in args.archs if args.train_steps > 0 else ():
        row = training(arch, args.device, args.train_steps)
        result["training"].append(row)
        print(f"training {arch}: {row['seconds_per_step']:.3f} s/step", flush=True)
    result["load_after"] = load_average()
    print(report(result))
    write_result(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
