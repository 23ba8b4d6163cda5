"""The speed benchmark's code paths still run (tiny sizes; timings are not checked)."""

from __future__ import annotations

import importlib.util
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


@pytest.mark.parametrize("style_loss", ["gram", "histogram", "both"])
def test_per_step_split_runs(bench, style_loss):
    row = bench.steps(64, "cpu", "random", 1, style_loss)
    for key in ("bare_step_s", "losses_s", "matting_s", "optimizer_s", "full_step_s",
                "full_step_nomask_s", "laplacian_setup_sparse_s"):
        assert row[key] > 0, key
    assert row["labels"] == 4 and row["ratio"] > 0



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
