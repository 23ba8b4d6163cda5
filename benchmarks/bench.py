"""Speed and memory of photostyle: per-step cost split, presets end to end, peak memory.

Usage::

    python benchmarks/bench.py [--sizes 256 512 700] [--presets draft default] [--device cpu]
                               [--reps 3] [--vgg-weights random] [--memory] [--no-steps]
                               [--style-loss gram|histogram|both] [--loss paper|relative]
                               [--json benchmarks/results/bench.json]

For each long side (default 256, 512, 700; and 1024, 2048 on CUDA), on the example pair in
``data/`` (its masks: 4 labels):

* **Laplacian setup**: building the matting term of the working-size content, for each
  operator ``matting.MattingRegularizer`` offers (``sparse`` CSR, ``matrix_free``), and one
  application of each (energy + gradient): the sparse vs matrix-free comparison.
* **Per step**, every part timed on its own after a warm-up (median of ``--reps``): the *bare
  step*, VGG-19 forward to the deepest layer used + backward to the image with a trivial loss;
  the losses (masked Gram style terms, histogram terms with ``--style-loss histogram|both``,
  content, TV: forward + backward from the features); the
  matting term (forward + backward); the optimizer update (L-BFGS with the history it has at
  the finest level of ``--quality default``); and a *full step* of the real loop (stage 2:
  objective, backward, best-image tracking, update). The ratio full step / bare step is the
  loop's overhead.
* **End to end per preset**: ``photostyle.transfer`` with ``Config(quality=...)`` (setup,
  every level, post-process), each preset in a fresh subprocess so that its peak memory —
  the rise of the process's peak RSS over the run on the CPU (``/proc/self/clear_refs``
  resets it), ``max_memory_allocated`` on CUDA — belongs to it alone, next to
  :func:`photostyle.neural.memory.estimate_peak_memory`. ``max`` (the paper's 1000 + 1000 steps at
  full size) is run on CUDA only; on the CPU its time is extrapolated from the full-step time
  and marked so.
* ``--memory``: the estimate against single-scale runs whose L-BFGS history fills up.

Figures measured with it, and the machine: ``benchmarks/RESULTS.md``.

Timings use ``time.perf_counter()`` (after ``torch.cuda.synchronize()`` on CUDA); the load
average is recorded, as other work on the machine slows everything down. With random weights
the figures are those of the ImageNet weights (same network, same work). Prints tables and
writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CPU_SIZES = [256, 512, 700]
GPU_SIZES = [256, 512, 700, 1024, 2048]


def machine(device: str) -> dict:
    """The machine, named: CPU model, cores, threads, torch version (and GPU on CUDA)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def machine_text(info: dict) -> str:
    gpu = f"{info['gpu']}, " if "gpu" in info else ""
    return (f"{gpu}{info['cpu']}, {info['cores']} cores, {info['threads']} torch threads, "
            f"torch {info['torch']}")


