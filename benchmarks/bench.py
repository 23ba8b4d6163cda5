"""Speed and memory of a photostyle run: per-step times, stage wall times, peak memory.

Usage::

    python benchmarks/bench.py [--sizes 256 512] [--iters 20,20] [--device cpu]
                               [--vgg-weights random] [--json benchmarks/results/bench.json]

Each size runs in its own subprocess so that peak memory (RSS on the CPU, max allocated on
CUDA) belongs to that size alone. The image pair is the example in data/. With random weights
the figures are the same as with ImageNet weights (same network, same work). Prints a table and
writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def machine(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, " \
           f"{torch.get_num_threads()} threads"


def one(size: int, iters: tuple[int, int], device: str, weights: str) -> dict:
    """Run one transfer in this process and return its measurements."""
    import torch

    from photostyle import Config, VGG19Features, load_image, transfer
    from segment import align_masks, load_color_mask

    dev = torch.device(device)
    content = load_image(DATA / "rocket_content.png", device=dev)
    style = load_image(DATA / "rocket_style.png", device=dev)
    aligned = align_masks(
        load_color_mask(DATA / "rocket_content_mask.png", tuple(content.shape[-2:])),
        load_color_mask(DATA / "rocket_style_mask.png", tuple(style.shape[-2:])))
    model = VGG19Features(weights).to(dev)
    config = Config(size=size, iters=iters, vgg_weights=weights)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = transfer(content, style, aligned.content_labels, aligned.style_labels,
                      config=config, model=model)
    total = time.perf_counter() - t0
    hist = result.history

    def per_step(stage: int) -> float:
        rows = [r for r in hist if r["stage"] == stage]
        if len(rows) < 3:
            return float("nan")
        # skip the first step (warm-up); elapsed is cumulative within the stage
        return (rows[-1]["elapsed"] - rows[0]["elapsed"]) / (len(rows) - 1)

    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        peak_kind = "cuda max allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kind = "RSS"
    h, w = result.image.shape[-2:]
    return {
        "size": size, "height": h, "width": w, "iters": list(iters), "device": device,
        "machine": machine(device), "weights": weights,
        "step_stage1_s": per_step(1), "step_stage2_s": per_step(2),
        **{f"{k}_s": v for k, v in result.timings.items()},
        "total_s": total, "peak_mib": peak, "peak_kind": peak_kind,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--iters", default="20,20")
    p.add_argument("--device", default="cpu")
    p.add_argument("--vgg-weights", default="random")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bench.json")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    iters = tuple(int(n) for n in args.iters.split(","))
    if args.one is not None:
        print(json.dumps(one(args.one, iters, args.device, args.vgg_weights)))
        return 0
    rows = []
    for size in args.sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--iters", args.iters,
             "--device", args.device, "--vgg-weights", args.vgg_weights],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"machine: {rows[0]['machine']}   iters: {args.iters}   weights: {args.vgg_weights}")
    head = ("size", "HxW", "step1 s", "step2 s", "stage1 s", "laplacian s", "stage2 s",
            "post s", "total s", "peak MiB")
    print("  ".join(f"{h:>11}" for h in head))
    for r in rows:
        cells = (r["size"], f"{r['height']}x{r['width']}", f"{r['step_stage1_s']:.3f}",
                 f"{r['step_stage2_s']:.3f}", f"{r.get('stage1_s', 0):.1f}",
                 f"{r.get('laplacian_s', 0):.2f}", f"{r.get('stage2_s', 0):.1f}",
                 f"{r.get('post_s', 0):.2f}", f"{r['total_s']:.1f}",
                 f"{r['peak_mib']:.0f}")
        print("  ".join(f"{c:>11}" for c in cells))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.json.parent, suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(rows, handle, indent=2)
    os.replace(tmp, args.json)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
