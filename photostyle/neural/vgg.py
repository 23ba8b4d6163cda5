"""VGG-19 features from torchvision, built only up to the deepest layer needed (relu5_1).

Inputs are RGB images ``(B,3,H,W)`` in [0, 1]; the ImageNet normalization of torchvision's
weights is applied inside the module. Weights come from torchvision's ``IMAGENET1K_V1`` (through
its usual cache in ``$TORCH_HOME/hub/checkpoints``), from a local state dict, or — for tests and
offline trials only — are seeded random values.

Differences from the paper: the paper used the Caffe VGG-19 (BGR, 0–255 inputs, mean subtraction
only). torchvision's weights expect RGB in [0, 1] normalized by the ImageNet mean and std, so
feature magnitudes differ; :mod:`photostyle.neural.losses` makes every term dimensionless so the
paper's weights can be used as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from ..config import WEIGHTS_ENV
from ..errors import WeightsError

#: Layer names of ``torchvision.models.vgg19().features``, in order.
VGG19_LAYERS: tuple[str, ...] = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4",
    "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4",
    "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4",
    "pool5",
)

#: ``(in, out)`` channels of each conv layer of VGG-19.
CONV_CHANNELS: dict[str, tuple[int, int]] = {
    "conv1_1": (3, 64), "conv1_2": (64, 64),
    "conv2_1": (64, 128), "conv2_2": (128, 128),
    "conv3_1": (128, 256), "conv3_2": (256, 256), "conv3_3": (256, 256), "conv3_4": (256, 256),
    "conv4_1": (256, 512), "conv4_2": (512, 512), "conv4_3": (512, 512), "conv4_4": (512, 512),
    "conv5_1": (512, 512), "conv5_2": (512, 512), "conv5_3": (512, 512), "conv5_4": (512, 512),
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: File name torchvision gives ``VGG19_Weights.IMAGENET1K_V1`` in its cache.
IMAGENET_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_URL = "https://download.pytorch.org/models/" + IMAGENET_FILE


def layer_ops(names: Iterable[str]) -> list[str]:
    """Kind of each layer (``"conv"``, ``"relu"`` or ``"pool"``), for mask pyramids."""
    return [name.rstrip("0123456789_") for name in names]


def layers_until(last: str) -> tuple[str, ...]:
    """VGG-19 layer names from the first up to and including ``last``."""
    if last not in VGG19_LAYERS:
        raise ValueError(f"unknown VGG-19 layer {last!r}; valid names: {', '.join(VGG19_LAYERS)}")
    return VGG19_LAYERS[: VGG19_LAYERS.index(last) + 1]


def deepest(layers: Iterable[str]) -> str:
    """The deepest of some VGG-19 layer names."""
    layers = list(layers)
    for name in layers:
        if name not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG-19 layer {name!r}")
    return max(layers, key=VGG19_LAYERS.index)


def _make_layer(name: str, pooling: str) -> nn.Module:
    if name.startswith("conv"):
        cin, cout = CONV_CHANNELS[name]
        return nn.Conv2d(cin, cout, kernel_size=3, padding=1)
    if name.startswith("relu"):
        return nn.ReLU(inplace=False)
    if pooling == "max":
        return nn.MaxPool2d(kernel_size=2, stride=2)
    if pooling == "avg":
        return nn.AvgPool2d(kernel_size=2, stride=2)
    raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")


def cache_path() -> Path:
    """Where torchvision keeps (or would keep) the ImageNet VGG-19 weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_FILE


def _how_to_get_weights() -> str:
    return (
        f"download {IMAGENET_URL} on a machine with internet access and pass it with "
        f"--vgg-weights PATH (or set {WEIGHTS_ENV}=PATH, or copy it to {cache_path()}); "
        "--vgg-weights random runs with untrained features (for testing only); or use "
        "--quality preview, which needs no weights"
    )


