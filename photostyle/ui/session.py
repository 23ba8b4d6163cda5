"""An editor session (one browser tab): its photos, its masks, its live result and its run.

Everything here is plain Python + numpy; the web layer (:mod:`photostyle.ui.app`) turns
requests into these calls and their results into responses. A session's operations are
serialized by its lock; it runs at most one full-method run, and the :class:`Sessions` store
bounds the runs of all sessions together and the number of sessions kept.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from segment import (
    AlignedMasks,
    ParsedMask,
    align_masks,
    automatic_masks,
    color_mask_image,
    resize_labels,
)

from ..errors import InputError
from ..io.images import fit_long_side, resize_image, save_image
from .live import live_inputs, live_result
from .masks import (
    at_size,
    canonical_mask,
    decode_labels,
    encode_labels,
    legend,
    mask_size,
    one_region,
)
from .runner import FullRun, RunOptions, jpeg_bytes
from .settings import UiSettings

__all__ = ["BLANK", "MASK_FILES", "MASK_METHODS", "ROLES", "Busy", "Photo", "Session", "Sessions",
           "WarningCatcher"]

#: The two photos of a session.
ROLES = ("content", "style")

#: Mask files a session writes (DPST colour code, at the photos' sizes).
MASK_FILES = {"content": "content_mask.png", "style": "style_mask.png"}

#: Colour of a mask that is one region (no mask): DPST grey.
BLANK = (128, 128, 128)

#: Automatic mask methods offered (:func:`segment.automatic_masks`), plus ``none``.
MASK_METHODS = ("none", "cluster", "auto")

T = TypeVar("T")


class Busy(InputError):
    """A full run is already going (in this session, or the limit over all sessions)."""


class WarningCatcher:
    """Collects the library's warnings of a call as messages for the page.

    ``warnings.catch_warnings`` changes process-wide state, so calls that collect warnings
    take turns (one lock for the whole server).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[str]]:
        """``fn(*args, **kwargs)`` and the messages of the warnings it raised."""
        with self._lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        messages: list[str] = []
        for item in caught:
            if str(item.message) not in messages:
                messages.append(str(item.message))
        return result, messages


@dataclass(frozen=True)
class Photo:
    """A photo loaded into a session.

    Attributes
    ----------
    name : str
        As the user knows it (upload name or path in the input folder).
    size : tuple of int
        ``(H, W)`` of the file: the size its saved mask has.
    work : np.ndarray
        ``(h,w,3)`` float32, at most ``UiSettings.work_side`` on the long side: the full run's
        input.
    live : np.ndarray
        At the live result's working size.
    mask_hw : tuple of int
        ``(h, w)`` of the painted mask.
    display : bytes
        JPEG of the photo at the mask's size (the editor's background).
    """

    name: str
    size: tuple[int, int]
    work: np.ndarray
    live: np.ndarray
    mask_hw: tuple[int, int]
    display: bytes

    @classmethod
    def from_image(cls, image: np.ndarray, name: str, settings: UiSettings) -> Photo:
        height, width = image.shape[:2]
        work = resize_image(image.astype(np.float32),
                            fit_long_side(height, width, min(settings.work_side,
                                                             max(height, width))))
        mask_hw = mask_size(height, width, settings.mask_side)
        return cls(name=name, size=(height, width), work=work, live=live_inputs(work),
                   mask_hw=mask_hw, display=jpeg_bytes(resize_image(work, mask_hw)))

    def info(self) -> dict[str, Any]:
        """What the page needs to know of the photo."""
        return {"name": self.name, "width": self.size[1], "height": self.size[0],
                "mask_width": self.mask_hw[1], "mask_height": self.mask_hw[0]}


