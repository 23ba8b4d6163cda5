"""Settings of the browser editor (``photostyle ui``); every default is written here once.

The editor serves one machine's user: it binds the loopback interface, reads photos and masks
only from the folder it was given (:attr:`UiSettings.inputs`) or from uploads, and writes only
into its output folder (:attr:`UiSettings.outputs`). Uploads are bounded in bytes and pixels
before they are decoded.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["LOOPBACK_NAMES", "UiSettings", "is_loopback"]

#: Host names that always mean this machine (accepted in the ``Host`` header).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UiSettings:
    """What ``photostyle ui`` serves, and its limits.

    Attributes
    ----------
    host : str
        Interface to bind; the loopback address by default (only this machine can connect).
    port : int
        TCP port; 0 picks a free one.
    inputs : Path or None
        Folder whose photos and masks the editor may open by path (relative to it, never
        outside it); ``None``: uploads only.
    outputs : Path or None
        Folder the editor writes into (one sub-folder per editor session); ``None``: a new
        temporary folder.
    vgg_weights : str or None
        VGG-19 weights of the full method's "default weights" choice (``None``:
        ``$PHOTOSTYLE_VGG_WEIGHTS``, else the ImageNet weights from torchvision's cache; the
        editor never downloads them).
    max_upload_mb : float
        Largest upload (photo or mask file), in MiB.
    max_pixels : int
        Largest photo or mask, in pixels (checked from the file header, before decoding).
    work_side : int
        Photos are kept at most this long side in memory; also the largest ``size`` of a run.
    mask_side : int
        Masks are painted at the photo's size up to this long side (larger photos: a scaled
        copy; saved masks are brought to the photo's size).
    max_sessions : int
        Editor sessions (browser tabs) kept; the least recently used idle one goes first.
    max_runs : int
        Full-method runs at a time over all sessions (each session runs at most one).
    """

    host: str = "127.0.0.1"
    port: int = 7860
    inputs: Path | None = None
    outputs: Path | None = None
    vgg_weights: str | None = None
    max_upload_mb: float = 50.0
    max_pixels: int = 50_000_000
    work_side: int = 2048
    mask_side: int = 1024
    max_sessions: int = 8
    max_runs: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InputError(f"port {self.port} must be in 0..65535")
        if not self.host:
            raise InputError("host must not be empty; use 127.0.0.1")
        for name in ("max_upload_mb", "max_pixels", "max_sessions", "max_runs"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name.replace('_', '-')} must be > 0, got "
                                 f"{getattr(self, name)}")
        if self.mask_side < 64 or self.work_side < 64:
            raise InputError("mask and work sides must be at least 64 px")
        for name in ("inputs", "outputs"):
            folder = getattr(self, name)
            if folder is None:
                continue
            folder = Path(folder).expanduser()
            if name == "inputs" and not folder.is_dir():
                raise InputError(f"--{name} {folder} is not a folder; give an existing folder")
            if name == "outputs" and folder.exists() and not folder.is_dir():
                raise InputError(f"--{name} {folder} is a file; give a folder")
            if name == "outputs" and not folder.exists() and not folder.parent.is_dir():
                raise InputError(f"--{name} folder {folder.parent} does not exist; create it "
                                 "first")
            object.__setattr__(self, name, folder.resolve())

    @property
    def max_upload_bytes(self) -> int:
        """:attr:`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 2**20)

    @property
    def loopback(self) -> bool:
        """Whether only this machine can connect."""
        return is_loopback(self.host)

    def replace(self, **changes: object) -> UiSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
