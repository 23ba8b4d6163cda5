"""The full method from the editor: one :func:`photostyle.transfer` in a worker thread, with
live progress, the intermediate image, cancellation and its outputs.

Progress comes from the library's per-step callback (:class:`photostyle.StepInfo`); a cancel
raises ``KeyboardInterrupt`` from that callback, which the library turns into
:class:`photostyle.TransferInterrupted` carrying the best image so far; that image is the
result of a cancelled run (as Ctrl-C on the command line); a run whose loss becomes NaN or
infinite (:class:`photostyle.TransferDiverged`) fails with its best image so far as the result.
Outputs are written atomically into
the session's folder: ``result.png``, ``report.png`` (contact sheet with the metrics) and
``report.json``. torch is imported by the worker, never at import.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from segment import AlignedMasks

from ..config import QUALITY, Config, resolve_weights
from ..errors import InputError, PhotostyleError, WeightsError
from ..io.files import atomic_write_text
from ..io.images import save_image, to_uint8

if TYPE_CHECKING:
    from ..neural.transfer import StepInfo

__all__ = ["OUTPUT_FILES", "FullRun", "RunOptions", "jpeg_bytes"]

#: Files a run writes into its folder, downloadable by these names.
OUTPUT_FILES = ("result.png", "report.png", "report.json")

#: Seconds between two intermediate images sent to the page.
_IMAGE_EVERY = 0.5


@dataclass(frozen=True)
class RunOptions:
    """The options of the full method the editor offers (the others keep Config's defaults).

    Attributes
    ----------
    quality : str
        ``Config.quality`` of an optimization (``draft``, ``default``, ``max``).
    size : int or None
        ``Config.size`` (``None``: Config's default).
    weights : str
        ``"default"``: the editor's VGG weights (``--vgg-weights``, else
        ``$PHOTOSTYLE_VGG_WEIGHTS``, else ImageNet from torchvision's cache, never
        downloaded); ``"random"``: untrained (mechanics only).
    matting_weight : float or None
        λ of the photorealism term (``None``: the preset's).
    iters : tuple of int or None
        ``Config.iters`` (``None``: the schedule's own).
    """

    quality: str = "default"
    size: int | None = None
    weights: str = "default"
    matting_weight: float | None = None
    iters: tuple[int, int] | None = None

    @classmethod
    def from_json(cls, data: Any, work_side: int) -> RunOptions:
        """Options sent by the page (missing keys: defaults).

        Raises
        ------
        InputError
            Unknown keys or values of the wrong kind; a size above ``work_side``.
        """
        if not isinstance(data, dict):
            raise InputError("run options: expected a JSON object")
        known = {"quality", "size", "weights", "matting_weight", "iters"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"run options: unknown {', '.join(unknown)}")
        try:
            size = None if data.get("size") in (None, "") else int(data["size"])
            lam = None if data.get("matting_weight") in (None, "") \
                else float(data["matting_weight"])
            iters = data.get("iters")
            if iters in (None, ""):
                iters = None
            else:
                parts = [int(p) for p in str(iters).replace(" ", "").split(",")]
                if len(parts) == 1:
                    parts = parts * 2
                if len(parts) != 2:
                    raise ValueError("iters: N or N1,N2")
                iters = (parts[0], parts[1])
        except (TypeError, ValueError) as exc:
            raise InputError(f"run options: {exc}") from None
        quality = str(data.get("quality", cls.quality))
        if quality not in QUALITY:
            raise InputError(f"quality {quality!r} must be one of {', '.join(QUALITY)}")
        weights = str(data.get("weights", cls.weights))
        if weights not in ("default", "random"):
            raise InputError(f"weights {weights!r} must be 'default' or 'random'")
        if size is not None and size > work_side:
            raise InputError(f"size {size} is above the editor's largest working side "
                             f"{work_side}; start 'photostyle ui --work-side N' for more")
        return cls(quality=quality, size=size, weights=weights, matting_weight=lam, iters=iters)

    def config(self, default_weights: str | None) -> Config:
        """The Config of these options (Config checks every value)."""
        weights = "random" if self.weights == "random" else resolve_weights(default_weights)
        given: dict[str, Any] = {"quality": self.quality, "vgg_weights": weights}
        if self.size is not None:
            given["size"] = self.size
        if self.matting_weight is not None:
            given["matting_weight"] = self.matting_weight
        if self.iters is not None:
            given["iters"] = self.iters
        return Config(**given)


def jpeg_bytes(image: Any, quality: int = 92) -> bytes:
    """An image (as :func:`~photostyle.io.images.to_uint8` takes it) encoded as JPEG, for the
    page's display (downloads are PNG files)."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class FullRun:
    """One run of the full method in a daemon thread.

    Parameters
    ----------
    content, style : np.ndarray
        ``(H,W,3)`` float photos in [0, 1].
    masks : AlignedMasks or None
        At the photos' sizes; ``None``: the whole images are matched.
    config : Config
        Settings of the run.
    folder : Path
        Existing folder the outputs are written into.
    names : tuple of str
        Names of the content and style photos (the report's title).
    on_end : callable, optional
        Called (in the worker) when the run has ended, whatever the outcome.
    """

    def __init__(self, content: np.ndarray, style: np.ndarray, masks: AlignedMasks | None,
                 config: Config, folder: Path, names: tuple[str, str],
                 on_end: Callable[[FullRun], None] | None = None) -> None:
        self.content, self.style, self.masks = content, style, masks
        self.config, self.folder, self.names = config, folder, names
        self._on_end = on_end
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {"state": "starting", "message": "starting",
                                        "image_version": 0, "outputs": []}
        self._image: bytes | None = None
        self._image_time = 0.0
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name="photostyle-ui-run", daemon=True)

    # -- control ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker."""
        self._thread.start()

    def cancel(self) -> None:
        """Ask the run to stop at its next step; its best image so far becomes the result."""
        self._cancel.set()
        with self._lock:
            if self._status["state"] in ("starting", "running"):
                self._status["message"] = "cancelling at the next step"

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; whether it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def active(self) -> bool:
        """Whether the run has not ended yet."""
        with self._lock:
            return self._status["state"] in ("starting", "running")

    def status(self) -> dict[str, Any]:
        """A snapshot of the progress: ``state`` (starting, running, done, cancelled, failed),
        ``message``, and while running ``level``/``levels``, ``stage``, ``step``/``steps``,
        ``losses``, ``total``; ``elapsed`` seconds; ``image_version`` (bumped with each
        intermediate image); ``outputs`` (files written)."""
        with self._lock:
            status = dict(self._status)
        status["elapsed"] = round(time.perf_counter() - self._started, 2)
        return status

    def image(self) -> bytes | None:
        """The latest intermediate (or final) image as JPEG bytes."""
        with self._lock:
            return self._image

    # -- worker ----------------------------------------------------------------------------

    def _set(self, **fields: Any) -> None:
        with self._lock:
            self._status.update(fields)

    def _set_image(self, image: Any) -> None:
        data = jpeg_bytes(image)
        with self._lock:
            self._image = data
            self._status["image_version"] += 1
        self._image_time = time.perf_counter()

    def _step(self, info: StepInfo) -> None:
        if self._cancel.is_set():
            raise KeyboardInterrupt("cancelled from the editor")
        self._set(state="running", message="running", stage=info.stage, step=info.step,
                  steps=info.steps, level=info.level, levels=info.levels,
                  losses={k: float(v) for k, v in info.losses.items()}, total=float(info.total))
        last = info.step == info.steps
        if last or time.perf_counter() - self._image_time >= _IMAGE_EVERY:
            self._set_image(info.image)

    def _weights_available(self) -> None:
        """The editor never downloads weights: ImageNet or Caffe weights must be in torch's
        cache (``auto`` then means the cached Caffe network)."""
        weights = self.config.vgg_weights
        if weights not in ("imagenet", "caffe", "auto"):
            return
        from ..config import CAFFE_FILE, CAFFE_URL
        from ..neural.vgg import IMAGENET_URL, cache_path

        source = "ImageNet" if weights == "imagenet" else "Caffe"
        path = cache_path() if weights == "imagenet" else cache_path(CAFFE_FILE)
        url = IMAGENET_URL if weights == "imagenet" else CAFFE_URL
        if not path.is_file():
            raise WeightsError(
                f"the VGG-19 {source} weights are not in {path} and the editor does not "
                f"download them: download {url} and start 'photostyle ui --vgg-weights FILE' "
                "(or copy it there), or choose random weights to try the mechanics")
        if weights == "auto":
            self.config = self.config.replace(vgg_weights="caffe")

    def _work(self) -> None:
        try:
            self._run()
        except PhotostyleError as exc:
            self._set(state="failed", message=str(exc))
        except Exception as exc:  # the worker's boundary: any failure is shown on the page
            self._set(state="failed", message=f"{type(exc).__name__}: {exc}")
        finally:
            if self._on_end is not None:
                self._on_end(self)

    def _run(self) -> None:
        import torch

        from ..io.tensors import from_array
        from ..neural.transfer import TransferDiverged, TransferInterrupted, transfer

        self._weights_available()
        self._set(message="loading the network")
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        content = from_array(self.content, device=device)
        style = from_array(self.style, device=device)
        c_labels = None if self.masks is None else self.masks.content_labels
        s_labels = None if self.masks is None else self.masks.style_labels
        if self._cancel.is_set():
            self._set(state="cancelled", message="cancelled before the first step")
            return
        stage1 = None
        try:
            result = transfer(content, style, c_labels, s_labels, config=self.config,
                              callback=self._step)
            image, stage1, state = result.image, result.stage1, "done"
            timings = {k: round(v, 3) for k, v in result.timings.items()}
            message = "done: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()
                                           if not k.startswith("level"))
        except TransferInterrupted as exc:
            if exc.image is None:
                self._set(state="cancelled", message="cancelled before the first step")
                return
            image, state, timings = exc.image, "cancelled", {}
            message = f"cancelled ({exc}); the result is the best image so far"
        except TransferDiverged as exc:
            image, state, timings = exc.image, "failed", {}
            message = f"{exc}; the result is the best image so far"
        self._set(message="writing the result and the report")
        save_image(image, self.folder / "result.png")
        self._set_image(image)
        self._report(image, stage1, timings, state)
        self._set(state=state, message=message, outputs=list(OUTPUT_FILES))

    def _report(self, image: Any, stage1: Any, timings: dict[str, float], state: str) -> None:
        """The contact sheet and the JSON report, metrics measured on the images as saved."""
        from ..evaluation.metrics import evaluate
        from ..evaluation.report import save_contact_sheet

        masks = self.masks
        c_labels = None if masks is None else masks.content_labels
        s_labels = None if masks is None else masks.style_labels
        final = to_uint8(image) / 255.0
        metrics = evaluate(final, self.content, self.style, c_labels, s_labels)
        first = stage1_metrics = None
        if stage1 is not None:
            first = to_uint8(stage1) / 255.0
            stage1_metrics = evaluate(first, self.content, self.style, c_labels, s_labels)
        save_contact_sheet(self.folder / "report.png", self.content, self.style, final,
                           content_mask=c_labels, style_mask=s_labels,
                           colors=None if masks is None else masks.colors, stage1=first,
                           metrics=metrics, stage1_metrics=stage1_metrics,
                           title=f"result.png   (content {self.names[0]}, style "
                                 f"{self.names[1]}; {state})")
        config = {k: v for k, v in asdict(self.config).items()
                  if isinstance(v, (str, int, float, bool, type(None), tuple))}
        report = {"content": self.names[0], "style": self.names[1], "state": state,
                  "metrics": metrics, "stage1_metrics": stage1_metrics, "timings": timings,
                  "labels": None if masks is None else list(masks.names), "config": config}
        atomic_write_text(self.folder / "report.json", json.dumps(report, indent=2) + "\n")
