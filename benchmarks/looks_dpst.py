"""Does a look learn its style? Train on 12 DPST photos, apply to 4 others, compare colours.

Usage::

    python benchmarks/looks_dpst.py OUTDIR [--style data/rocket_style.png] [--steps 150]
                                    [--size 128] [--archs bilateral johnson]
                                    [--vgg-weights random] [--style-loss gram]
                                    [--test in25 in30 tar25 tar30]

The 16 photos of ../shared/dpst (``input/inN.png`` and ``style/tarN.png``) are split into
12 training photos and the 4 ``--test`` ones. For each architecture, end to end through the
command line, each step in its own process:

1. ``photostyle train STYLE --images TRAIN -o OUTDIR/<arch>.pt --size 128 --steps 150``
   (``TRAIN``: a temporary folder of links to the 12 photos; nothing is copied);
2. ``photostyle run PHOTO --model OUTDIR/<arch>.pt -o OUTDIR/<arch>/<photo>.png`` for each
   test photo;
3. ``photostyle eval PHOTO STYLE OUTPUT --json``: the output's colour distance to the style
   (``style_distance``, Lab W2) against the photo's own (``style_distance_content``).

The look has learnt the style's colours on a photo when the output's distance is below the
photo's. Prints a table, writes ``OUTDIR/looks_dpst.json``. Skips (exit 0) when
../shared/dpst is absent. With ``--vgg-weights random`` (the default: no ImageNet weights on
the machines this was written on) the features are untrained: this tests the mechanics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dpst import DPST, write_json

ROOT = Path(__file__).resolve().parents[1]
PHOTOSTYLE = [sys.executable, "-m", "photostyle"]


def photos(root: Path) -> list[Path]:
    """The 16 photos of the DPST folder (contents and styles), by name."""
    return sorted([*(root / "input").glob("in*.png"), *(root / "style").glob("tar*.png")])


def _call(args: list[str]) -> tuple[float, str]:
    """Run ``photostyle ARGS`` in a fresh process: wall seconds and stdout (raises on error)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    start = time.perf_counter()
    done = subprocess.run([*PHOTOSTYLE, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    spent = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"photostyle {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return spent, done.stdout


def run_arch(arch: str, train_dir: Path, tests: list[Path], style: Path, outdir: Path,
             args: argparse.Namespace) -> dict:
    look = outdir / f"{arch}.pt"
    look.unlink(missing_ok=True)
    spent, _ = _call(["train", str(style), "--images", str(train_dir), "-o", str(look),
                      "--arch", arch, "--size", str(args.size), "--steps", str(args.steps),
                      "--vgg-weights", args.vgg_weights, "--style-loss", args.style_loss,
                      *(["--lr", str(args.lr)] if args.lr is not None else []), "-q"])
    results = outdir / arch
    results.mkdir(exist_ok=True)
    rows = []
    for photo in tests:
        out = results / f"{photo.stem}.png"
        applied, _ = _call(["run", str(photo), "--model", str(look), "-o", str(out), "-q"])
        _, text = _call(["eval", str(photo), str(style), str(out), "--json", "-q"])
        metrics = json.loads(text)
        rows.append({"photo": photo.name, "output": str(out), "run_s": applied,
                     "content": metrics["style_distance_content"],
                     "output_distance": metrics["style_distance"],
                     "photorealism": metrics["photorealism"],
                     "structure": metrics["structure"]})
    return {"arch": arch, "train_s": spent, "rows": rows,
            "all_below": all(r["output_distance"] < r["content"] for r in rows)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--style", type=Path, default=ROOT / "data" / "rocket_style.png")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--archs", nargs="+", default=["bilateral", "johnson"],
                   choices=("bilateral", "johnson"))
    p.add_argument("--vgg-weights", default="random")
    p.add_argument("--style-loss", default="gram", choices=("gram", "histogram", "both"))
    p.add_argument("--lr", type=float, default=None, help="default: photostyle train's")
    p.add_argument("--test", nargs="+", default=["in25", "in30", "tar25", "tar30"],
                   help="stems of the 4 photos held out (the other 12 are trained on)")
    args = p.parse_args(argv)
    found = photos(args.dpst) if args.dpst.is_dir() else []
    if len(found) < 16:
        print(f"skipped: {args.dpst} does not hold the 16 DPST photos", file=sys.stderr)
        return 0
    tests = [f for f in found if f.stem in args.test]
    train = [f for f in found if f.stem not in args.test]
    args.outdir.mkdir(parents=True, exist_ok=True)
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        train_dir = Path(tmp)
        for photo in train:
            (train_dir / photo.name).symlink_to(photo)
        for arch in args.archs:
            reports.append(run_arch(arch, train_dir, tests, args.style, args.outdir, args))
    print(f"style {args.style.name}; trained on {len(train)} photos at {args.size} px for "
          f"{args.steps} steps, --style-loss {args.style_loss}, VGG weights {args.vgg_weights}; "
          "style distance (Lab W2, lower "
          "is closer) of each held-out photo and of its output\n")
    print("| arch | photo | content | output | photorealism | structure | apply (process) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for report in reports:
        for r in report["rows"]:
            print(f"| {report['arch']} | {r['photo']} | {r['content']:.2f} | "
                  f"{r['output_distance']:.2f} | {r['photorealism']:.2e} | "
                  f"{r['structure']:.3f} | {r['run_s']:.2f} s |")
    for report in reports:
        verdict = "below" if report["all_below"] else "NOT below"
        print(f"\n{report['arch']}: training {report['train_s']:.0f} s (whole process); every "
              f"output {verdict} its photo's distance")
    write_json(args.outdir / "looks_dpst.json",
               {"style": str(args.style), "steps": args.steps, "size": args.size,
                "vgg_weights": args.vgg_weights, "style_loss": args.style_loss, "lr": args.lr,
                "train": [f.name for f in train],
                "test": [f.name for f in tests], "archs": reports})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
