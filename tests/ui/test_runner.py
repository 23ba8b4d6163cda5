"""The editor's full run (:class:`photostyle.ui.runner.FullRun`) when the optimization
diverges: the run fails with the library's one-line reason and its best image so far is the
result, as on the command line."""

from __future__ import annotations

import numpy as np
from PIL import Image

from photostyle import Config
from photostyle.ui.runner import FullRun

from ..reliability.catalogue import diverge_from
from ..synthetic import scene_pair


def test_a_diverged_run_fails_with_its_best_image_as_the_result(tmp_path, monkeypatch):
    diverge_from(monkeypatch, 3)
    content, style, _, _ = scene_pair()
    run = FullRun(content, style, None, Config(vgg_weights="random", size=64, iters=(4, 4),
                                               quality="max"),
                  tmp_path, ("content.png", "style.png"))
    run.start()
    assert run.join(timeout=300)
    status = run.status()
    assert status["state"] == "failed", status
    assert "diverged" in status["message"] and "best image so far" in status["message"]
    with Image.open(tmp_path / "result.png") as img:
        assert np.asarray(img).shape == (51, 64, 3)
    assert status["outputs"] == ["result.png", "report.png", "report.json"]