def load_example(device):
    """The example pair in data/ as tensors on ``device``, with its aligned label maps:
    content, style, content labels, style labels."""
    import torch

    from photostyle.io.tensors import load_image
    from segment import align_masks, load_color_mask

    dev = torch.device(device)
    content = load_image(DATA / "rocket_content.png", device=dev)
    style = load_image(DATA / "rocket_style.png", device=dev)
    aligned = align_masks(
        load_color_mask(DATA / "rocket_content_mask.png", tuple(content.shape[-2:])),
        load_color_mask(DATA / "rocket_style_mask.png", tuple(style.shape[-2:])))
    return content, style, aligned.content_labels, aligned.style_labels


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, reps: int) -> float:
    """Median wall time of ``fn()`` over ``reps`` runs after one warm-up."""
    fn()
    _sync(device)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def steps(size: int, device: str, weights: str, reps: int, style_loss: str = "gram",
          loss: str | None = None) -> dict:
    """Laplacian setup and the per-step cost split at long side ``size`` (this process), with
    the loss form ``loss`` (None: Config's rule for ``weights``)."""
    import torch

    from matting import MattingRegularizer
    from photostyle import Config
    from photostyle.neural.gram import MaskedGramLoss
    from photostyle.neural.inputs import prepare_inputs
    from photostyle.neural.objective import Objective
    from photostyle.neural.optim import LBFGS
    from photostyle.neural.transfer import run_stage
    from photostyle.neural.vgg import build_network

    content, style, c_labels, s_labels = load_example(device)
    config = Config(size=size, vgg_weights=weights, style_loss=style_loss, loss=loss)
    c, s, cm, sm, w = prepare_inputs(content, style, c_labels, s_labels, size)
    h, wd = c.shape[-2:]
    row: dict = {"size": size, "height": h, "width": wd, "labels": int(cm.shape[0]),
                 "loss": config.loss_form}

    # Laplacian: setup and one energy + gradient, per operator.
    x = c.detach().clone().requires_grad_(True)
    for op in ("sparse", "matrix_free"):
        t = time.perf_counter()
        reg = MattingRegularizer(c, weight=config.weight("matting_weight"), operator=op,
                                 normalize=config.loss_form == "relative")
        _sync(device)
        row[f"laplacian_setup_{op}_s"] = time.perf_counter() - t
        row[f"matting_{op}_s"] = _time(lambda reg=reg: reg(x).backward(), device, reps)

    model = build_network(config).to(device=c.device, dtype=c.dtype)
    channels_last = c.device.type == "cuda"
    objective = Objective(model, model, config, c, [s], cm, None if sm is None else [sm], w,
                           channels_last)
    layers = objective.layers

    def bare() -> None:
        xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        feats = model(xin, layers)
        sum(f.sum() for f in feats.values()).backward()

    row["bare_step_s"] = _time(bare, device, reps)
    with torch.no_grad():
        feats = model(x, layers)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in feats.items()}

    def losses() -> None:
        total = sum(MaskedGramLoss.apply(leaves[k], labels)
                    for k, labels in objective.style_terms.items())
        total = total + sum(loss(leaves[k]) for k, loss in objective.content_losses.items())
        total = total + sum(loss(leaves[k]) for k, loss in objective.histogram_terms.items())
        (total + objective.tv_loss(x)).backward()

    row["losses_s"] = _time(losses, device, reps)
    objective.add_matting()
    row["matting_s"] = _time(lambda: objective.matting(x).backward(), device, reps)
    row["matting_operator"] = getattr(objective.matting, "operator", "sparse")

    # Optimizer: the L-BFGS update with the history the finest level of --quality default
    # reaches (its stage-2 steps, at most history_size), filled with real-size vectors.
    history = min(config.history_size, Config().level_steps[-1][1])
    opt = LBFGS(x, history_size=history)
    with torch.no_grad():
        base = x.detach().clone()
        for _ in range(history + 1):
            opt.step(torch.randn_like(x))
        x.copy_(base)
    grad = torch.randn_like(x)

    def update() -> None:
        opt.step(grad)
        with torch.no_grad():
            x.copy_(base)

    row["optimizer_s"] = _time(update, device, reps)
    row["optimizer_history"] = history
    short = LBFGS(x, history_size=history)  # the history a short run of the loop has
    with torch.no_grad():
        for _ in range(reps // 2 + 1):
            short.step(torch.randn_like(x))
        x.copy_(base)
    row["optimizer_short_s"] = _time(lambda: (short.step(grad), x.data.copy_(base)), device,
                                     reps)

    # Full stage-2 steps of the real loop (objective, backward, best-image tracking, update;
    # no progress read until the last step), after one warm-up step. Its L-BFGS history is
    # short, so the history-`history` update time is swapped in for the ratio.
    def loop(n: int) -> None:
        run_stage(2, 1, 1, c, n, objective, config, 10**9, None, [])

    loop(1)
    _sync(device)
    t = time.perf_counter()
    loop(reps + 1)
    _sync(device)
    row["loop_step_s"] = (time.perf_counter() - t) / (reps + 1)
    row["full_step_s"] = row["loop_step_s"] + row["optimizer_s"] - row["optimizer_short_s"]
    row["ratio"] = row["full_step_s"] / row["bare_step_s"]

    # The same loop without masks (one label): how much of the overhead is the masked Grams.
    plain = Objective(model, model, config, c, [s], None, None, None, channels_last)
    plain.add_matting()
    run_stage(2, 1, 1, c, 1, plain, config, 10**9, None, [])
    _sync(device)
    t = time.perf_counter()
    run_stage(2, 1, 1, c, reps + 1, plain, config, 10**9, None, [])
    _sync(device)
    row["full_step_nomask_s"] = ((time.perf_counter() - t) / (reps + 1) + row["optimizer_s"]
                                 - row["optimizer_short_s"])
    row["ratio_nomask"] = row["full_step_nomask_s"] / row["bare_step_s"]
    row["rest_s"] = row["full_step_s"] - (row["bare_step_s"] + row["losses_s"]
                                          + row["matting_s"] + row["optimizer_s"])
    return row


def _rss() -> tuple[int, int]:
    """Current and peak resident set size (bytes) of this process."""
    now = peak = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return now, peak


def preset(size: int, quality: str, device: str, weights: str,
           schedule: tuple[int, int] | None = None, style_loss: str = "gram",
           loss: str | None = None) -> dict:
    """One end-to-end transfer with ``Config(quality=...)`` in this process (or, for the
    memory check, a single-scale ``schedule = (steps, history_size)`` of stage 2 only)."""
    import torch

    from photostyle import Config, transfer
    from photostyle.neural.memory import estimate_peak_memory

    content, style, c_labels, s_labels = load_example(device)
    config = Config(size=size, quality=quality, vgg_weights=weights, style_loss=style_loss,
                    loss=loss)
    if schedule is not None:
        config = config.replace(schedule=((0, schedule[0]),), history_size=schedule[1])
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM)
        base, _ = _rss()
    t = time.perf_counter()
    result = transfer(content, style, c_labels, s_labels, config=config)
    _sync(device)
    total = time.perf_counter() - t
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
        kind = "CUDA max allocated"
    else:
        peak = _rss()[1] - base
        kind = "RSS rise"
    h, w = result.image.shape[-2:]
    labels = len(set(c_labels.ravel().tolist()))
    estimate = estimate_peak_memory(h, w, config, device, labels=labels)
    return {
        "size": size, "quality": quality, "height": h, "width": w, "total_s": total,
        "levels": [[lv.width, lv.height, *lv.iters] for lv in result.levels],
        **{f"{k}_s": v for k, v in result.timings.items()},
        "peak_bytes": peak, "peak_kind": kind, "estimate_bytes": estimate,
        "rss_before_bytes": None if cuda else base,
    }


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f}"


