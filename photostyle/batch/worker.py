"""One worker of a batch (the main process, a worker process or a Ray actor): its runners,
built once, and what it does with each item: run it, write its output atomically, and turn
whatever went wrong into the item's record instead of stopping the batch."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from segment import MaskError

from ..config import Config
from ..errors import PhotostyleError, WeightsError
from ..io.images import save_image
from ..methods import Output, Runner, RunnerSpec
from .items import Item
from .report import Record

__all__ = ["THREAD_VARIABLES", "Worker", "WorkerFailed", "available_cpus", "failure_reason",
           "pin_threads", "thread_environment"]

#: Environment variables that size the thread pools of OpenMP, BLAS and friends; read when
#: those libraries load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class WorkerFailed(PhotostyleError):
    """A worker could not start or keeps dying: the batch cannot go on."""


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def thread_environment(threads: int | None) -> Iterator[None]:
    """Set :data:`THREAD_VARIABLES` to ``threads`` for the duration (a process started inside
    inherits them, before it loads any library); restored afterwards."""
    if threads is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pin_threads(threads: int | None) -> None:
    """Limit this process to ``threads`` compute threads: OpenCV's pool, torch's (if loaded)
    and, through the environment, the libraries loaded later."""
    if threads is None:
        return
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    import cv2

    cv2.setNumThreads(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def failure_reason(exc: BaseException) -> str:
    """One line for the report: the message of a user error (it names the file), else the
    exception's type and first line."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if isinstance(exc, (PhotostyleError, MaskError)):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    lines = dict.fromkeys(str(w.message).splitlines()[0] for w in caught if str(w.message))
    return " | ".join(lines)


class Worker:
    """Runners built once (the first from ``spec`` now, so missing weights or a bad look file
    stop the batch before any item) and the per-item rule of :meth:`process`.

    Parameters
    ----------
    spec : RunnerSpec
        What to build; an item with its own settings of another method gets a runner of
        that method, built on first use.
    threads : int or None
        Compute threads of this worker (:func:`pin_threads`); None leaves the libraries'
        defaults.
    """

    def __init__(self, spec: RunnerSpec, threads: int | None = None) -> None:
        self.spec = spec
        self.threads = threads
        pin_threads(threads)
        self.runners: dict[str, Runner] = {}
        self.runner(None)

    def runner(self, config: Config | None) -> Runner:
        """The runner of an item's settings (``None``: the batch's)."""
        spec = self.spec if config is None else self.spec.replace(config=config)
        if spec.method not in self.runners:
            self.runners[spec.method] = spec.build()
            pin_threads(self.threads)  # torch may have been loaded by the build
        return self.runners[spec.method]

    def process(self, items: Sequence[Item],
                callback: Callable[[Item, Any], None] | None = None) -> list[Record]:
        """Run ``items`` and write their outputs; one record each, in order. A failing item
        is recorded with a one-line reason and the others go on; missing weights and
        ``KeyboardInterrupt`` stop everything (an interrupted item writes nothing, so a rerun
        redoes it). ``callback(item, event)`` receives each method's progress events.

        Raises
        ------
        WeightsError
            Weights that cannot be had (every item would fail the same way).
        """
        records: dict[int, Record] = {}
        groups: dict[str, list[Item]] = {}
        for item in items:
            try:
                groups.setdefault(self.runner(item.config).name, []).append(item)
            except WeightsError:
                raise
            except Exception as exc:  # an item's own settings that cannot be built
                records[item.index] = _record(item, exc, "", 0.0)
        for group in groups.values():
            runner = self.runner(group[0].config)
            size = runner.batch_size
            for first in range(0, len(group), size):
                for record in self._run(runner, group[first: first + size], callback):
                    records[record.index] = record
        return [records[item.index] for item in items]

    def _run(self, runner: Runner, items: Sequence[Item],
             callback: Callable[[Item, Any], None] | None) -> list[Record]:
        start = time.perf_counter()
        forward = None
        if callback is not None and len(items) == 1:
            def forward(event: Any) -> None:
                callback(items[0], event)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = runner.run_many([item.task for item in items],
                                      configs=[item.config for item in items],
                                      callback=forward)
            written: list[Output | BaseException] = []
            for item, result in zip(items, results, strict=True):
                if isinstance(result, WeightsError):
                    raise result
                if not isinstance(result, Exception):
                    try:
                        save_image(result.image, item.out)
                    except Exception as exc:  # e.g. a full disk: this item fails
                        result = exc
                written.append(result)
        seconds = (time.perf_counter() - start) / len(items)
        text = _warning_text(caught)
        return [_record(item, result, text, seconds) for item, result in zip(items, written,
                                                                              strict=True)]


def _record(item: Item, result: Output | BaseException, warnings_text: str,
            seconds: float) -> Record:
    if isinstance(result, BaseException):
        return item.record("failed", failure_reason(result), warnings_text, seconds)
    return item.record("done", "", warnings_text, seconds)
