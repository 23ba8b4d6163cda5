"""Shared fixtures: small synthetic photo pairs with DPST colour masks, written by the tests."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch

from photostyle import VGG19Features

from .synthetic import scene_pair, to_tensor, write_pair

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test runs offline with an empty torch.hub cache: a download raises URLError at
    once (as on a machine without network), and no weights cached on the machine are seen.
    Returns the cache folder ($TORCH_HOME)."""

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError(f"tests run offline ({url})")

    home = tmp_path_factory.mktemp("torch_home")
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return home


@pytest.fixture
def tiny_pair(tmp_path: Path) -> dict[str, Path]:
    """Content 64×80 and style 72×64 PNGs with colour masks, in tmp_path."""
    return write_pair(tmp_path, *scene_pair())


@pytest.fixture(scope="module")
def model() -> VGG19Features:
    """Untrained VGG-19 (seed 0), shared by the tests of a module."""
    return VGG19Features("random", seed=0)


@pytest.fixture(scope="module")
def pair():
    """:func:`scene_pair` as tensors: content, style, content labels, style labels."""
    content, style, c_labels, s_labels = scene_pair()
    return to_tensor(content), to_tensor(style), c_labels, s_labels
