"""The runners: built once, applied task after task (what ``photostyle run`` and
``photostyle batch`` share)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from photostyle import Config
from photostyle.errors import InputError
from photostyle.methods import METHODS, RunnerSpec, Task, method_of, runner_class
from photostyle.methods.base import Prepared
from photostyle.methods.look import LookRunner

from ..synthetic import scene, write_png


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i, h in enumerate((40, 40, 44, 40)):
        paths.append(write_png(tmp_path / f"p{i}.png", scene(h, 56, (0.5, 0.6, 0.9),
                                                             (0.3, 0.5, 0.2), 0.4, seed=i)[0]))
    style = write_png(tmp_path / "style.png", scene(56, 56, (0.9, 0.5, 0.2), (0.2, 0.1, 0.3),
                                                    0.5, seed=9)[0])
    return paths, style


def test_the_registry_names_a_runner_per_method():
    assert method_of(Config(quality="preview")) == "preview"
    assert method_of(Config()) == "neural"
    assert method_of(Config(), look="look.pt") == "look"
    for name in METHODS:
        assert runner_class(name).name == name
    with pytest.raises(ValueError, match="unknown method"):
        runner_class("nope")


def test_the_weight_free_runner_reads_the_style_once(photos):
    paths, style = photos
    runner = RunnerSpec(Config(quality="preview", size=64)).build()
    events = []
    outputs = [runner(Task(p, (style,)), callback=events.append) for p in paths[:3]]
    assert len(runner.cache.items) == 1  # one decoded style for three tasks
    assert all(isinstance(e, Prepared) and e.levels is None for e in events)
    assert outputs[0].image.shape == (46, 64, 3) and outputs[0].seconds > 0
    os.utime(style, ns=(1, 1))  # a changed file is read again
    runner(Task(paths[0], (style,)))
    assert len(runner.cache.items) == 2
    with pytest.raises(InputError, match="one style photo"):
        runner(Task(paths[0], (style, style)))


def test_the_neural_runner_builds_its_network_once(photos):
    paths, style = photos
    config = Config(vgg_weights="random", size=64, iters=(2, 1))
    runner = RunnerSpec(config, device="cpu").build()
    events = []
    first = runner(Task(paths[0], (style,)), callback=events.append)
    runner(Task(paths[1], (style,)))
    assert len(runner.networks) == 1
    assert isinstance(events[0], Prepared) and events[0].levels
    assert first.details.stage2 is not None and first.network is not None
    runner(Task(paths[1], (style,)), config=config.replace(seed=5))  # other random weights
    assert len(runner.networks) == 2


class Brightness(torch.nn.Module):
    """A look that brightens, and fails on any batch holding a very dark photo."""

    def forward(self, images):
        if bool((images.mean(dim=(1, 2, 3)) < 0.05).any()):
            raise RuntimeError("dark photo")
        return (images * 1.2).clamp(0, 1)


def test_a_look_stacks_photos_and_isolates_a_failing_one(photos, tmp_path):
    paths, _ = photos
    dark = write_png(tmp_path / "dark.png", np.zeros((40, 56, 3)))
    tasks = [Task(p, ()) for p in [paths[0], dark, paths[1], paths[2], paths[3],
                                   tmp_path / "missing.png"]]
    runner = LookRunner(Brightness(), Config(), device="cpu", batch_size=8)
    results = runner.run_many(tasks)
    assert isinstance(results[1], RuntimeError) and "dark" in str(results[1])
    assert isinstance(results[5], InputError) and "missing.png" in str(results[5])
    for i in (0, 2, 3, 4):
        alone = runner(tasks[i])
        assert torch.equal(results[i].image, alone.image), i
        assert results[i].image.shape[-2:] == results[i].content.shape[-2:]  # own size
    sized = LookRunner(Brightness(), Config(), device="cpu", size=28)
    assert sized(tasks[0]).image.shape[-2:] == (20, 28)
    with pytest.raises(InputError, match="takes no masks"):
        runner(Task(paths[0], (), paths[0], ()))


def test_a_johnson_look_works_at_the_configured_size(photos):
    paths, _ = photos
    look = Brightness()
    look.arch = "johnson"
    runner = LookRunner(look, Config(size=112), device="cpu")
    assert runner(Task(paths[0], ())).image.shape[-2:] == (80, 112)
    look.arch = "bilateral"
    assert runner(Task(paths[0], ())).image.shape[-2:] == (40, 56)  # its own size
