"""The GPU check of issue #18: prove photostyle's CUDA paths and measure them, in one command.

On a machine with a CUDA device (the project's lent H100/H200: python3 there already has torch,
torchvision, scipy, scikit-image, OpenCV, Pillow, tqdm, pytest and lazy-loader)::

    PYTHONPATH=$PWD python3 benchmarks/gpu_check.py --out "$OUT" [--budget 460]

From this repository's root (the device tool's ``run`` copies the working tree there). It:

1. prints and records the device (name, memory, driver), torch, CUDA and cuDNN versions;
2. runs the CUDA tests (``pytest -m cuda``: tests/gpu and the CUDA test of the histogram loss);
3. measures, each in its own process with a time limit, as long as the budget lasts (items
   left out are listed as skipped):

   - the per-step split (bare VGG forward + backward against the full step of the real loop)
     at 512, 700, 1024 and 2048 px (``bench.py --child steps``);
   - ``--quality default`` end to end at 700 and 1024 px (``bench.py --child preset``);
   - ``--quality max`` steps per second at 700 px (100 single-scale stage-2 steps);
   - peak CUDA memory (``torch.cuda.max_memory_allocated``) against
     :func:`photostyle.neural.memory.estimate_peak_memory` at 700, 2048 and 3840 px (20
     single-scale steps, a 20-pair L-BFGS history), and the CUDA overhead factor refitted
     from them;
   - the full step at 1024 px plain, with ``--compile``, with ``--autocast`` and with
     channels-last off (on is CUDA's default);
   - where the features exist: a trained look's training steps per second and inference
     milliseconds per megapixel at 4K (``benchmarks/looks.py``), and batch items per minute
     on the device (``benchmarks/batch.py``);

4. writes ``gpu_check.json`` (every figure) and ``gpu_check.md`` (the tables for
   ``benchmarks/RESULTS.md``, headed by the device's name) into ``--out``.

Every figure is measured; nothing is estimated or carried over. With ``--device cpu --quick`` it
smoke-tests itself on a machine without a GPU (tiny sizes; the tests then run the same code on
the CPU against itself, ``PHOTOSTYLE_TEST_DEVICE=cpu``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench.py"

#: The measurements, in the order they run: (name, sizes).
FULL = {"steps": (512, 700, 1024, 2048), "default": (700, 1024), "max_rate": (700,),
        "memory": (700, 2048, 3840), "flags": (1024,)}
QUICK = {"steps": (128,), "default": (128,), "max_rate": (128,), "memory": (128,),
         "flags": (128,)}


class Budget:
    """Seconds left before ``--budget`` is spent (each child gets at most what is left)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def _env(device: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if device != "cuda":
        env["PHOTOSTYLE_TEST_DEVICE"] = device
    return env


def _run(cmd: list[str], budget: Budget, limit: float, device: str) -> tuple[int, str, str]:
    """Run ``cmd`` with at most ``limit`` seconds (and what the budget has left)."""
    timeout = min(limit, budget.left())
    if timeout < 5:
        return -1, "", "skipped: the time budget is spent"
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(device),
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return -2, out, f"timed out after {timeout:.0f} s"
    return done.returncode, done.stdout, done.stderr


def device_info(device: str) -> dict:
    """The machine: GPU name, memory, driver; torch, CUDA and cuDNN versions."""
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "device": device, "cpu_count": os.cpu_count()}
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count)
        if shutil.which("nvidia-smi"):
            query = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                    "--format=csv,noheader"], capture_output=True, text=True)
            info["driver"] = query.stdout.strip()
    return info


