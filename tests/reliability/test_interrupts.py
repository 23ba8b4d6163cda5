"""The catalogue, interrupts and divergence: SIGINT (Ctrl-C) and SIGTERM at several points of
a real process (start-up, stage 1, between pyramid levels, the post-process, a second signal
while the best image is written, the report, the preview) and a loss that becomes NaN.

Each stop prints one line and no traceback, exits 130 (SIGINT) or 143 (SIGTERM), keeps the best
image so far as a complete OUT when there is one, leaves no temporary file and no changed
input. The signals are sent by the process itself at exact points
(``tests/reliability/signal_driver.py``), so nothing depends on timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..cli_runner import run_cli
from .catalogue import NEURAL, check_success, diverge_from, snapshot, tiny_pair

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("signal_driver.py")

#: Two pyramid levels (80 and 160 px), few steps.
RUN = ["--vgg-weights", "random", "--size", "160", "--quality", "draft", "--iters", "4,4", "-q"]

#: (signal, point, exit status, the stop line's text, OUT written?)
SCENARIOS = [
    ("SIGINT", "startup", 130, "interrupted; nothing written", False),
    ("SIGTERM", "startup", 143, "terminated (SIGTERM); nothing written", False),
    ("SIGINT", "stage1", 130, "interrupted in stage 1 at step 2; best image so far written", True),
    ("SIGTERM", "stage1", 143, "terminated (SIGTERM) in stage 1 at step 2; best image so far",
     True),
    ("SIGTERM", "between_levels", 143, "while setting up level 2; best image so far", True),
    ("SIGINT", "post", 130, "interrupted during the post-process; best image so far", True),
    ("SIGTERM", "post", 143, "terminated (SIGTERM) during the post-process; best image", True),
    ("SIGINT", "second_during_write", 130, "best image so far written", True),
    ("SIGINT", "report", 130, "interrupted while making the report;", True),
    ("SIGTERM", "preview", 143, "terminated (SIGTERM); ", False),
]


def _scenario(folder: Path, point: str) -> dict:
    d = tiny_pair(folder)
    argv = [str(d["content"]), str(d["style"]), "-o", str(folder / "out.png")]
    argv += ["--quality", "preview", "--size", "64", "-q"] if point == "preview" else RUN
    if point == "report":
        argv += ["--report", str(folder / "sheet.png")]
    return {"argv": argv, "before": snapshot(folder), "folder": folder}


def _run_plan(plan: list[dict], folder: Path) -> list[dict]:
    """One driver process running ``plan``'s scenarios in turn."""
    (folder / "plan.json").write_text(json.dumps(
        [{"signal": s["signal"], "point": s["point"], "argv": s["argv"]} for s in plan]))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(DRIVER), str(folder / "plan.json")], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Every scenario: the two start-ups each in a fresh process (the signal comes while it
    imports), the others one after the other in a third."""
    scenarios = {}
    for sig, point, *_ in SCENARIOS:
        scenarios[(sig, point)] = {"signal": sig, "point": point,
                                   **_scenario(tmp_path_factory.mktemp(f"{sig}_{point}"),
                                               point)}
    plans = [[s] for s in scenarios.values() if s["point"] == "startup"]
    plans.append([s for s in scenarios.values() if s["point"] != "startup"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(_run_plan, plans, [tmp_path_factory.mktemp("plan") for _ in plans]))
    for plan, results in zip(plans, runs, strict=True):
        for scenario, result in zip(plan, results, strict=True):
            scenario.update(result)
    return scenarios


@pytest.mark.parametrize(("sig", "point", "status", "text", "written"), SCENARIOS,
                         ids=[f"{s[0]}-{s[1]}" for s in SCENARIOS])
def test_signal_stops_cleanly(outcomes, sig, point, status, text, written):
    result = outcomes[(sig, point)]
    folder, err = result["folder"], result["err"]
    out = folder / "out.png"
    stops = [line for line in err.splitlines()
             if "interrupted" in line or "terminated" in line]
    assert len(stops) == 1 and text in stops[0], err
    assert err.strip().splitlines()[-1] == stops[0], "the stop line comes last"
    if point == "report":
        assert "out.png is complete" in stops[0] and "sheet.png not written" in stops[0]
    check_success(result["code"], err, folder, result["before"], (out,) if written else (),
                  status=status)
    assert out.exists() == written
    if written:
        assert np.asarray(Image.open(out)).shape == (128, 160, 3)  # the working size


def test_divergence_is_one_line_and_keeps_the_best_image(tmp_path, capfd, monkeypatch):
    """A loss that turns NaN at step 3 (as a real divergence does): exit 2, one error line,
    the best image so far (the lowest loss before it) written as OUT."""
    diverge_from(monkeypatch, 3)
    d = tiny_pair(tmp_path)
    out = tmp_path / "out.png"
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", out, *NEURAL], capfd)
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1, err
    assert "diverged" in errors[0] and "nan" in errors[0] and "out.png" in errors[0]
    assert "best image so far" in errors[0]
    check_success(code, err, tmp_path, before, (out,), status=2)


def test_out_of_memory_is_one_line(tmp_path, capfd, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("photostyle.classic.preview.regional_color_transfer", exhausted)
    d = tiny_pair(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", tmp_path / "o.png", "--quality",
                            "preview", "--size", "64", "-q"], capfd)
    assert code == 2 and err.count("\n") == 1 and "out of memory" in err and "--size" in err
    assert snapshot(tmp_path) == before
