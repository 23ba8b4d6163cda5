"""The file of a look: a versioned checkpoint holding the network and what it was trained with.

A look file is a ``torch.save`` of one dict of plain values and tensors, loaded with
``torch.load(weights_only=True)`` (no code is unpickled)::

    {"format": "photostyle-look", "version": 1,
     "arch": "bilateral" | "johnson", "hparams": {...},   # the network's constructor arguments
     "state_dict": {...},                                 # its weights
     "training": {
         "steps": int,                                    # optimizer steps done
         "style_sha256": str, "style_name": str,          # the style photo (hash of its pixels)
         "vgg_weights": str, "vgg_kind": "caffe" | "imagenet" | "random" | "file",
         "for_tests_only": bool,                          # trained on untrained VGG features
         "loss": {...},                                   # form, style loss, weights, layers
         "options": {...},                                # TrainOptions and the seed
         "history": {"names": [...], "values": Tensor},   # (reads, terms): step, total, terms
     },
     "resume": {"optimizer": ..., "generator": Tensor} | None}

Files are written atomically (:func:`photostyle.io.files.atomic_write`), so an interrupted
write leaves the previous checkpoint intact. A file that is not a look, of a newer format
version, or damaged gives a one-line :class:`photostyle.errors.WeightsError`.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import WeightsError
from ..io.files import atomic_write
from .options import ARCHS

__all__ = ["FORMAT", "VERSION", "VGG_KINDS", "Checkpoint", "read_checkpoint", "vgg_kind",
           "write_checkpoint"]

#: The ``format`` key of every look file.
FORMAT = "photostyle-look"
#: The format version written; files of this version or older are read.
VERSION = 1

_TRAINING_KEYS = ("steps", "style_sha256", "style_name", "vgg_weights", "vgg_kind",
                  "for_tests_only", "loss", "options", "history")


#: The kinds of VGG-19 weights a look records (:func:`vgg_kind`).
VGG_KINDS = ("caffe", "imagenet", "random", "file")


def vgg_kind(weights: str) -> str:
    """``"caffe"``, ``"imagenet"``, ``"random"`` or ``"file"`` (a local state dict) for a VGG
    weights spec (``"auto"`` is the Caffe network)."""
    if weights == "auto":
        return "caffe"
    return weights if weights in VGG_KINDS else "file"


@dataclass(frozen=True)
class Checkpoint:
    """The contents of a look file.

    Attributes
    ----------
    arch : str
        ``"bilateral"`` or ``"johnson"``.
    hparams : dict
        The network's constructor arguments.
    state_dict : dict of str to Tensor
        Its weights (on the CPU).
    steps : int
        Optimizer steps done.
    style_sha256, style_name : str
        SHA-256 of the style photo's 8-bit pixels and size (:func:`photostyle.looks.train.
        style_hash`), and its file name (may be empty).
    vgg_weights, vgg_kind : str
        The VGG-19 weights trained with, and their kind (``"random"``: untrained).
    for_tests_only : bool
        Trained on untrained (random) VGG features: a test of the mechanics, not a look.
    loss : dict
        The loss: ``form`` (``"paper"`` or ``"relative"``), ``vgg_format`` (the network's
        input convention), ``style_loss``, ``weights``, the layers, pooling, style scale.
    options : dict
        :class:`photostyle.looks.options.TrainOptions` as a dict, and ``seed``.
    history : list of dict
        One row per loss read: ``step``, ``total`` and each weighted term.
    resume : dict or None
        ``optimizer`` (Adam's state dict) and ``generator`` (the crop sampler's RNG state).
    """

    arch: str
    hparams: dict[str, Any]
    state_dict: dict[str, Tensor]
    steps: int
    style_sha256: str
    style_name: str
    vgg_weights: str
    vgg_kind: str
    for_tests_only: bool
    loss: dict[str, Any]
    options: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    resume: dict[str, Any] | None = None


def _history_tensor(history: list[dict[str, float]]) -> dict[str, Any]:
    names = list(dict.fromkeys(k for row in history for k in row))
    values = torch.tensor([[float(row.get(k, float("nan"))) for k in names] for row in history],
                          dtype=torch.float64).reshape(len(history), len(names))
    return {"names": names, "values": values}


def _history_rows(packed: dict[str, Any]) -> list[dict[str, float]]:
    names, values = packed["names"], packed["values"]
    return [dict(zip(names, row, strict=True)) for row in values.tolist()]


def write_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (a temporary file, then a rename)."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "arch": checkpoint.arch,
        "hparams": dict(checkpoint.hparams),
        "state_dict": {k: v.detach().to("cpu") for k, v in checkpoint.state_dict.items()},
        "training": {
            "steps": int(checkpoint.steps),
            "style_sha256": checkpoint.style_sha256,
            "style_name": checkpoint.style_name,
            "vgg_weights": checkpoint.vgg_weights,
            "vgg_kind": checkpoint.vgg_kind,
            "for_tests_only": bool(checkpoint.for_tests_only),
            "loss": checkpoint.loss,
            "options": checkpoint.options,
            "history": _history_tensor(checkpoint.history),
        },
        "resume": checkpoint.resume,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    return atomic_write(path, lambda handle: handle.write(data))


def _bad(path: Path, why: str) -> WeightsError:
    return WeightsError(f"{path} is not a photostyle look ({why}); make one with "
                        "'photostyle train STYLE --images DIR -o LOOK.pt'")


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a look file (``torch.load(weights_only=True)``, tensors on the CPU).

    Raises
    ------
    WeightsError
        Missing file, a file that is not a look (another torch file, not a torch file at all),
        a newer format version, or a damaged one; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise WeightsError(f"look {path} {what}; give the .pt file written by 'photostyle "
                           "train'")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, ValueError,
            TypeError, OSError) as exc:
        raise _bad(path, f"unreadable as a torch file: {type(exc).__name__}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        kind = type(payload).__name__
        raise _bad(path, f"a torch file holding a {kind} without format {FORMAT!r}")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise _bad(path, f"format version {version!r}")
    if version > VERSION:
        raise WeightsError(f"look {path} has format version {version}, newer than this "
                           f"photostyle reads ({VERSION}); upgrade photostyle")
    training = payload.get("training")
    state = payload.get("state_dict")
    try:
        if payload.get("arch") not in ARCHS:
            raise ValueError(f"unknown architecture {payload.get('arch')!r}")
        if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
            raise ValueError("no state dict")
        missing = [k for k in _TRAINING_KEYS if k not in training]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return Checkpoint(
            arch=payload["arch"], hparams=dict(payload.get("hparams") or {}), state_dict=state,
            steps=int(training["steps"]), style_sha256=str(training["style_sha256"]),
            style_name=str(training["style_name"]), vgg_weights=str(training["vgg_weights"]),
            vgg_kind=str(training["vgg_kind"]),
            for_tests_only=bool(training["for_tests_only"]), loss=dict(training["loss"]),
            options=dict(training["options"]), history=_history_rows(training["history"]),
            resume=payload.get("resume"))
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"damaged: {exc}") from exc
