"""VGG-19 features, built only up to the deepest layer needed (relu5_1).

Inputs are RGB images ``(B,3,H,W)`` in [0, 1]; each network's own input convention is applied
inside the module (``input_format``):

* ``"caffe"``: the paper's network, the Caffe VGG-19 (:data:`photostyle.config.CAFFE_FILE`,
  converted by the author of neural-style with torchvision's key layout): BGR, 256·v − (103.939,
  116.779, 123.68), no division by a std (the Lua ``preprocess``; :func:`to_caffe`);
* ``"torchvision"``: torchvision's ``IMAGENET1K_V1`` weights: RGB in [0, 1] normalized by the
  ImageNet mean and std.

Weights come from torch.hub's cache (``$TORCH_HOME/hub/checkpoints``; downloaded there when
missing, with the Caffe file's hash checked), from a local state dict, or — for tests and
offline trials only — are seeded random values.

Pooling: loadcaffe builds the Caffe network's max pooling in ceil mode (an odd side keeps its
last row or column), torchvision in floor mode. :attr:`VGG19Features.ceil_mode` switches
between them; the paper's loss form uses ceil mode, as the Lua code's network
(:func:`photostyle.neural.transfer.transfer` sets it for the run).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from ..config import CAFFE_FILE, CAFFE_URL, VGG_FORMATS, WEIGHTS_ENV, Config
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

#: Mean pixel of the Caffe VGG-19, in its BGR order (the Lua ``preprocess``'s ``mean_pixel``).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: Scale of the Caffe input: the Lua code multiplies the [0, 1] image by 256 (not 255).
CAFFE_SCALE = 256.0
#: Start of the SHA-256 of :data:`photostyle.config.CAFFE_FILE`, checked on download.
CAFFE_HASH = CAFFE_FILE.rsplit("-", 1)[1].split(".")[0]

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


def feature_size(height: int, width: int, layer: str, ceil_mode: bool = False
                 ) -> tuple[int, int]:
    """``(h, w)`` of the activations at ``layer`` for a ``height × width`` input (each pooling
    layer before it halves the size, rounding up in ceil mode, down otherwise)."""
    for name in layers_until(layer):
        if name.startswith("pool"):
            height, width = ((-(-height // 2), -(-width // 2)) if ceil_mode
                             else (height // 2, width // 2))
    return height, width


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


def _caffe_mean(like: Tensor) -> Tensor:
    return torch.tensor(CAFFE_MEAN_BGR, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def to_caffe(image: Tensor) -> Tensor:
    """An RGB image ``(B,3,H,W)`` in [0, 1] in Caffe units: BGR, ``256·v − mean`` (a new
    tensor; the Lua ``preprocess``)."""
    return image.flip(1) * CAFFE_SCALE - _caffe_mean(image)


def from_caffe(x: Tensor) -> Tensor:
    """The inverse of :func:`to_caffe` (the Lua ``deprocess``): RGB ``(x + mean)/256``."""
    return ((x + _caffe_mean(x)) / CAFFE_SCALE).flip(1)


def cache_path(file: str = IMAGENET_FILE) -> Path:
    """Where torch.hub keeps (or would keep) a weights file (default: torchvision's ImageNet
    VGG-19)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file


def how_to_get_weights(source: str = "caffe") -> str:
    """What to do without the weights of ``source`` ("caffe" or "imagenet"), for messages."""
    if source == "imagenet":
        return (f"download {IMAGENET_URL} on a machine with internet access and pass it with "
                f"--vgg-weights PATH (or set {WEIGHTS_ENV}=PATH, or copy it to "
                f"{cache_path()}); or use the Caffe weights (--vgg-weights caffe), or use "
                "--quality preview, which needs no weights")
    return (f"download {CAFFE_URL} on a machine with internet access and copy it to "
            f"{cache_path(CAFFE_FILE)}, or pass it with --vgg-weights PATH --vgg-format caffe "
            f"(or set {WEIGHTS_ENV}=PATH); or use --quality preview, which needs no weights")


def fetch_caffe_weights(progress: bool = False) -> Path:
    """The path of the Caffe VGG-19 in torch.hub's cache, downloaded there first if missing
    (``torch.hub.download_url_to_file`` with its SHA-256 prefix checked; a temporary file
    until complete). ``progress``: torch.hub's download bar on stderr.

    Raises
    ------
    WeightsError
        Not cached and the download failed (offline, refused, wrong hash); the message says
        how to get the file.
    """
    cached = cache_path(CAFFE_FILE)
    if cached.is_file():
        return cached
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(CAFFE_URL, str(cached), hash_prefix=CAFFE_HASH,
                                       progress=progress)
    except Exception as exc:  # urllib/http/ssl/OS/hash errors: any of them means "no weights"
        raise WeightsError(
            f"the Caffe VGG-19 weights {CAFFE_FILE} are not in {cached.parent} and could not "
            f"be downloaded ({type(exc).__name__}); {how_to_get_weights('caffe')}") from exc
    return cached


