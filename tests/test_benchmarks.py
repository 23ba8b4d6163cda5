"""The speed benchmark's code paths still run (tiny sizes; timings are not checked)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("photostyle_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("style_loss", "loss"), [("gram", None), ("histogram", None),
                                                  ("both", None), ("gram", "paper")])
def test_per_step_split_runs(bench, style_loss, loss):
    row = bench.steps(64, "cpu", "random", 1, style_loss, loss)
    assert row["loss"] == (loss or "relative")
    for key in ("bare_step_s", "losses_s", "matting_s", "optimizer_s", "full_step_s",
                "full_step_nomask_s", "laplacian_setup_sparse_s"):
        assert row[key] > 0, key
    assert row["labels"] == 4 and row["ratio"] > 0



def test_batch_benchmark_runs(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))  # it imports its sibling dpst.py
    spec = importlib.util.spec_from_file_location("photostyle_batch_bench",
                                                  BENCH.parent / "batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "batch.json"
    assert module.main(["--workers", "1", "--repeat", "1", "--count", "2", "--size", "64",
                        "--dpst", str(tmp_path / "none"), "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["workers"] == 1 and row["items_per_min"] > 0 and row["rerun_s"] > 0


def test_gpu_check_runs_its_tables_on_the_cpu(tmp_path):
    """The GPU check's plumbing (device info, the CUDA tests run on the CPU against
    themselves, one per-step child, the tables and JSON), with a tiny budget (benchmarks/
    gpu_check.py, issue #18; the real run needs a GPU)."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    done = subprocess.run([sys.executable, str(script), "--device", "cpu", "--quick",
                           "--no-tests", "--only", "steps", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["machine"]["device"] == "cpu"
    steps = result["measurements"]["steps"][0]
    assert steps["size"] == 128 and steps["full_step_s"] > 0
    assert "| long side | bare VGG f+b (s) |" in (tmp_path / "gpu_check.md").read_text()
@pytest.fixture(scope="module")
def looks_bench(bench):
    spec = importlib.util.spec_from_file_location("photostyle_looks_bench",
                                                  BENCH.parent / "looks.py")
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:  # looks.py imports bench.py, its neighbour
        patch.setitem(sys.modules, "bench", bench)
        spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("arch", ["bilateral", "johnson"])
def test_looks_forward_and_report(looks_bench, arch):
    row = looks_bench.forward(arch, 64, "cpu", 1)
    assert (row["height"], row["width"]) == (48, 64) and row["ms_per_megapixel"] > 0
    text = looks_bench.report({"machine": {"cpu": "x", "cores": 2, "threads": 1,
                                           "torch": "t"}, "load_before": "0",
                               "load_after": "0", "forward": [row], "training": []})
    assert f"| {arch} | cpu | 64x48 |" in text
