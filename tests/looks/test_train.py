"""Training a look: the loss is the optimizer's, it goes down, checkpoints round-trip, resume
continues exactly, Ctrl-C keeps the last checkpoint, and foreign files are refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from photostyle import Config, Look
from photostyle.errors import InputError, WeightsError
from photostyle.looks.checkpoint import FORMAT, read_checkpoint
from photostyle.looks.look import new_look
from photostyle.looks.options import TrainOptions
from photostyle.looks.perceptual import PerceptualLoss
from photostyle.looks.train import TrainInterrupted, style_hash, train
from photostyle.neural.objective import Objective
from photostyle.neural.vgg import VGG19Features, build_network

from ..synthetic import scene, to_tensor

TINY = {"low_res": 64, "grid_size": 8, "depth": 4, "width": 4, "guide_channels": 8}
#: The loss on VGG-19's first two blocks only: the training mechanics at a fraction of the cost
#: (the full network's terms are checked against the optimizer's below).
CONFIG = Config(vgg_weights="random", content_layers=("relu2_2",),
                style_layers=("relu1_1", "relu2_1"), histogram_layers=("relu1_1", "relu2_1"))


def _photos(count: int = 8) -> list[torch.Tensor]:
    """Synthetic "photos" of various sizes and colours."""
    rng = torch.Generator().manual_seed(0)
    out = []
    for i in range(count):
        sky, ground = torch.rand(2, 3, generator=rng).tolist()
        image, _ = scene(64 + 8 * (i % 3), 80 + 4 * i, tuple(sky), tuple(ground), 0.4, seed=i)
        out.append(to_tensor(image))
    return out


@pytest.fixture(scope="module")
def light() -> VGG19Features:
    """Untrained VGG-19 up to relu2_2 (seed 0)."""
    return VGG19Features("random", last="relu2_2", seed=0)


@pytest.fixture(scope="module")
def style() -> torch.Tensor:
    image, _ = scene(72, 64, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=9)
    return to_tensor(image)


def _options(**changes) -> TrainOptions:
    return TrainOptions(**{"size": 64, "steps": 4, "checkpoint_every": 2, **changes})


def _train(style, model, *, look=None, **kwargs):
    look = look if look is not None else new_look("bilateral", TINY)
    return train(_photos(), style, config=kwargs.pop("config", CONFIG), model=model, look=look,
                 **kwargs)


@pytest.fixture(scope="module")
def caffe_model() -> VGG19Features:
    """Untrained VGG-19 in the Caffe layout, pooling in ceil mode (the paper form's network)."""
    return build_network(Config(vgg_weights="random", vgg_format="caffe"))


@pytest.mark.parametrize(("style_loss", "form"), [("gram", "relative"), ("histogram", "relative"),
                                                  ("both", "relative"), ("gram", "paper")])
def test_the_loss_is_the_optimizers_stage_1_per_crop(model, caffe_model, style, style_loss,
                                                     form):
    config = Config(vgg_weights="random", style_loss=style_loss,
                    vgg_format="caffe" if form == "paper" else None)
    model = caffe_model if form == "paper" else model
    g = torch.Generator().manual_seed(1)
    content = torch.rand(2, 3, 45, 47, generator=g)  # odd sizes: ceil and floor pooling differ
    output = torch.rand(2, 3, 45, 47, generator=g)
    loss = PerceptualLoss(model, style, config)
    assert loss.form == form and loss.record()["form"] == form
    terms = loss(output, loss.content_features(content))
    singles = []
    for i in range(2):
        objective = Objective(model, model, config, content[i:i + 1], [style], None, None, None,
                              False)
        _, reference = objective(output[i:i + 1])
        singles.append(reference)
    assert set(terms) == set(singles[0])
    for name, value in terms.items():
        expected = (singles[0][name] + singles[1][name]) / 2
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("arch", ["bilateral", "johnson"])
def test_training_lowers_the_loss(light, style, arch):
    look = new_look(arch, TINY if arch == "bilateral" else {"width": 8, "blocks": 1})
    held = torch.stack([p[0, :, :64, :64] for p in _photos()[:4]])
    loss = PerceptualLoss(light, style, CONFIG)
    targets = loss.content_features(held)

    def total() -> float:
        with torch.no_grad():
            return float(sum(loss(look.network(held), targets).values()))

    before = total()
    # Adam's default rate (Johnson et al.'s 1e-3): a larger one makes the first steps chaotic,
    # so that the result would depend on the thread count's rounding.
    result = train(_photos(), style, config=CONFIG, model=light, look=look,
                   options=TrainOptions(size=64, steps=30))
    assert result.steps == 30 and len(result.history) == 30
    assert total() < 0.7 * before, (before, total())


def test_checkpoint_round_trip_gives_identical_outputs(light, style, tmp_path):
    path = tmp_path / "look.pt"
    result = _train(style, light, options=_options(), checkpoint=path, style_name="dusk.png")
    loaded = Look.load(path)
    x = torch.rand(2, 3, 45, 67, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), result.look(x), rtol=0, atol=0)
    info = read_checkpoint(path)
    assert (info.arch, info.steps, info.style_name) == ("bilateral", 4, "dusk.png")
    assert info.style_sha256 == style_hash(style) and len(info.style_sha256) == 64
    assert info.vgg_weights == "random" and info.vgg_kind == "random" and info.for_tests_only
    assert info.loss["form"] == "relative" and info.loss["style_loss"] == "gram"
    assert info.loss["weights"] == {"content": 5.0, "style": 100.0, "tv": 1e-3}
    assert [row["step"] for row in info.history] == [1, 2, 3, 4]
    assert info.options["size"] == 64 and info.options["seed"] == 0
    assert loaded.for_tests_only and not loaded.training
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left


