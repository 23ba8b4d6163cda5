"""Local-affine post-process: the torch version against the numpy/OpenCV port, one thread.

Usage::

    python benchmarks/bench_local_affine.py [--sizes 512x342 700x467] [--scales 0.5 1]
        [--dtypes float32 float64] [--repeat 5] [--big-size 3840x2160]
        [--big-scales 0.25 0.5] [--big-repeat 3] [--json PATH]

* For each ``WxH`` of ``--sizes``, scale and dtype: the best of ``--repeat`` runs of
  ``matting.local_affine.local_affine_post`` (``(1, 3, H, W)`` tensors) and of
  ``matting.local_affine_numpy.local_affine_post_numpy`` (``(H, W, 3)`` arrays) on the same
  synthetic photo and stylized output, their ratio, and the largest difference of the results.
* ``--big-size`` (numpy only, float32 and float64): each scale of ``--big-scales`` in a fresh
  subprocess that loads the numpy module by its path (so torch is never imported there), best
  of ``--big-repeat`` after a warm-up, with the peak resident memory
  ``resource.getrusage(...).ru_maxrss`` after the runs, its value before them (imports and the
  two inputs), and their difference (which includes the first run's import of
  ``scipy.sparse``, about 20 MB). Linux carries a process's ``ru_maxrss`` over ``fork`` +
  ``exec``, so these subprocesses are started first, before this process imports torch (a few
  hundred MB that would otherwise become every child's floor); ``VmHWM`` of
  ``/proc/self/status`` (the high-water mark of the child's own address space) is saved too,
  as a check.

One thread everywhere: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1
set before numpy is imported, ``torch.set_num_threads(1)``, ``cv2.setNumThreads(1)``. The
machine may be shared: best-of timings, and the load average is printed and saved. Prints a
table; ``--json PATH`` writes every figure.
"""

from __future__ import annotations

import os

# One thread, set before numpy, torch or OpenCV start their thread pools.
os.environ.update(dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"),
                                "1"))

import argparse
import importlib.util
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "matting" / "local_affine_numpy.py"


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def parse_size(size: str) -> tuple[int, int]:
    """``"WxH"`` -> ``(h, w)``."""
    w, h = (int(s) for s in size.lower().split("x"))
    return h, w