class Session:
    """The state of one editor tab.

    Parameters
    ----------
    sid : str
        Unguessable id (the page's key to its session).
    settings : UiSettings
        The server's settings.
    folder : Path
        Where this session's files are written (created on first write).
    catcher : WarningCatcher
        The server's warning collector.
    """

    def __init__(self, sid: str, settings: UiSettings, folder: Path,
                 catcher: WarningCatcher) -> None:
        self.sid = sid
        self.settings = settings
        self.folder = folder
        self.catcher = catcher
        self.lock = threading.RLock()
        self.photos: dict[str, Photo] = {}
        self.masks: dict[str, ParsedMask] = {}
        self.run: FullRun | None = None
        self.last_used = time.monotonic()
        self._painted: dict[str, tuple[bytes, ParsedMask]] = {}

    def touch(self) -> None:
        self.last_used = time.monotonic()

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.active

    def photo(self, role: str) -> Photo:
        if role not in ROLES:
            raise InputError(f"unknown photo {role!r}; expected content or style")
        if role not in self.photos:
            raise InputError(f"load a {role} photo first")
        return self.photos[role]

    # -- photos and masks -----------------------------------------------------------------

    def set_photo(self, role: str, image: np.ndarray, name: str) -> dict[str, Any]:
        """Load a photo (decoded and checked by :mod:`photostyle.ui.files`); its mask starts
        as one region (as no mask)."""
        if role not in ROLES:
            raise InputError(f"unknown photo {role!r}; expected content or style")
        photo = Photo.from_image(image, name, self.settings)
        with self.lock:
            self.photos[role] = photo
            self.masks.pop(role, None)
            self._painted.pop(role, None)
        return photo.info()

    def masks_payload(self) -> dict[str, Any]:
        """The current masks of both photos (missing ones: ``None``)."""
        return {role: encode_labels(self.masks[role]) if role in self.masks else None
                for role in ROLES}

    def automatic(self, method: str, k: int | None = None) -> dict[str, Any]:
        """Start both masks from ``none`` (one region each), ``cluster`` or ``auto``
        (:func:`segment.automatic_masks`, at the masks' size; ``auto`` falls back to
        ``cluster`` without the segmentation weights, and never downloads them here)."""
        if method not in MASK_METHODS:
            raise InputError(f"mask method {method!r} must be one of {', '.join(MASK_METHODS)}")
        content, style = self.photo("content"), self.photo("style")
        messages: list[str] = []
        if method == "none":
            masks = {role: self._blank(role) for role in ROLES}
        else:
            c_img = resize_image(content.work, content.mask_hw)
            s_img = resize_image(style.work, style.mask_hw)
            aligned, messages = self.catcher.call(automatic_masks, c_img, s_img, method, k=k)
            masks = {"content": ParsedMask.from_labels(aligned.content_labels, aligned.colors),
                     "style": ParsedMask.from_labels(aligned.style_labels, aligned.colors)}
        with self.lock:
            for role in ROLES:
                self._remember(role, masks[role])
        return {"masks": self.masks_payload(), "warnings": messages}

    def _blank(self, role: str) -> ParsedMask:
        """One region: the same as no mask."""
        return ParsedMask.from_labels(np.zeros(self.photo(role).mask_hw, np.int32), (BLANK,))

    def load_mask(self, role: str, parsed: ParsedMask) -> dict[str, Any]:
        """Use a mask file (parsed at the photo's size) for ``role``."""
        photo = self.photo(role)
        mask = parsed
        if parsed.shape != photo.mask_hw:
            mask = canonical_mask(resize_labels(parsed.labels, photo.mask_hw), parsed.colors,
                                  f"{role} mask")
        with self.lock:
            self._remember(role, mask)
        return {"masks": self.masks_payload(), "warnings": []}

    def _canonical(self, role: str, payload: Any) -> ParsedMask:
        """The canonical form of a painted payload; a mask the page sends back unchanged (the
        same colours per pixel) is not parsed again."""
        photo = self.photo(role)
        labels, colors = decode_labels(payload, photo.mask_hw, f"{role} mask")
        key = color_mask_image(labels, colors).tobytes()
        cached = self._painted.get(role)
        if cached is not None and cached[0] == key:
            return cached[1]
        mask = canonical_mask(labels, colors, f"{role} mask")
        self._remember(role, mask)
        return mask

    def _remember(self, role: str, mask: ParsedMask) -> None:
        """Set ``role``'s mask (canonical) and remember its pixels."""
        self.masks[role] = mask
        self._painted[role] = (color_mask_image(mask.labels, mask.colors).tobytes(), mask)

    def _aligned(self) -> tuple[AlignedMasks, list[str]]:
        return self.catcher.call(align_masks, self.masks["content"], self.masks["style"])

    def live(self, request: Any) -> dict[str, Any]:
        """Take the painted masks (``{"version", "content", "style"}``, payloads of
        :mod:`photostyle.ui.masks`), bring them to canonical form and return the live result
        with them, the canonical masks, the legend and the warnings."""
        if not isinstance(request, dict):
            raise InputError("live: expected a JSON object")
        start = time.perf_counter()
        with self.lock:
            content, style = self.photo("content"), self.photo("style")
            for role in ROLES:
                if request.get(role) is not None:
                    self.masks[role] = self._canonical(role, request[role])
            for role in ROLES:
                if role not in self.masks:
                    self._remember(role, self._blank(role))
            aligned, messages = self._aligned()
            masks = self.masks_payload()
            single = one_region(self.masks["content"], self.masks["style"])
        parsed = time.perf_counter()
        image = live_result(content.live, style.live,
                            None if single else aligned.content_labels,
                            None if single else aligned.style_labels)
        done = time.perf_counter()
        data = jpeg_bytes(image)
        return {"version": request.get("version"), "masks": masks,
                "legend": [] if single else legend(aligned),
                "warnings": [] if single else messages,
                "image": "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"),
                "seconds": {"masks": round(parsed - start, 4), "live": round(done - parsed, 4),
                            "total": round(time.perf_counter() - start, 4)}}

    # -- files ------------------------------------------------------------------------------

    def _folder(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def full_size_masks(self) -> tuple[dict[str, ParsedMask], AlignedMasks, list[str]]:
        """Both masks at their photos' sizes, canonical (what the saved files hold), and
        aligned."""
        with self.lock:
            if set(self.masks) != set(ROLES):
                raise InputError("paint or choose masks first")
            full = {role: at_size(self.masks[role], self.photo(role).size, f"{role} mask")
                    for role in ROLES}
        aligned, messages = self.catcher.call(align_masks, full["content"], full["style"])
        return full, aligned, messages

    def _write_masks(self, full: dict[str, ParsedMask]) -> list[str]:
        folder = self._folder()
        for role in ROLES:
            save_image(color_mask_image(full[role].labels, full[role].colors),
                       folder / MASK_FILES[role])
        return [MASK_FILES[r] for r in ROLES]

    def save_masks(self) -> dict[str, Any]:
        """Write both masks as DPST colour PNGs at the photos' sizes (the command line reads
        them unchanged); returns the file names."""
        full, _, messages = self.full_size_masks()
        return {"files": self._write_masks(full), "warnings": messages}

    # -- the full method ----------------------------------------------------------------------

    def start_run(self, options: RunOptions, slots: Callable[[], bool],
                  on_end: Callable[[FullRun], None] | None = None) -> dict[str, Any]:
        """Start the full method (masks saved first); ``slots()`` says whether the server has
        room for another run.

        Raises
        ------
        Busy
            This session already runs, or the server runs as many as it allows.
        """
        with self.lock:
            if self.running:
                status = self.run.status()
                where = f" (level {status['level']}/{status['levels']}, stage " \
                        f"{status['stage']}, step {status['step']}/{status['steps']})" \
                    if "step" in status else ""
                raise Busy(f"busy: a full run is already going in this session{where}; wait for "
                           "it or cancel it")
            if not slots():
                raise Busy("busy: another editor session is running the full method; wait for "
                           "it to end")
            config = options.config(self.settings.vgg_weights)
            content, style = self.photo("content"), self.photo("style")
            full, aligned, _ = self.full_size_masks()
            saved = self._write_masks(full)
            masks = None if one_region(full["content"], full["style"]) else aligned
            self.run = FullRun(content.work, style.work, masks, config, self._folder(),
                               (content.name, style.name), on_end=on_end)
            self.run.start()
        return {"status": self.run.status(), "masks": saved}

    def close(self, remove: Path | None = None) -> None:
        """Cancel any run; remove the scratch folder ``remove`` if given."""
        if self.run is not None:
            self.run.cancel()
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)


