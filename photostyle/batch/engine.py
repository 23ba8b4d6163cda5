"""Running a batch: check the items, skip what is complete, run the rest in the main process,
in worker processes or on Ray, and write the report; progress goes to a callback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..interrupts import interrupt_status
from ..io.files import check_writable, os_error_message
from ..methods import RunnerSpec
from .items import Item, check_items
from .outputs import BatchLock, is_complete, remove_partials
from .report import REPORT_NAME, Record, ReportWriter
from .worker import Worker, available_cpus

__all__ = ["BatchOptions", "BatchStarted", "ItemEvent", "ItemFinished", "Summary", "run_batch"]

#: Why a skipped item was skipped (its report reason).
SKIPPED = "output exists (complete); --overwrite to redo"


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (what it computes is the :class:`~photostyle.methods.RunnerSpec`).

    Attributes
    ----------
    workers : int
        Worker processes on this machine (1: in the main process); with ``ray``, Ray actors
        (0: as many as the cluster holds).
    devices : tuple of str or None
        One worker per device (``("cuda:0", "cuda:1")``); None: ``workers`` workers on the
        runner's device.
    threads : int or None
        Compute threads per worker process; None: the CPUs divided among the workers. The
        main process (one worker) keeps the libraries' defaults.
    overwrite : bool
        Redo items whose output is complete.
    ray : bool
        Run the items as Ray tasks.
    ray_address : str or None
        The Ray cluster; None: a local Ray (or the one this process is connected to).
    num_cpus, num_gpus : float
        Resources of each Ray actor.
    """

    workers: int = 1
    devices: tuple[str, ...] | None = None
    threads: int | None = None
    overwrite: bool = False
    ray: bool = False
    ray_address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def __post_init__(self) -> None:
        if self.workers < 0 or (self.workers == 0 and not self.ray):
            raise InputError(f"--workers must be >= 1, got {self.workers}")
        if self.devices is not None and not self.devices:
            raise InputError("--devices: name at least one device")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads per worker must be >= 1, got {self.threads}")
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise InputError("--num-cpus and --num-gpus must be >= 0")

    @property
    def backend(self) -> str:
        """``"ray"``, ``"processes"`` or ``"inline"`` (the main process)."""
        if self.ray:
            return "ray"
        if self.devices is not None:
            return "processes" if len(self.devices) > 1 else "inline"
        return "processes" if self.workers > 1 else "inline"


@dataclass(frozen=True)
class BatchStarted:
    """Sent once, before any item runs.

    Attributes
    ----------
    total, skipped : int
        Items in the batch, and those skipped (their outputs are complete).
    workers : int
        Workers that run the rest (Ray: 0 until the actors are counted).
    backend : str
        ``"inline"``, ``"processes"`` or ``"ray"``.
    removed : tuple of Path
        Temporary files of killed runs that were deleted.
    """

    total: int
    skipped: int
    workers: int
    backend: str
    removed: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ItemFinished:
    """Sent when an item is done, skipped or failed (with its report row)."""

    record: Record


@dataclass(frozen=True)
class ItemEvent:
    """A method's progress event (:class:`~photostyle.methods.base.Prepared`, the neural
    method's :class:`~photostyle.neural.transfer.StepInfo`) for an item run in the main
    process (one worker only)."""

    item: Item
    event: Any = field(repr=False)


@dataclass
class Summary:
    """The outcome of a batch.

    Attributes
    ----------
    records : list of Record
        One per item that finished, in item order (all of them unless ``interrupted``).
    report : Path
        Where the report is.
    interrupted : bool
        Ctrl-C (or SIGTERM) stopped the batch; a rerun continues it.
    signal_status : int
        The exit status of the stop: 130 (Ctrl-C), 143 (SIGTERM,
        :func:`photostyle.interrupts.interrupt_status`); 0 when not interrupted.
    """

    records: list[Record]
    report: Path
    interrupted: bool = False
    signal_status: int = 0

    def count(self, status: str) -> int:
        """How many items have ``status``."""
        return sum(1 for r in self.records if r.status == status)

    @property
    def done(self) -> int:
        return self.count("done")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        return self.count("failed")


def _chunks(items: Sequence[Item], size: int) -> list[list[Item]]:
    return [list(items[i: i + size]) for i in range(0, len(items), size)]


