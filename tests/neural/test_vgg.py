"""VGG-19 features: building, weight loading from local files, clear errors."""

from __future__ import annotations

import pytest
import torch
import torchvision

from photostyle.config import CAFFE_FILE, CAFFE_URL, WEIGHTS_ENV, resolve_weights
from photostyle.errors import WeightsError
from photostyle.neural.vgg import VGG19Features, fetch_caffe_weights, layers_until


def test_builds_only_through_relu5_1():
    model = VGG19Features("random")
    assert model.names[-1] == "relu5_1"
    assert len(model.layers) == len(layers_until("relu5_1")) == 30
    assert not any(p.requires_grad for p in model.parameters())


def test_random_weights_are_seeded_and_leave_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = VGG19Features("random", seed=1), VGG19Features("random", seed=1), \
        VGG19Features("random", seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    assert not torch.equal(a.layers[0].weight, c.layers[0].weight)


@pytest.mark.parametrize("which", ["full", "features"])
def test_local_state_dict_matches_torchvision(tmp_path, which):
    torch.manual_seed(0)
    reference = torchvision.models.vgg19()
    state = reference.state_dict() if which == "full" else reference.features.state_dict()
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    model = VGG19Features(str(path))
    x = torch.rand(1, 3, 40, 48)
    normalized = (x - model.mean) / model.std
    with torch.no_grad():
        expected = reference.features[:30](normalized)   # index 29 is relu5_1
        expected_42 = reference.features[:23](normalized)  # index 22 is relu4_2
        got = model(x, ["relu5_1", "relu4_2"])
    torch.testing.assert_close(got["relu5_1"], expected)
    torch.testing.assert_close(got["relu4_2"], expected_42)


def test_missing_and_foreign_weight_files_fail_clearly(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        VGG19Features(str(tmp_path / "nope.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pth"):
        VGG19Features(str(junk))
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(WeightsError, match="not a VGG-19 state dict"):
        VGG19Features(str(other))


def test_imagenet_unavailable_says_how_to_get_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache

    def offline(self, *args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.models.VGG19_Weights, "get_state_dict", offline)
    with pytest.raises(WeightsError) as info:
        VGG19Features("imagenet")
    message = str(info.value)
    assert "--vgg-weights PATH" in message and WEIGHTS_ENV in message
    assert "vgg19-dcbb9e9d.pth" in message and "\n" not in message


def test_imagenet_weights_are_read_from_torchvision_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.manual_seed(0)
    reference = torchvision.models.vgg19()
    torch.save(reference.state_dict(), cache / "vgg19-dcbb9e9d.pth")
    model = VGG19Features("imagenet")
    assert torch.equal(model.layers[0].weight, reference.features[0].weight)


def test_weights_resolution_order(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert resolve_weights(None) == "auto"
    monkeypatch.setenv(WEIGHTS_ENV, "/some/file.pth")
    assert resolve_weights(None) == "/some/file.pth"
    assert resolve_weights("random") == "random"


def test_dtype_and_device_follow_the_module():
    model = VGG19Features("random").to(torch.float64)
    out = model(torch.rand(1, 3, 32, 32, dtype=torch.float64), ["relu1_1"])
    assert out["relu1_1"].dtype == torch.float64


def test_caffe_weights_come_from_the_hub_cache_with_their_hash_checked(offline, monkeypatch):
    with pytest.raises(WeightsError) as info:  # offline, nothing cached (conftest)
        fetch_caffe_weights()
    message = str(info.value)
    assert CAFFE_URL in message and str(offline) in message and "\n" not in message
    calls = []
    reference = VGG19Features("random", seed=3)

    def download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        torch.save(reference.layers.state_dict(), dst)  # `features` keys: N.weight

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    model = VGG19Features("caffe")
    assert calls == [(CAFFE_URL, "d01eb7cb")]
    assert (offline / "hub" / "checkpoints" / CAFFE_FILE).is_file()
    assert model.input_format == "caffe" and model.std is None
    assert torch.equal(model.layers[0].weight, reference.layers[0].weight)
    VGG19Features("auto")  # cached now: no second download
    assert len(calls) == 1