class Sessions:
    """The sessions of a server: created per page load, the least recently used idle one
    dropped beyond ``settings.max_sessions``; full runs bounded by ``settings.max_runs``."""

    def __init__(self, settings: UiSettings, outputs: Path) -> None:
        self.settings = settings
        self.outputs = outputs
        self.catcher = WarningCatcher()
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self) -> Session:
        sid = secrets.token_urlsafe(18)
        session = Session(sid, self.settings, self.outputs / f"session-{sid[:10]}",
                          self.catcher)
        with self._lock:
            self._sessions[sid] = session
            idle = sorted((s for s in self._sessions.values() if not s.running),
                          key=lambda s: s.last_used)
            while len(self._sessions) > self.settings.max_sessions and idle:
                old = idle.pop(0)
                if old is not session:
                    del self._sessions[old.sid]
        return session

    def get(self, sid: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(sid)
        if session is not None:
            session.touch()
        return session

    def run_slots(self) -> bool:
        """Whether another full run may start now."""
        with self._lock:
            active = sum(1 for s in self._sessions.values() if s.running)
        return active < self.settings.max_runs

    def close(self) -> None:
        """Cancel every run and wait briefly for them (server shutdown)."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.close()
        for session in sessions:
            if session.run is not None:
                session.run.join(timeout=10)


