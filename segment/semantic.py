"""Semantic segmentation with an ADE20K (150-class) checkpoint of segmentation-models-pytorch.

A checkpoint is a folder written by ``model.save_pretrained(folder)`` of
segmentation-models-pytorch (``config.json`` naming the model class, ``model.safetensors``),
optionally with the ``albumentations_config_eval.json`` that the ``smp-hub`` checkpoints carry
to describe their preprocessing. :func:`load_semantic_model` takes such a folder or a Hugging
Face Hub id; Hub checkpoints are fetched with ``huggingface_hub.snapshot_download`` into the
usual Hugging Face cache (``$HF_HOME/hub``, ``~/.cache/huggingface/hub`` by default) and used from
there offline.

The default, :data:`DEFAULT_CHECKPOINT` (``smp-hub/upernet-convnext-tiny``), is UPerNet (Xiao et
al., ECCV 2018) with a ConvNeXt-T encoder (Liu et al., CVPR 2022) trained on ADE20K, converted by
the segmentation-models-pytorch authors from ``openmmlab/upernet-convnext-tiny`` (MIT licence).
SegFormer checkpoints (``smp-hub/segformer-…-ade-…``) also load, but their MiT encoder is under
NVIDIA's source code licence (non-commercial use only): use them only as an explicit choice.

Preprocessing follows the checkpoint: RGB scaled to 0-255, minus the mean, divided by the std
of its ``Normalize`` step (ImageNet's, ``(123.675, 116.28, 103.53)`` / ``(58.395, 57.12,
57.375)``, when there is none). The image is resized to a bounded long side (the checkpoint's
``Resize`` size, else 512) with sides rounded to multiples of 32, the logits are upsampled back
bilinearly and the class of each pixel is their argmax.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ade20k import ADE20K_CLASSES, DEFAULT_CHECKPOINT
from .align import resize_labels
from .errors import SegmentationWeightsError, SegmentationWeightsUnavailable

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_INFER_SIZE",
    "IMAGENET_MEAN_255",
    "IMAGENET_STD_255",
    "PREPROCESSING_FILE",
    "SemanticModel",
    "load_semantic_model",
    "segment_semantic",
]

#: Long side of the image given to the network when the checkpoint does not say.
DEFAULT_INFER_SIZE = 512

#: Largest long side at which logits are upsampled and arg-maxed (labels are then resized with
#: nearest neighbour), so that 150 logit planes of a large photo never fill the memory.
MAX_LOGIT_SIDE = 1024

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)

#: The preprocessing description saved next to ``smp-hub`` checkpoints (albumentations format).
PREPROCESSING_FILE = "albumentations_config_eval.json"

#: Files fetched from the Hub.
_HUB_FILES = ["config.json", "model.safetensors", PREPROCESSING_FILE]

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True, eq=False)
class SemanticModel:
    """A loaded ADE20K segmentation network and its preprocessing.

    Attributes
    ----------
    module : nn.Module
        The network, in eval mode: ``(1,3,h,w)`` normalized image -> ``(1,150,h,w)`` logits
        (``h``, ``w`` multiples of 32).
    mean, std : tuple of float
        Per-channel normalization on the 0-255 scale.
    size : int
        Long side of the image given to the network.
    source : str
        Where it came from (Hub id or folder), for messages.
    """

    module: nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int
    source: str


def _find_transforms(node: Any, suffix: str) -> list[dict]:
    """Every dict of an albumentations JSON whose ``__class_fullname__`` ends in ``suffix``."""
    found = []
    if isinstance(node, dict):
        name = str(node.get("__class_fullname__", ""))
        if name.split(".")[-1] == suffix:
            found.append(node)
        for value in node.values():
            found.extend(_find_transforms(value, suffix))
    elif isinstance(node, list):
        for value in node:
            found.extend(_find_transforms(value, suffix))
    return found


def _triple(value: Any) -> tuple[float, float, float]:
    values = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != 3:
        raise ValueError(f"expected 3 values, got {value!r}")
    return values[0], values[1], values[2]


def _preprocessing(folder: Path) -> tuple[tuple[float, float, float],
                                          tuple[float, float, float], int]:
    """Mean, std (0-255 scale) and inference long side from the checkpoint's preprocessing file
    (ImageNet statistics and :data:`DEFAULT_INFER_SIZE` for whatever it does not give)."""
    mean, std, size = IMAGENET_MEAN_255, IMAGENET_STD_255, DEFAULT_INFER_SIZE
    path = folder / PREPROCESSING_FILE
    if not path.is_file():
        return mean, std, size
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        normalize = _find_transforms(config, "Normalize")
        if normalize:
            scale = float(normalize[0].get("max_pixel_value", 255.0))
            mean = tuple(m * scale for m in _triple(normalize[0]["mean"]))  # type: ignore[assignment]
            std = tuple(s * scale for s in _triple(normalize[0]["std"]))  # type: ignore[assignment]
        resize = _find_transforms(config, "Resize") + _find_transforms(config, "LongestMaxSize")
        if resize:
            r = resize[0]
            size = int(r["max_size"]) if "max_size" in r else max(int(r["height"]),
                                                                    int(r["width"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SegmentationWeightsError(
            f"segmentation checkpoint {folder}: cannot read {PREPROCESSING_FILE} ({exc}); fix "
            "or delete that file (ImageNet normalization is used without it)") from exc
    if min(std) <= 0 or size < 32:
        raise SegmentationWeightsError(
            f"segmentation checkpoint {folder}: {PREPROCESSING_FILE} has a std <= 0 or a size "
            "below 32 px; fix or delete that file")
    return mean, std, size


def _looks_like_path(spec: str) -> bool:
    return not _REPO_ID.match(spec) or spec.startswith((".", "~"))


def _hub_folder(repo_id: str) -> Path:
    """The local snapshot of a Hub checkpoint (downloaded if needed and possible)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=_HUB_FILES))
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise SegmentationWeightsError(
            f"segmentation model {repo_id} was not found on the Hugging Face Hub (or needs a "
            f"login: {type(exc).__name__}); check --seg-model") from exc
    except Exception as exc:  # connection, cache and HTTP errors all mean "cannot be had"
        reason = (f"not in the Hugging Face cache and the Hub cannot be reached: "
                  f"{type(exc).__name__}")
        raise SegmentationWeightsUnavailable(
            f"segmentation model {repo_id} is {reason}; on a machine with internet access run "
            f"'hf download {repo_id} --local-dir DIR', copy DIR here and pass --seg-model DIR",
            reason=reason) from exc


