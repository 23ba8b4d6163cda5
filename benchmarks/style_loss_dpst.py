"""``--style-loss gram|histogram|both`` on the DPST pairs: eval metrics and loss stability.

Usage::

    python benchmarks/style_loss_dpst.py OUTDIR [--losses gram histogram both] [--pairs 1 3]
                                         [--size 512] [--quality default] [--mode photo]
                                         [--vgg-weights random]

For each pair in ../shared/dpst and each style loss, runs :func:`photostyle.transfer` with
that loss and everything else at its default, writes ``OUTDIR/<loss>/inN.png`` and scores it
as an 8-bit image with :func:`photostyle.evaluation.metrics.evaluate` (as ``photostyle eval``:
photorealism, structure, style distance). Stability (:func:`stability`): for every stage at
every level with at least 10 steps, over the last 20% of its steps, for the total loss and for
the style term: the relative spread ``(max - min) / median``, the share of steps where it went
*up*, and the jitter (mean absolute second difference / median: oscillation around the trend);
the table gives stage 1 at the coarsest level (the longest run) and the last level's stage 2.
Prints the tables and writes ``OUTDIR/style_loss.json`` (with every loss history);
``--summarize A.json B.json`` prints the tables of earlier runs together. Skips (exit 0) when
../shared/dpst is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from dpst import DPST, load_pair, pair_numbers, write_json

from photostyle import Config, VGG19Features, save_image, transfer
from photostyle.evaluation.metrics import evaluate
from photostyle.io.images import read_image, to_uint8

KEYS = ("photorealism", "structure", "style_distance")


def _tail_figures(values: list[float], tail: float) -> dict[str, float]:
    last = np.asarray(values[-max(3, round(tail * len(values))):])
    median = float(np.median(np.abs(last))) or 1.0
    return {"spread": float((last.max() - last.min()) / median),
            "rising": float(np.mean(np.diff(last) > 0)),
            "jitter": float(np.mean(np.abs(np.diff(last, 2))) / median)}


def stability(history: list[dict], tail: float = 0.2) -> dict[str, dict[str, float]]:
    """Per ``L<level>S<stage>`` run of >= 10 steps, over its last ``tail`` of steps, for the
    total loss and for the style term (Gram + histogram, whichever are on): ``spread``
    (max - min) / median, ``rising`` the share of steps where it went up, and ``jitter`` the
    mean absolute second difference / median (oscillation around the trend)."""
    runs: dict[str, list[dict]] = {}
    for row in history:
        runs.setdefault(f"L{int(row['level'])}S{int(row['stage'])}", []).append(row)
    out = {}
    for key, rows in runs.items():
        if len(rows) < 10:
            continue
        total = [r["total"] for r in rows]
        style = [r.get("style", 0.0) + r.get("histogram", 0.0) for r in rows]
        out[key] = {"steps": len(rows), **_tail_figures(total, tail),
                    **{f"style_{k}": v for k, v in _tail_figures(style, tail).items()}}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--losses", nargs="+", default=["gram", "histogram", "both"],
                   choices=("gram", "histogram", "both"))
    p.add_argument("--pairs", type=int, nargs="*")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--quality", default="default")
    p.add_argument("--mode", default="photo")
    p.add_argument("--vgg-weights", default="random")
    p.add_argument("--summarize", type=Path, nargs="+", metavar="JSON",
                   help="only print the table of earlier runs' style_loss.json files "
                        "(stability recomputed from their loss histories)")
    args = p.parse_args(argv)
    if args.summarize:
        rows = [r for path in args.summarize for r in json.loads(path.read_text())["rows"]]
        for row in rows:
            row["stability"] = stability(row["history"])
        print(format_table(rows, args.losses))
        return 0
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    model = VGG19Features(args.vgg_weights)
    rows = []
    for n in args.pairs or pair_numbers(args.dpst):
        content, style, c_labels, s_labels = load_pair(args.dpst, n)
        c_img = read_image(args.dpst / "input" / f"in{n}.png")
        s_img = read_image(args.dpst / "style" / f"tar{n}.png")
        for loss in args.losses:
            config = Config(size=args.size, quality=args.quality, mode=args.mode,
                            vgg_weights=args.vgg_weights, style_loss=loss)
            t0 = time.perf_counter()
            result = transfer(content, style, c_labels, s_labels, config=config, model=model)
            seconds = time.perf_counter() - t0
            (args.outdir / loss).mkdir(parents=True, exist_ok=True)
            save_image(result.image, args.outdir / loss / f"in{n}.png")
            with torch.no_grad():
                final = to_uint8(result.image) / 255.0
            metrics = evaluate(final, c_img, s_img, c_labels, s_labels)
            row = {"pair": n, "loss": loss, "seconds": seconds,
                   **{k: metrics[k] for k in KEYS}, "stability": stability(result.history),
                   "history": result.history}
            rows.append(row)
            brief = {k: v for k, v in row.items() if k != "history"}
            print(json.dumps(brief), flush=True)
    print(format_table(rows, args.losses))
    write_json(args.outdir / "style_loss.json", {
        "size": args.size, "quality": args.quality, "mode": args.mode,
        "weights": args.vgg_weights, "rows": rows}, indent=None)
    return 0


def format_table(rows: list[dict], losses: list[str]) -> str:
    """Per loss, means over the pairs: the eval metrics, the stability figures of stage 1 at
    the coarsest level (the longest run) and of the last level's stage 2, and the run time;
    then each pair's metrics."""
    lines = ["| style loss | photorealism | structure | style dist | S1 spread | S1 jitter | "
             "S1 style-term spread | S1 style-term rising | last-level spread | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for loss in losses:
        mine = [r for r in rows if r["loss"] == loss]
        if not mine:
            continue
        mean = {k: float(np.mean([r[k] for r in mine])) for k in (*KEYS, "seconds")}
        first = [r["stability"][min(r["stability"])] for r in mine if r["stability"]]
        last = [r["stability"][max(r["stability"])] for r in mine if r["stability"]]

        def avg(runs: list[dict], key: str) -> float:
            return float(np.mean([run[key] for run in runs]))

        lines.append(
            f"| {loss} | {mean['photorealism']:.3g} | {mean['structure']:.3f} | "
            f"{mean['style_distance']:.2f} | {avg(first, 'spread'):.2e} | "
            f"{avg(first, 'jitter'):.1e} | {avg(first, 'style_spread'):.3f} | "
            f"{avg(first, 'style_rising'):.2f} | {avg(last, 'spread'):.2e} | "
            f"{mean['seconds']:.0f} |")
    heads = " | ".join(f"{loss}: photoreal. / struct. / style" for loss in losses)
    lines += ["", f"| pair | {heads} |", "|---|" + "---|" * len(losses)]
    for n in sorted({r["pair"] for r in rows}):
        cells = []
        for loss in losses:
            found = [r for r in rows if r["pair"] == n and r["loss"] == loss]
            cells.append(" / ".join([f"{found[0]['photorealism']:.2e}",
                                     f"{found[0]['structure']:.3f}",
                                     f"{found[0]['style_distance']:.2f}"]) if found else "—")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