def _state_dict_from(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise WeightsError(f"VGG-19 weights file {path} does not exist; "
                           f"{how_to_get_weights()}")
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
            f"({type(exc).__name__}); {how_to_get_weights('imagenet')}"
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
        ``"caffe"`` (the paper's network; ``"auto"`` is the same here), ``"imagenet"``,
        ``"random"`` or a path to a state dict (full VGG-19 or its ``features``).
    last : str
        Deepest layer to build (default ``relu5_1``; nothing after it is created).
    pooling : {"max", "avg"}
        Pooling layers; the paper uses max pooling.
    seed : int
        Seed of the random weights (``weights="random"`` only; the global RNG is left untouched).
    input_format : {"caffe", "torchvision"} or None
        Input convention of the weights (see the module docstring); ``None``: the named
        source's, for a file :data:`photostyle.config.CAFFE_FILE`'s name means ``"caffe"``,
        anything else ``"torchvision"``.
    ceil_mode : bool
        Pool in ceil mode (loadcaffe's network) instead of floor mode (torchvision's); the
        attribute can be changed later.

    The module is frozen (``requires_grad=False``) and in eval mode. ``forward(x, layers)`` takes
    ``(B,3,H,W)`` RGB in [0, 1] and returns ``{name: (B,C,h,w)}`` for the requested layers.
    """

    def __init__(self, weights: str = "caffe", last: str = "relu5_1",
                 pooling: str = "max", seed: int = 0, input_format: str | None = None,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        weights = str(weights)
        self.names = layers_until(last)
        self.weights_source = weights
        if input_format is None:
            input_format = Config(vgg_weights=weights).network_format
        if input_format not in VGG_FORMATS:
            raise ValueError(f"input_format must be one of {VGG_FORMATS}, got {input_format!r}")
        self.input_format = input_format
        modules: list[nn.Module] = []
        # nn.Conv2d draws its initial weights from the global RNG; keep that RNG untouched.
        with torch.random.fork_rng(devices=[]):
            for name in self.names:
                modules.append(_make_layer(name, pooling))
        self.layers = nn.ModuleList(modules)
        self.ceil_mode = ceil_mode
        conv_idx = [i for i, n in enumerate(self.names) if n.startswith("conv")]
        if weights == "random":
            self._init_random(seed)
        else:
            if weights == "imagenet":
                state, source = _imagenet_state_dict(), f"torchvision's {IMAGENET_FILE}"
            elif weights in ("caffe", "auto"):
                path = fetch_caffe_weights()
                state, source = _state_dict_from(path), str(path)
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
        if input_format == "caffe":  # float64: exact in float64 runs, cast in others
            self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float64
                                                      ).view(1, 3, 1, 1))
            self.register_buffer("std", None)
        else:
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @property
    def ceil_mode(self) -> bool:
        """Whether the pooling layers round their output size up (Caffe) or down."""
        return self._ceil_mode

    @ceil_mode.setter
    def ceil_mode(self, value: bool) -> None:
        self._ceil_mode = bool(value)
        for layer in self.layers:
            if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
                layer.ceil_mode = self._ceil_mode

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

    def preprocess(self, x: Tensor) -> Tensor:
        """The network's input for an RGB image in [0, 1] (a new tensor)."""
        if self.std is None:  # Caffe: BGR, 256·v − mean (to_caffe, with the mean on the device)
            return x.flip(1) * CAFFE_SCALE - self.mean.to(x.dtype)
        return (x - self.mean) / self.std

    def forward(self, x: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are not built (deepest: {self.names[-1]})")
        out: dict[str, Tensor] = {}
        h = self.preprocess(x)
        for name, layer in zip(self.names, self.layers, strict=True):
            h = layer(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out


def build_network(config: Config, ceil_mode: bool | None = None) -> VGG19Features:
    """The VGG-19 of ``config`` (weights, format, pooling, seed), up to its deepest layer;
    pooling in ceil mode for the paper's loss form unless ``ceil_mode`` says otherwise."""
    if ceil_mode is None:
        ceil_mode = config.loss_form == "paper"
    return VGG19Features(config.vgg_weights, last=deepest(config.feature_layers),
                         pooling=config.pooling, seed=config.seed,
                         input_format=config.network_format, ceil_mode=ceil_mode)