def _table(head: list[str], rows: list[list]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(f"{c!s:>{w}}" for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def report(result: dict) -> str:
    """The printed tables of a bench result."""
    out = [f"machine: {machine_text(result['machine'])}   device: {result['device']}   "
           f"weights: {result['weights']}   load average before: {result['load_before']}   "
           f"after: {result['load_after']}"]
    s = result["steps"]
    if s:
        out.append("\nper step (median of reps; stage 2 at the working size; seconds)")
        head = ["size", "HxW", "bare VGG f+b", "losses", "matting", "optimizer", "full step",
                "ratio", "rest", "no masks: step", "ratio"]
        out.append(_table(head, [[r["size"], f"{r['height']}x{r['width']}",
                                  f"{r['bare_step_s']:.3f}", f"{r['losses_s']:.3f}",
                                  f"{r['matting_s']:.4f}", f"{r['optimizer_s']:.4f}",
                                  f"{r['full_step_s']:.3f}", f"{r['ratio']:.3f}",
                                  f"{r['rest_s']:+.3f}", f"{r['full_step_nomask_s']:.3f}",
                                  f"{r['ratio_nomask']:.3f}"] for r in s]))
        out.append(f"({s[0]['labels']} mask labels; losses = masked Gram style terms + content "
                   "+ TV, forward and backward from the features; matting: "
                   f"{s[0]['matting_operator']}; optimizer: L-BFGS update, history "
                   f"{s[0]['optimizer_history']}; rest = full step - the parts)")
        ops = [k[len("laplacian_setup_"):-2] for k in s[0] if k.startswith("laplacian_setup_")]
        out.append("\nmatting Laplacian: setup and one energy + gradient (seconds)")
        head = ["size"] + [f"setup {op}" for op in ops] + [f"apply {op}" for op in ops]
        out.append(_table(head, [[r["size"]] + [f"{r[f'laplacian_setup_{op}_s']:.3f}"
                                                for op in ops]
                                 + [f"{r[f'matting_{op}_s']:.4f}" for op in ops] for r in s]))
        if ops == ["sparse"]:
            out.append("(matting.MattingRegularizer has no operator= here: sparse path only)")
    p = result["presets"]
    if p:
        out.append("\nend to end per preset (seconds; memory in MiB)")
        head = ["size", "quality", "levels (WxH: s1+s2)", "total", "laplacian", "lapl %",
                "post", "peak", "estimate", "est/peak"]
        rows = []
        for r in p:
            levels = " ".join(f"{w}x{h}:{a}+{b}" for w, h, a, b in r["levels"])
            mark = " (est.)" if r.get("extrapolated") else ""
            peak = "-" if r["peak_bytes"] is None else _mib(r["peak_bytes"])
            ratio = "-" if r["peak_bytes"] is None else \
                f"{r['estimate_bytes'] / r['peak_bytes']:.2f}"
            rows.append([r["size"], r["quality"], levels, f"{r['total_s']:.1f}{mark}",
                         f"{r.get('laplacian_s', 0):.2f}",
                         f"{100 * r.get('laplacian_s', 0) / r['total_s']:.1f}",
                         f"{r.get('post_s', 0):.2f}", peak, _mib(r["estimate_bytes"]), ratio])
        out.append(_table(head, rows))
        out.append(f"peak: {p[0]['peak_kind']} over the run (Python + torch before it: "
                   "not counted)")
    m = result.get("memory") or []
    if m:
        out.append("\nmemory estimate vs measured, single scale (MiB)")
        out.append(_table(["size", "HxW", "run", "measured", "estimate", "est/measured"],
                          [[r["size"], f"{r['height']}x{r['width']}", r["quality"],
                            _mib(r["peak_bytes"]), _mib(r["estimate_bytes"]),
                            f"{r['estimate_bytes'] / r['peak_bytes']:.2f}"] for r in m]))
    return "\n".join(out)


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as text (``"n/a"`` where there are none)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def write_result(path: Path, result: dict) -> None:
    """Write a benchmark's ``result`` as JSON to ``path`` (its folder created, the file written
    atomically) and say so."""
    from photostyle.io.files import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(result, indent=2))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help=f"long sides (default {CPU_SIZES}; on CUDA {GPU_SIZES})")
    p.add_argument("--presets", nargs="*", default=None,
                   help="qualities to run end to end (default: draft default; and max on CUDA)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--vgg-weights", default="random")
    p.add_argument("--style-loss", default="gram", choices=("gram", "histogram", "both"),
                   help="style loss of every measured run")
    p.add_argument("--loss", default=None, choices=("paper", "relative"),
                   help="loss form of every measured run (default: Config's rule for the "
                        "weights: relative for random weights)")
    p.add_argument("--no-steps", action="store_true", help="skip the per-step measurements")
    p.add_argument("--memory", action="store_true",
                   help="also check the memory estimate on single-scale runs whose L-BFGS "
                        "history fills up (256 px: 105 steps, history 100; 512 px: 25 steps, "
                        "history 20)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bench.json")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.child:
        kind, size = args.child[0], int(args.child[1])
        if kind == "steps":
            row = steps(size, args.device, args.vgg_weights, args.reps, args.style_loss,
                        args.loss)
        elif kind == "memory":
            n, history = (int(v) for v in args.child[2:4])
            row = preset(size, "max", args.device, args.vgg_weights, (n, history),
                         args.style_loss, args.loss)
            row["quality"] = f"{n} steps, L-BFGS history {history}"
        else:
            row = preset(size, args.child[2], args.device, args.vgg_weights,
                         style_loss=args.style_loss, loss=args.loss)
        print(json.dumps(row))
        return 0

    import torch

    cuda = torch.device(args.device).type == "cuda"
    sizes = args.sizes or (GPU_SIZES if cuda else CPU_SIZES)
    presets = args.presets if args.presets is not None else \
        (["draft", "default", "max"] if cuda else ["draft", "default"])
    common = ["--device", args.device, "--vgg-weights", args.vgg_weights, "--reps",
              str(args.reps), "--style-loss", args.style_loss,
              *(["--loss", args.loss] if args.loss else [])]
    result = {"machine": machine(args.device), "device": args.device,
              "weights": args.vgg_weights, "style_loss": args.style_loss, "loss": args.loss,
              "load_before": load_average(),
              "steps": [], "presets": []}
    for size in sizes:
        if not args.no_steps:
            row = _child(["--child", "steps", str(size), *common])
            result["steps"].append(row)
            print(f"steps {size}: full {row['full_step_s']:.3f}s, bare "
                  f"{row['bare_step_s']:.3f}s, ratio {row['ratio']:.3f}", flush=True)
        for quality in presets:
            row = _child(["--child", "preset", str(size), quality, *common])
            result["presets"].append(row)
            print(f"preset {quality} {size}: {row['total_s']:.1f}s", flush=True)
        if not cuda and "max" not in presets and result["steps"]:
            result["presets"].append(_extrapolate_max(result["steps"][-1], result["presets"]))
    result["memory"] = []
    if args.memory:
        for size, n, history in ((256, 105, 100), (512, 25, 20)):
            row = _child(["--child", "memory", str(size), str(n), str(history), *common])
            result["memory"].append(row)
            print(f"memory {size}: peak {_mib(row['peak_bytes'])} MiB, estimate "
                  f"{_mib(row['estimate_bytes'])} MiB", flush=True)
    result["load_after"] = load_average()
    print(report(result))
    write_result(args.json, result)
    return 0