def _checkpoint_folder(spec: str | os.PathLike) -> Path:
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise SegmentationWeightsError(
                f"segmentation model {path} is a file; give the folder written by "
                "save_pretrained (config.json, model.safetensors) or a Hub id")
        return path
    if _looks_like_path(text):
        raise SegmentationWeightsError(
            f"segmentation model folder {path} does not exist; give a folder written by "
            f"save_pretrained or a Hub id such as {DEFAULT_CHECKPOINT}")
    return _hub_folder(text)


def load_semantic_model(spec: str | os.PathLike = DEFAULT_CHECKPOINT) -> SemanticModel:
    """Load an ADE20K segmentation checkpoint of segmentation-models-pytorch.

    Parameters
    ----------
    spec : str or os.PathLike
        A local folder written by ``save_pretrained`` or a Hugging Face Hub id
        (default :data:`DEFAULT_CHECKPOINT`). Hub checkpoints come from the Hugging Face cache,
        or are downloaded into it.

    Returns
    -------
    SemanticModel
        The network on the CPU in eval mode, with its preprocessing.

    Raises
    ------
    SegmentationWeightsUnavailable
        A Hub checkpoint that is not cached and cannot be downloaded (offline); ``reason``
        says why in a few words.
    SegmentationWeightsError
        A missing or broken folder, a Hub id that does not exist, or a model without 150
        output classes.
    """
    folder = _checkpoint_folder(spec)
    source = os.fspath(spec)
    config_path = folder / "config.json"
    weights_path = folder / "model.safetensors"
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise SegmentationWeightsError(
                f"segmentation model {source}: {needed.name} is missing from {folder}; save the "
                "model with save_pretrained of segmentation_models_pytorch")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        classes = int(config.get("classes", 0))
        model_class = config["_model_class"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SegmentationWeightsError(
            f"segmentation model {source}: {config_path} is not a segmentation_models_pytorch "
            f"config ({type(exc).__name__}: {exc})") from exc
    if classes != len(ADE20K_CLASSES):
        raise SegmentationWeightsError(
            f"segmentation model {source} has {classes} classes; --seg auto needs an ADE20K "
            f"model with {len(ADE20K_CLASSES)} classes")
    mean, std, size = _preprocessing(folder)
    import segmentation_models_pytorch as smp

    try:
        # huggingface_hub prints a line when loading from a folder; the library never prints.
        with contextlib.redirect_stdout(io.StringIO()):
            module = smp.from_pretrained(str(folder), encoder_weights=None)
    except Exception as exc:  # smp, timm, safetensors and torch raise many types here
        raise SegmentationWeightsError(
            f"cannot load segmentation model {source} ({model_class}; {type(exc).__name__}: "
            f"{exc})".replace("\n", " ")) from exc
    module.eval()
    module.requires_grad_(False)
    return SemanticModel(module=module, mean=mean, std=std, size=size, source=source)


def _round32(value: float) -> int:
    return max(32, int(round(value / 32.0)) * 32)


def segment_semantic(image: Tensor | np.ndarray, model: SemanticModel) -> np.ndarray:
    """ADE20K class of every pixel of an image.

    Parameters
    ----------
    image : Tensor or np.ndarray
        ``(1,3,H,W)`` or ``(3,H,W)`` tensor, or ``(H,W,3)`` float array, RGB in [0, 1]; not
        modified. The network runs on the tensor's device (the model's module is moved
        there; the CPU for an array), in float32.
    model : SemanticModel
        From :func:`load_semantic_model`.

    Returns
    -------
    np.ndarray
        ``(H,W)`` int32 class indices in ``[0, 150)`` (see :data:`~segment.ade20k.ADE20K_CLASSES`).
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be an (H,W,3) array, got shape {image.shape}")
        image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image must be (1,3,H,W) or (3,H,W), got {tuple(image.shape)}")
    height, width = (int(s) for s in image.shape[-2:])
    scale = model.size / max(height, width)
    size = (_round32(height * scale), _round32(width * scale))
    x = image.detach().to(torch.float32)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                      antialias=size[0] < height)
    mean = torch.tensor(model.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(model.std, device=x.device).view(1, 3, 1, 1)
    x = (x.clamp(0, 1) * 255.0 - mean) / std
    module = model.module.to(x.device)
    with torch.inference_mode():
        logits = module(x)
        if logits.shape[1] != len(ADE20K_CLASSES):
            raise SegmentationWeightsError(
                f"segmentation model {model.source} gives {logits.shape[1]} channels, not "
                f"{len(ADE20K_CLASSES)}; --seg auto needs an ADE20K model")
        shrink = min(1.0, MAX_LOGIT_SIDE / max(height, width))
        out = (max(1, round(height * shrink)), max(1, round(width * shrink)))
        logits = F.interpolate(logits.float(), size=out, mode="bilinear", align_corners=False)
        labels = logits.argmax(dim=1)[0].to(torch.int32).cpu().numpy()
    if out != (height, width):
        labels = resize_labels(labels, (height, width))
    return labels
