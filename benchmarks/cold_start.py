"""Whole-process time of the commands that must start fast (issue #11): ``import photostyle``,
``photostyle --help``, ``photostyle run --help``, ``photostyle eval --help``, and the weight-free
preview at 512 px on the example pair, each as a new process (best and median of N runs), and
whether the process imported torch.

    python benchmarks/cold_start.py [--repeat 7] [--json benchmarks/results/cold_start.json]

Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def commands(out: Path) -> dict[str, list[str]]:
    """The measured commands (``python -c`` wrappers report whether torch was imported)."""
    preview = [str(DATA / "rocket_content.png"), str(DATA / "rocket_style.png"),
               "--content-mask", str(DATA / "rocket_content_mask.png"),
               "--style-mask", str(DATA / "rocket_style_mask.png"),
               "--quality", "preview", "--size", "512", "-q", "-o", str(out)]
    return {
        "import photostyle": [],
        "photostyle --help": ["--help"],
        "photostyle run --help": ["run", "--help"],
        "photostyle eval --help": ["eval", "--help"],
        "photostyle (preview, 512 px)": preview,
    }


def _wrapper(args: list[str]) -> str:
    """Python code that runs the command line on ``args`` (or only imports photostyle) and
    prints whether torch was imported."""
    if not args:
        return "import sys, photostyle; print('torch' in sys.modules)"
    return ("import sys\nfrom photostyle.cli import main\n"
            f"try:\n    code = main({args!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print('torch' in sys.modules, file=sys.stderr)\nsys.exit(code)")


def measure(args: list[str], repeat: int, script: Path | None = None) -> dict:
    """Best and median wall time of ``repeat`` new processes: the ``photostyle`` console
    ``script`` itself when given (what a user types), else a ``python -c`` wrapper that also
    reports whether torch was imported."""
    times, torch_loaded = [], None
    for _ in range(repeat):
        command = [str(script), *args] if script else [sys.executable, "-c", _wrapper(args)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{args}: exit {done.returncode}: {done.stderr[-500:]}")
        if script is None:
            stream = done.stdout if not args else done.stderr
            torch_loaded = stream.strip().splitlines()[-1] == "True"
    return {"best_s": min(times), "median_s": statistics.median(times), "runs": repeat,
            "torch_imported": torch_loaded}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" /
                   "cold_start.json")
    args = p.parse_args(argv)
    rows = {}
    script = Path(sys.executable).with_name("photostyle")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in commands(Path(tmp) / "preview.png").items():
            rows[name] = measure(cmd, args.repeat)
            if cmd and script.is_file():  # the installed console script, as a user runs it
                rows[f"{name} [console script]"] = measure(cmd, args.repeat, script)
    result = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
              "load_average": os.getloadavg(), "rows": rows}
    width = max(map(len, rows))
    print(f"{'command'.ljust(width)}  best s  median s  torch imported")
    for name, row in rows.items():
        seen = "-" if row["torch_imported"] is None else row["torch_imported"]
        print(f"{name.ljust(width)}  {row['best_s']:6.2f}  {row['median_s']:8.2f}  {seen}")
    from photostyle.io.files import atomic_write_text

    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
