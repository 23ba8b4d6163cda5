"""Where a transfer can stop, and what it keeps: an interrupt between pyramid levels or in the
post-process keeps the optimization's best so far; a diverging loss is an error carrying it."""

from __future__ import annotations

import importlib

import pytest
import torch

from photostyle import Config, TransferInterrupted, transfer
from photostyle.errors import PhotostyleError
from photostyle.neural.transfer import TransferDiverged

TWO = Config(size=96, schedule=((2, 1), (0, 1)), min_level_side=32, vgg_weights="random")
MODULE = importlib.import_module("photostyle.neural.transfer")


def test_interrupt_in_the_post_process_keeps_the_result_before_it(pair, model, monkeypatch):
    content, style, c_labels, s_labels = pair
    given = []

    def stop(image, *args, **kwargs):
        given.append(image.clone())  # the optimization's result, about to be post-processed
        raise KeyboardInterrupt

    monkeypatch.setattr(MODULE, "local_affine_post", stop)
    with pytest.raises(TransferInterrupted) as caught:
        transfer(content, style, c_labels, s_labels, config=TWO, model=model)
    assert caught.value.where == "during the post-process" and caught.value.stage == 3
    torch.testing.assert_close(caught.value.image, given[0])


def test_interrupt_between_levels_keeps_the_level_below(pair, model, monkeypatch):
    content, style, c_labels, s_labels = pair
    real, calls = MODULE.prepare, []

    def prepare(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(MODULE, "prepare", prepare)
    with pytest.raises(TransferInterrupted) as caught:
        transfer(content, style, c_labels, s_labels, config=TWO, model=model)
    assert caught.value.level == 2 and "setting up level 2" in str(caught.value)
    assert caught.value.image.shape[-2:] == (77, 96)  # the working size
    calls.clear()
    with pytest.raises(TransferInterrupted) as first:  # before any level ran: nothing kept
        monkeypatch.setattr(MODULE, "prepare", lambda *a, **k: (_ for _ in ()).throw(
            KeyboardInterrupt()))
        transfer(content, style, config=TWO, model=model)
    assert first.value.image is None


def test_divergence_is_an_error_with_the_best_image(pair, model, monkeypatch):
    content, style, c_labels, s_labels = pair
    real, calls = MODULE.Objective.__call__, []

    def diverge(self, x):
        total, terms = real(self, x)
        calls.append(1)
        return (total + float("inf"), terms) if len(calls) >= 2 else (total, terms)

    monkeypatch.setattr(MODULE.Objective, "__call__", diverge)
    with pytest.raises(TransferDiverged, match=r"diverged: the loss became inf in stage 1 by "
                                               r"step 2; lower --style-weight") as caught:
        transfer(content, style, c_labels, s_labels, config=TWO, model=model)
    assert isinstance(caught.value, PhotostyleError)
    assert caught.value.image.shape[-2:] == (77, 96)
    assert 0 <= float(caught.value.image.min()) and float(caught.value.image.max()) <= 1