def pair(h: int, w: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic photo (gradients, an edge, texture) and a noisy recolouring of it, as
    ``(H, W, 3)`` arrays of ``dtype``, filled band by band (no full-size float64
    temporaries, so that the memory before the runs is about the inputs)."""
    content = np.empty((h, w, 3), dtype=dtype)
    output = np.empty((h, w, 3), dtype=dtype)
    rng = np.random.default_rng(0)
    xx = np.arange(w)[None, :] / max(h, w)
    mix = np.array([[0.6, 0.3, 0.1], [0.1, 0.7, 0.2], [0.2, 0.1, 0.6]])
    for y0 in range(0, h, 256):
        yy = np.arange(y0, min(h, y0 + 256))[:, None] / max(h, w)
        img = np.stack(np.broadcast_arrays(0.2 + 0.5 * xx, 0.3 + 0.4 * yy,
                                           0.6 - 0.3 * xx * yy), axis=-1)
        img = np.where((xx + 0.5 * yy > 0.55)[..., None], img * [0.6, 1.1, 0.8], img)
        img = np.clip(img + 0.03 * rng.standard_normal(img.shape), 0, 1)
        content[y0 : y0 + len(yy)] = img
        output[y0 : y0 + len(yy)] = np.clip(
            img @ mix.T + 0.05 + 0.04 * rng.standard_normal(img.shape), 0, 1
        )
    return output, content


def load_numpy_module():
    """``matting/local_affine_numpy.py`` loaded by its path: without ``matting/__init__``,
    which imports torch."""
    spec = importlib.util.spec_from_file_location("local_affine_numpy_bench", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def big_child(size: str, scale: float, dtype: str, repeat: int) -> None:
    """In a fresh process (no torch): time the numpy post at ``size`` and print JSON with the
    peak resident memory."""
    import cv2

    cv2.setNumThreads(1)
    lan = load_numpy_module()
    h, w = parse_size(size)
    output, content = pair(h, w, dtype)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    lan.local_affine_post_numpy(output, content, scale=scale)  # warm-up: lazy scipy import
    seconds = best_of(lambda: lan.local_affine_post_numpy(output, content, scale=scale), repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "size": size, "scale": scale, "dtype": dtype, "numpy_s": seconds,
        "peak_rss_mb": peak / 2**20, "rss_before_mb": before / 2**20,
        "added_mb": (peak - before) / 2**20, "vmhwm_mb": _vmhwm() / 2**20,
        "inputs_mb": (output.nbytes + content.nbytes) / 2**20,
        "torch_imported": "torch" in sys.modules,
    }))


def _vmhwm() -> float:
    """Peak resident set of this address space (``VmHWM``, Linux), in bytes; NaN elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return float("nan")


def bench_small(sizes: list[str], scales: list[float], dtypes: list[str], repeat: int
                ) -> list[dict[str, object]]:
    import cv2
    import torch

    from matting.local_affine import local_affine_post
    from matting.local_affine_numpy import local_affine_post_numpy

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    rows = []
    for size in sizes:
        h, w = parse_size(size)
        for dtype in dtypes:
            output, content = pair(h, w, dtype)
            t_out, t_con = (torch.from_numpy(a.transpose(2, 0, 1).copy())[None]
                            for a in (output, content))
            for scale in scales:
                ours = local_affine_post_numpy(output, content, scale=scale)  # warm-up
                theirs = local_affine_post(t_out, t_con, scale=scale)
                diff = float(np.abs(ours - theirs[0].permute(1, 2, 0).numpy()).max())
                t_torch = best_of(
                    lambda o=t_out, c=t_con, s=scale: local_affine_post(o, c, scale=s), repeat
                )
                t_numpy = best_of(
                    lambda o=output, c=content, s=scale: local_affine_post_numpy(o, c, scale=s),
                    repeat,
                )
                row = {"size": size, "scale": scale, "dtype": dtype, "torch_s": t_torch,
                       "numpy_s": t_numpy, "ratio": t_numpy / t_torch, "max_abs_diff": diff}
                rows.append(row)
                print(f"{size:>10} {scale:>5g} {dtype:>8} {t_torch * 1e3:10.1f} "
                      f"{t_numpy * 1e3:10.1f} {t_numpy / t_torch:6.2f} {diff:10.1e}", flush=True)
    return rows


def bench_big(size: str, scales: list[float], dtypes: list[str], repeat: int
              ) -> list[dict[str, object]]:
    rows = []
    for dtype in dtypes:
        for scale in scales:
            run = subprocess.run(
                [sys.executable, __file__, "--big-child", size, str(scale), dtype, str(repeat)],
                check=True, capture_output=True, text=True,
            )
            row = json.loads(run.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{size:>10} {scale:>5g} {dtype:>8} {'-':>10} {row['numpy_s'] * 1e3:10.1f} "
                  f"{'-':>6} {'-':>10}   peak RSS {row['peak_rss_mb']:.0f} MB (before "
                  f"{row['rss_before_mb']:.0f}, added {row['added_mb']:.0f}; inputs "
                  f"{row['inputs_mb']:.0f})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["512x342", "700x467"])
    parser.add_argument("--scales", nargs="+", type=float, default=[0.5, 1.0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                        choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big-size", default="3840x2160", help="'' to skip")
    parser.add_argument("--big-scales", nargs="+", type=float, default=[0.25, 0.5])
    parser.add_argument("--big-repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures to this path")
    parser.add_argument("--big-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.big_child:
        size, scale, dtype, repeat = args.big_child
        big_child(size, float(scale), dtype, int(repeat))
        return {}

    report: dict[str, object] = {
        "python": platform.python_version(), "numpy": np.__version__,
        "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "threads": 1, "repeat": args.repeat, "load_before": os.getloadavg(),
    }
    print(f"one thread, best of {args.repeat} ({args.big_repeat} for {args.big_size or '-'}); "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'size':>10} {'scale':>5} {'dtype':>8} {'torch ms':>10} {'numpy ms':>10} "
          f"{'ratio':>6} {'max diff':>10}")
    if args.big_size:  # first: before torch is imported here (see the module docstring)
        report["big"] = bench_big(args.big_size, args.big_scales, args.dtypes,
                                  args.big_repeat)
    report["rows"] = bench_small(args.sizes, args.scales, args.dtypes, args.repeat)
    report["load_after"] = os.getloadavg()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        from photostyle.io.files import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