def run_tests(device: str, budget: Budget) -> dict:
    """``pytest -m cuda`` (tests/gpu and the histogram loss's CUDA test)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
           "tests/gpu", "tests/neural/test_histogram.py", "-rs"]
    code, out, err = _run(cmd, budget, 240, device)
    tail = (out + err).strip().splitlines()
    return {"exit": code, "summary": tail[-1] if tail else "", "output": "\n".join(tail[-40:])}


def _child(args: list[str], budget: Budget, limit: float, device: str) -> dict:
    """One ``bench.py --child …`` measurement (its last stdout line is a JSON row)."""
    cmd = [sys.executable, str(BENCH), "--child", *args, "--device", device,
           "--vgg-weights", "random", "--reps", "3"]
    code, out, err = _run(cmd, budget, limit, device)
    if code != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {code}"}
    return json.loads(out.strip().splitlines()[-1])


def _flags_child(size: int, flags: str, device: str) -> dict:
    """In this process: seconds per full stage-2 step at ``size`` with ``flags`` (``plain``,
    ``compile``, ``autocast``, ``contiguous``): 5 warm-up steps (compilation included), then
    30 timed ones."""
    import torch
    from bench import load_example  # this script's folder is on the path (run as a script)

    from photostyle import Config, transfer

    content, style, c_labels, s_labels = load_example(device)
    config = Config(size=size, vgg_weights="random", post=False, progress_every=10**6,
                    compile=flags == "compile", autocast=flags == "autocast",
                    channels_last=False if flags == "contiguous" else None)
    rows = {}
    for name, steps in (("warmup", 5), ("timed", 30)):
        run = config.replace(schedule=((0, steps),))
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = transfer(content, style, c_labels, s_labels, config=run)
        if device == "cuda":
            torch.cuda.synchronize()
        rows[name] = {"total_s": time.perf_counter() - start,
                      "stage2_s": result.timings["stage2"]}
    return {"size": size, "flags": flags, "warmup_s": rows["warmup"]["total_s"],
            "step_s": rows["timed"]["stage2_s"] / 30}


def measure(device: str, sizes: dict, budget: Budget, only: set[str] | None = None) -> dict:
    """Every measurement of the check that the budget allows (``only``: these kinds)."""
    sizes = {k: (v if only is None or k in only else ()) for k, v in sizes.items()}
    out: dict = {"steps": [], "default": [], "max_rate": [], "memory": [], "flags": [],
                 "skipped": []}
    for size in sizes["steps"]:
        out["steps"].append(_child(["steps", str(size)], budget, 150, device))
    for size in sizes["default"]:
        out["default"].append(_child(["preset", str(size), "default"], budget, 150, device))
    for size in sizes["max_rate"]:
        row = _child(["memory", str(size), "100", "100"], budget, 150, device)
        if "total_s" in row:
            row["steps_per_s"] = 100 / row["stage2_s"] if row.get("stage2_s") else None
        out["max_rate"].append(row)
    for size in sizes["memory"]:
        out["memory"].append(_child(["memory", str(size), "20", "20"], budget, 150, device))
    for size in sizes["flags"]:
        for flags in ("plain", "compile", "autocast", "contiguous"):
            cmd = [sys.executable, __file__, "--flags-child", str(size), flags, "--device",
                   device]
            code, stdout, err = _run(cmd, budget, 180, device)
            row = json.loads(stdout.strip().splitlines()[-1]) if code == 0 else \
                {"size": size, "flags": flags, "error": err.strip().splitlines()[-1]
                 if err.strip() else f"exit {code}"}
            out["flags"].append(row)
    batch = ["--workers", "1", "--repeat", "1", "--count", "8", "--method",
             f"--quality draft --vgg-weights random --devices {device}"]
    looks = ["--device", device, "--sizes", "3840", "--reps", "3", "--no-optimization"]
    for script, args in (("looks.py", looks), ("batch.py", batch)):
        if only is not None and script[:-3] not in only:
            continue
        path = ROOT / "benchmarks" / script
        if not path.is_file():
            out["skipped"].append(f"{script}: not in this checkout")
            continue
        code, stdout, err = _run([sys.executable, str(path), *args], budget, 180, device)
        out[script] = {"exit": code, "output": (stdout + err).strip().splitlines()[-30:]}
    return out


def overhead_fit(memory_rows: list[dict]) -> dict | None:
    """The CUDA overhead factor refitted: the current factor
    (``photostyle.neural.memory.OVERHEAD["cuda"]``) times the median measured / estimated
    peak."""
    from photostyle.neural import memory

    ratios = [r["peak_bytes"] / r["estimate_bytes"] for r in memory_rows
              if r.get("peak_bytes") and r.get("estimate_bytes")]
    if not ratios:
        return None
    current = memory.OVERHEAD["cuda"]
    return {"ratios": ratios, "current": current,
            "refit": round(current * statistics.median(ratios), 3)}


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f}"


def markdown(result: dict) -> str:
    """The tables for benchmarks/RESULTS.md."""
    info, m = result["machine"], result["measurements"]
    lines = [f"## GPU: {info.get('gpu', info['device'])}", "",
             f"torch {info['torch']}, CUDA {info['cuda']}, cuDNN {info['cudnn']}, driver "
             f"{info.get('driver', '?')}; `PYTHONPATH=$PWD python3 benchmarks/gpu_check.py "
             f"--out OUT`; random VGG weights (same network and work as trained ones).", "",
             f"CUDA tests: {result['tests']['summary']}", "",
             "| long side | bare VGG f+b (s) | full step (s) | full / bare |",
             "| --- | --- | --- | --- |"]
    for r in m["steps"]:
        if "error" in r:
            lines.append(f"| ? | error: {r['error']} | | |")
        else:
            lines.append(f"| {r['size']} | {r['bare_step_s']:.4f} | {r['full_step_s']:.4f} | "
                         f"{r['ratio']:.2f} |")
    lines += ["", "| end to end | total (s) | peak GiB | estimate GiB |",
              "| --- | --- | --- | --- |"]
    for r in m["default"] + m["memory"]:
        if "error" in r:
            lines.append(f"| error: {r['error']} | | | |")
            continue
        what = f"{r['size']} px {r['quality']}"
        lines.append(f"| {what} | {r['total_s']:.1f} | {_gib(r['peak_bytes'])} | "
                     f"{_gib(r['estimate_bytes'])} |")
    for r in m["max_rate"]:
        if r.get("steps_per_s"):
            lines.append(f"\n`--quality max` rate at {r['size']} px: {r['steps_per_s']:.1f} "
                         f"steps/s (stage 2, single scale).")
    lines += ["", "| full step: options | long side | s per step | first 5 steps (s, compile "
              "included) |", "| --- | --- | --- | --- |"]
    for r in m["flags"]:
        if "error" in r:
            lines.append(f"| {r['flags']} | {r['size']} | error: {r['error']} | |")
        else:
            lines.append(f"| {r['flags']} | {r['size']} | {r['step_s']:.4f} | "
                         f"{r['warmup_s']:.1f} |")
    fit = result.get("overhead")
    if fit:
        lines.append(f"\nCUDA overhead factor: measured/estimated peaks "
                     f"{', '.join(f'{x:.2f}' for x in fit['ratios'])}; factor "
                     f"{fit['current']} → {fit['refit']}.")
    if m["skipped"]:
        lines.append("\nSkipped: " + "; ".join(m["skipped"]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--budget", type=float, default=460.0,
                   help="seconds for the whole check (default 460: fits an 8-minute call)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--no-tests", action="store_true")
    p.add_argument("--only", nargs="+", choices=(*FULL, "looks", "batch"),
                   help="run only these measurements")
    p.add_argument("--flags-child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.flags_child:
        print(json.dumps(_flags_child(int(args.flags_child[0]), args.flags_child[1],
                                      args.device)))
        return 0
    budget = Budget(args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": device_info(args.device)}
    print(json.dumps(result["machine"]), flush=True)
    result["tests"] = {"summary": "not run"} if args.no_tests else run_tests(args.device, budget)
    print(f"tests: {result['tests']['summary']}", flush=True)
    result["measurements"] = measure(args.device, QUICK if args.quick else FULL, budget,
                                     None if args.only is None else set(args.only))
    result["overhead"] = overhead_fit(result["measurements"]["memory"]) \
        if args.device == "cuda" else None
    from photostyle.io.files import atomic_write_text

    atomic_write_text(args.out / "gpu_check.json", json.dumps(result, indent=2))
    text = markdown(result)
    atomic_write_text(args.out / "gpu_check.md", text)
    print(text)
    return 0 if result["tests"].get("exit", 0) in (0, 5) else 1


if __name__ == "__main__":
    sys.exit(main())
