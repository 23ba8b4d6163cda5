"""``photostyle batch --ray`` on a local Ray (started once for the module; skipped without
Ray): the same outputs and the same report as one worker on this machine."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photostyle.batch import read_report

from ..cli_runner import run_cli
from ..synthetic import write_shoot

ray = pytest.importorskip("ray")

PREVIEW = ["--quality", "preview", "--size", "64", "-q"]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 CPUs; ``photostyle batch --ray`` uses the one this process is
    connected to, so it is started once for the module."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="warning")
    yield ray
    if started:
        ray.shutdown()


def _rows(folder):
    return [(r.index, r.content, r.style, r.out.rsplit("/", 1)[-1], r.status, r.reason,
             r.warnings) for r in read_report(folder / "batch_report.csv")]


def test_ray_gives_the_same_outputs_and_report(tmp_path, capsys, local_ray):
    d = write_shoot(tmp_path, 6, corrupt=3)
    base = ["batch", d["photos"], "--style", d["style"], *PREVIEW]
    local, cluster = tmp_path / "local", tmp_path / "ray"
    assert run_cli([*base, "-o", local], capsys)[0] == 1
    code, _, err = run_cli([*base, "-o", cluster, "--ray"], capsys)
    assert code == 1, err
    assert "5 done, 0 skipped, 1 failed" in err
    assert _rows(local) == _rows(cluster)
    names = sorted(p.name for p in local.glob("c*.png"))
    assert names == sorted(p.name for p in cluster.glob("c*.png")) and len(names) == 5
    for name in names:
        assert np.array_equal(np.asarray(Image.open(local / name)),
                              np.asarray(Image.open(cluster / name))), name
    code, _, err = run_cli([*base, "-o", cluster, "--ray", "--workers", "1"], capsys)
    assert code == 1 and "0 done, 5 skipped, 1 failed" in err  # a rerun on Ray skips too


def test_a_runner_that_cannot_be_built_stops_the_batch(tmp_path, capsys, local_ray):
    d = write_shoot(tmp_path, 2)
    code, _, err = run_cli(["batch", d["photos"], "-o", tmp_path / "out", "--style",
                            d["style"], "--vgg-weights", tmp_path / "gone.pth", "--size", "64",
                            "-q", "--ray", "--workers", "1"], capsys)
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and "gone.pth" in errors[0], err


def test_resources_no_node_has_are_refused_at_once(tmp_path, capsys, local_ray):
    d = write_shoot(tmp_path, 1)
    code, _, err = run_cli(["batch", d["photos"], "-o", tmp_path / "out", "--style",
                            d["style"], *PREVIEW, "--ray", "--num-gpus", "1"], capsys)
    assert code == 2 and "--num-gpus 1" in err and "0 GPUs" in err, err