def test_resume_continues_the_step_count_exactly(light, style, tmp_path):
    whole = _train(style, light, options=_options(steps=6))
    path = tmp_path / "look.pt"
    _train(style, light, options=_options(steps=4), checkpoint=path)
    resumed = train(_photos(), style, config=CONFIG, model=light, options=_options(steps=6),
                    checkpoint=path, resume=read_checkpoint(path))
    info = read_checkpoint(path)
    assert info.steps == 6 and [r["step"] for r in info.history] == [1, 2, 3, 4, 5, 6]
    assert [r["total"] for r in resumed.history] == pytest.approx(
        [r["total"] for r in whole.history], rel=1e-5)
    for name, value in whole.look.network.state_dict().items():
        torch.testing.assert_close(resumed.look.network.state_dict()[name], value,
                                   rtol=1e-5, atol=1e-6)


def test_resume_refuses_other_settings(light, style, tmp_path):
    path = tmp_path / "look.pt"
    _train(style, light, options=_options(), checkpoint=path)
    checkpoint = read_checkpoint(path)
    other = torch.flip(style, dims=[-1])
    with pytest.raises(InputError, match="another style photo"):
        train(_photos(), other, config=CONFIG, model=light, options=_options(steps=8),
              resume=checkpoint)
    with pytest.raises(InputError, match="style_loss"):
        train(_photos(), style, config=CONFIG.replace(style_loss="both"), model=light,
              options=_options(steps=8), resume=checkpoint)
    with pytest.raises(InputError, match="done 4 steps"):
        train(_photos(), style, config=CONFIG, model=light, options=_options(steps=4),
              resume=checkpoint)


def test_ctrl_c_keeps_the_last_checkpoint(light, style, tmp_path):
    path = tmp_path / "look.pt"

    def interrupt(info):
        if info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainInterrupted) as caught:
        _train(style, light, options=_options(steps=10), checkpoint=path, callback=interrupt)
    assert (caught.value.step, caught.value.saved) == (3, 2)
    assert read_checkpoint(path).steps == 2


def test_callback_sees_every_step_and_the_checkpoints(light, style, tmp_path):
    seen = []
    _train(style, light, options=_options(steps=5), checkpoint=tmp_path / "l.pt",
           config=CONFIG.replace(progress_every=2), callback=seen.append)
    assert [s.step for s in seen] == [2, 4, 5]
    assert [s.checkpoint is not None for s in seen] == [True, True, True]
    assert set(seen[0].losses) == {"content", "style", "tv"}
    assert seen[0].total == pytest.approx(sum(seen[0].losses.values()))


def test_too_few_photos(light, style):
    with pytest.raises(InputError, match="at least 4 photos"):
        train(_photos(3), style, config=CONFIG, model=light)


@pytest.mark.parametrize("case", ["vgg_state_dict", "text", "truncated", "newer", "damaged"])
def test_foreign_or_damaged_files_are_refused_in_one_line(light, style, tmp_path, case):
    path = tmp_path / "x.pt"
    if case == "vgg_state_dict":
        torch.save(light.state_dict(), path)
    elif case == "text":
        path.write_text("not a look")
    else:
        good = tmp_path / "good.pt"
        _train(style, light, options=_options(steps=2), checkpoint=good)
        if case == "truncated":
            path.write_bytes(good.read_bytes()[:2000])
        else:
            payload = torch.load(good, weights_only=True)
            assert payload["format"] == FORMAT
            if case == "newer":
                payload["version"] = 99
            else:
                payload["state_dict"] = {k: v[..., :1] for k, v in payload["state_dict"].items()}
            torch.save(payload, path)
    with pytest.raises(WeightsError) as caught:
        Look.load(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    if case == "newer":
        assert "newer" in message


def test_look_metadata_is_a_frozen_record(light, style, tmp_path):
    path = tmp_path / "look.pt"
    result = _train(style, light, options=_options(steps=2), checkpoint=path)
    assert result.look.info.steps == 2 and result.look.info.state_dict == {}
    loaded = Look.load(path).info  # the weights live in the network, not twice
    assert loaded.steps == 2 and loaded.state_dict == {} and loaded.resume is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.look.info.steps = 3
