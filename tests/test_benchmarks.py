"""The speed benchmark's code paths still run (tiny sizes; timings are not checked)."""

from __future__ import annotations

import importlib.util
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