def _extrapolate_max(step_row: dict, preset_rows: list[dict]) -> dict:
    """``max`` on the CPU: 2000 full-size steps from the measured full-step time plus the
    measured setup and post-process of a preset run at that size (not run: marked)."""
    from photostyle import Config

    size = step_row["size"]
    n1, n2 = Config(quality="max").level_steps[0]
    ref = next((r for r in preset_rows if r["size"] == size), None)
    fixed = 0.0 if ref is None else ref.get("setup_s", 0) + ref.get("post_s", 0)
    lap = step_row.get("laplacian_setup_sparse_s", 0.0)
    return {"size": size, "quality": "max", "height": step_row["height"],
            "width": step_row["width"], "levels": [[step_row["width"], step_row["height"],
                                                    n1, n2]],
            "total_s": (n1 + n2) * step_row["full_step_s"] + fixed + lap,
            "laplacian_s": lap, "peak_bytes": None, "peak_kind": "",
            "estimate_bytes": _max_estimate(step_row), "extrapolated": True}


def _max_estimate(step_row: dict) -> int:
    from photostyle import Config
    from photostyle.neural.memory import estimate_peak_memory

    return estimate_peak_memory(step_row["height"], step_row["width"], Config(quality="max"),
                                labels=step_row["labels"])


if __name__ == "__main__":
    sys.exit(main())