def _state_dict_from(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise WeightsError(f"VGG-19 weights file {path} does not exist; {_how_to_get_weights()}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise WeightsError(
            f"cannot load VGG-19 weights from {path} ({type(exc).__name__}: {exc}); "
            "it must be a state dict saved with torch.save"
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a VGG-19 state dict")
    return state


def _imagenet_state_dict() -> dict[str, Tensor]:
    cached = cache_path()
    if cached.is_file():
        return _state_dict_from(cached)
    try:
        from torchvision.models import VGG19_Weights

        return VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as exc:  # urllib/http/ssl/OS errors: any of them means "no weights"
        raise WeightsError(
            f"VGG-19 ImageNet weights are not in {cached} and could not be downloaded "
            f"({type(exc).__name__}); {_how_to_get_weights()}"
        ) from exc


def _features_state(state: dict[str, Tensor], source: str, needed: Iterable[int]) -> dict:
    """Keys of a full VGG-19 (``features.N.weight``) or ``features`` only (``N.weight``)."""
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    missing = [f"{i}.{p}" for i in needed for p in ("weight", "bias") if f"{i}.{p}" not in state]
    if missing:
        raise WeightsError(
            f"{source} is not a VGG-19 state dict: missing {', '.join(missing[:4])}"
            + (" …" if len(missing) > 4 else "")
        )
    return state


class VGG19Features(nn.Module):
    """VGG-19 convolutional features up to a given layer, returning chosen activations.

    Parameters
    ----------
    weights : str
        ``"imagenet"``, ``"random"`` or a path to a state dict (full VGG-19 or its ``features``).
    last : str
        Deepest layer to build (default ``relu5_1``; nothing after it is created).
    pooling : {"max", "avg"}
        Pooling layers; the paper uses max pooling.
    seed : int
        Seed of the random weights (``weights="random"`` only; the global RNG is left untouched).

    The module is frozen (``requires_grad=False``) and in eval mode. ``forward(x, layers)`` takes
    ``(B,3,H,W)`` RGB in [0, 1] and returns ``{name: (B,C,h,w)}`` for the requested layers.
    """

    def __init__(self, weights: str = "imagenet", last: str = "relu5_1",
                 pooling: str = "max", seed: int = 0) -> None:
        super().__init__()
        self.names = layers_until(last)
        self.weights_source = weights
        modules: list[nn.Module] = []
        # nn.Conv2d draws its initial weights from the global RNG; keep that RNG untouched.
        with torch.random.fork_rng(devices=[]):
            for name in self.names:
                modules.append(_make_layer(name, pooling))
        self.layers = nn.ModuleList(modules)
        conv_idx = [i for i, n in enumerate(self.names) if n.startswith("conv")]
        if weights == "random":
            self._init_random(seed)
        else:
            if weights == "imagenet":
                state, source = _imagenet_state_dict(), f"torchvision's {IMAGENET_FILE}"
            else:
                state, source = _state_dict_from(Path(weights)), str(weights)
            state = _features_state(state, source, conv_idx)
            for i in conv_idx:
                conv = self.layers[i]
                for p in ("weight", "bias"):
                    value = state[f"{i}.{p}"]
                    target = getattr(conv, p)
                    if value.shape != target.shape:
                        raise WeightsError(
                            f"{source} is not a VGG-19 state dict: {i}.{p} has shape "
                            f"{tuple(value.shape)}, expected {tuple(target.shape)}"
                        )
                    with torch.no_grad():
                        target.copy_(value)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def _init_random(self, seed: int) -> None:
        # torchvision's VGG initialization (Kaiming normal, fan_out; zero bias) from a private
        # generator, so the global RNG state is not touched.
        gen = torch.Generator().manual_seed(seed)
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                fan_out = layer.out_channels * layer.kernel_size[0] * layer.kernel_size[1]
                std = (2.0 / fan_out) ** 0.5
                with torch.no_grad():
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * std)
                    layer.bias.zero_()

    def train(self, mode: bool = True) -> VGG19Features:  # noqa: D102 - always frozen
        return super().train(False)

    def forward(self, x: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are not built (deepest: {self.names[-1]})")
        out: dict[str, Tensor] = {}
        h = (x - self.mean) / self.std
        for name, layer in zip(self.names, self.layers, strict=True):
            h = layer(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out