def run_batch(items: Sequence[Item], spec: RunnerSpec, outdir: str | os.PathLike, *,
              options: BatchOptions | None = None, report: str | os.PathLike | None = None,
              callback: Callable[[Any], None] | None = None) -> Summary:
    """Run a batch: every item's output written atomically, a failing item recorded without
    stopping the others, complete outputs skipped (:mod:`photostyle.batch.outputs`).

    1. Check the items (:func:`~photostyle.batch.items.check_items`: no output is an input,
       none written twice), create the output folders and check that files can be written
       there (:func:`~photostyle.io.files.check_writable`), take the folder's lock and delete
       the temporary files killed runs left.
    2. Skip the items whose output is complete (unless ``options.overwrite``).
    3. Run the others: in this process (one worker), in worker processes, or on Ray.
    4. Report every item (:class:`~photostyle.batch.report.ReportWriter`).

    Parameters
    ----------
    items : sequence of Item
    spec : RunnerSpec
        The method and its settings; each worker builds its runner from it once.
    outdir : path
        The output folder (created if needed; its lock is taken).
    options : BatchOptions, optional
    report : path, optional
        ``.csv`` or ``.jsonl`` (default ``outdir/batch_report.csv``).
    callback : callable, optional
        Receives :class:`BatchStarted`, then an :class:`ItemFinished` per item and, when
        the items run in this process, their :class:`ItemEvent`.

    Returns
    -------
    Summary
        ``interrupted`` after Ctrl-C (the report then holds what finished).

    Raises
    ------
    InputError
        Bad items or paths, an output folder that cannot be created or written to, another
        batch holding the folder; ``PhotostyleError``: a runner that cannot be built (missing
        weights).
    """
    options = options or BatchOptions()
    outdir = Path(outdir).absolute()
    report = Path(report).absolute() if report is not None else outdir / REPORT_NAME
    writer = ReportWriter(report)
    check_items(items, others=(report,))
    for folder in [outdir, *sorted({item.out.parent for item in items} | {report.parent})]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(os_error_message(folder, exc, "create")) from exc
        check_writable(folder)
    emit = callback or (lambda event: None)
    with BatchLock(outdir):
        removed = remove_partials(item.out for item in items)
        todo, skipped = [], []
        for item in items:
            if not options.overwrite and is_complete(item.out):
                skipped.append(item.record("skipped", SKIPPED))
            else:
                todo.append(item)
        backend = options.backend
        workers = 1 if backend == "inline" else (
            len(options.devices) if options.devices else options.workers)
        emit(BatchStarted(len(items), len(skipped), workers, backend, tuple(removed)))
        for record in skipped:
            emit(ItemFinished(record))
        # The report is started by the first item that runs (or at the end), so a batch that
        # cannot start (missing weights) leaves the previous report as it was.
        records: list[Record] = list(skipped)
        started = False
        try:
            for record in _records(todo, spec, options, emit):
                if not started:
                    writer.start()
                    for row in skipped:
                        writer.add(row)
                    started = True
                records.append(record)
                writer.add(record)
                emit(ItemFinished(record))
            started = True
        except KeyboardInterrupt as exc:
            started = True
            return Summary(sorted(records, key=lambda r: r.index), report, interrupted=True,
                           signal_status=interrupt_status(exc))
        finally:
            if started:
                writer.finish(records)
    return Summary(sorted(records, key=lambda r: r.index), report)


def _records(items: Sequence[Item], spec: RunnerSpec, options: BatchOptions,
             emit: Callable[[Any], None]) -> Iterator[Record]:
    """The backend: each item's record as it finishes."""
    if not items:
        return
    chunks = _chunks(items, spec.batch_size if spec.method == "look" else 1)
    if options.backend == "ray":
        from .cluster import ray_records

        yield from ray_records(chunks, spec, address=options.ray_address,
                               actors=options.workers or None, num_cpus=options.num_cpus,
                               num_gpus=options.num_gpus)
        return
    if options.backend == "processes":
        from .pool import process_records

        devices = options.devices or (spec.device,) * options.workers
        threads = options.threads or max(1, available_cpus() // len(devices))
        yield from process_records(chunks, spec, devices, threads)
        return
    device = options.devices[0] if options.devices else spec.device
    worker = Worker(spec.replace(device=device), options.threads)

    def forward(item: Item, event: Any) -> None:
        emit(ItemEvent(item, event))

    for chunk in chunks:
        yield from worker.process(chunk, forward)
