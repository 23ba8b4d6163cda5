"""Worker processes on one machine: each builds its runner once, pinned to its share of the
CPU threads (or to its own GPU), and takes chunks of items until there are none left.

Processes are *spawned* (a fresh interpreter, as on macOS and Windows): nothing of the main
process's state (torch's threads, CUDA) is forked, and a worker of the weight-free method
imports no torch. A worker that dies (killed, out of memory, a crash in a C library) costs
only the items it was running, recorded as failed; another is started in its place.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from ..methods import RunnerSpec
from .items import Item
from .report import Record
from .worker import Worker, WorkerFailed, failure_reason, thread_environment

__all__ = ["MAX_RESTARTS", "process_records", "worker_main"]

#: How many times the pool replaces dead workers, per worker, before it gives up.
MAX_RESTARTS = 3

#: Seconds a worker gets to finish after the main process stops (then it is terminated).
GRACE = 10.0


def worker_main(conn: Connection, spec: RunnerSpec, threads: int | None) -> None:
    """A worker process: build the runner, say ``("ready",)``, then answer each chunk of items
    with ``("records", [...])`` until it receives None or the main process is gone. A runner
    that cannot be built, or missing weights, is answered with ``("fatal", exception)``."""
    try:
        try:
            worker = Worker(spec, threads)
        except Exception as exc:  # reported to the main process, which stops the batch
            conn.send(("fatal", _portable(exc)))
            return
        conn.send(("ready",))
        while True:
            try:
                chunk = conn.recv()
            except EOFError:  # the main process is gone
                return
            if chunk is None:
                return
            try:
                records = worker.process(chunk)
            except Exception as exc:
                conn.send(("fatal", _portable(exc)))
                return
            conn.send(("records", records))
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or the main process is gone
        return


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it can be sent to the main process, else a :class:`WorkerFailed` with its
    text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return WorkerFailed(failure_reason(exc))
    return exc


@dataclass(eq=False)
class _Slot:
    """One worker process and the chunk it is running."""

    device: str
    process: Any = None
    conn: Connection | None = None
    chunk: list[Item] | None = None
    restarts: int = 0
    ready: bool = False
    done: bool = False
    history: list[str] = field(default_factory=list)


def _start(slot: _Slot, context: Any, spec: RunnerSpec, threads: int | None) -> None:
    ours, theirs = context.Pipe()
    process = context.Process(target=worker_main, args=(theirs, spec.replace(device=slot.device),
                                                        threads),
                              name=f"photostyle-batch-{slot.device}", daemon=True)
    with thread_environment(threads):
        process.start()
    theirs.close()
    slot.process, slot.conn, slot.chunk, slot.ready = process, ours, None, False


def _died(slot: _Slot) -> str:
    code = slot.process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
    else:
        how = f"exit status {code}"
    return f"the worker process died ({how}) while running this item"


def process_records(chunks: Iterable[list[Item]], spec: RunnerSpec, devices: Sequence[str],
                    threads: int | None) -> Iterator[Record]:
    """Run ``chunks`` of items in one worker process per entry of ``devices``, each limited to
    ``threads`` compute threads; yields each item's record as soon as its chunk is done.

    Raises
    ------
    PhotostyleError
        A worker could not build its runner (missing weights, a bad look), or workers keep
        dying (:class:`WorkerFailed`).
    """
    context = multiprocessing.get_context("spawn")
    pending = deque(chunks)
    slots = [_Slot(device) for device in devices]
    finished = False
    try:
        for slot in slots:
            _start(slot, context, spec, threads)
        while any(not slot.done for slot in slots):
            live = [slot for slot in slots if not slot.done]
            wait([slot.conn for slot in live] + [slot.process.sentinel for slot in live])
            for slot in live:
                yield from _serve(slot, pending, context, spec, threads)
            if pending and all(slot.done for slot in slots):
                last = slots[-1].history[-1] if slots[-1].history else "no reason given"
                raise WorkerFailed(f"the worker processes keep dying ({last}); see the report, "
                                   "or run with --workers 1")
        finished = True
    finally:
        _stop(slots, finished)


def _serve(slot: _Slot, pending: deque[list[Item]], context: Any, spec: RunnerSpec,
           threads: int | None) -> Iterator[Record]:
    """Handle what one worker has to say (a message, or its death)."""
    message = None
    if slot.conn.poll():
        try:
            message = slot.conn.recv()
        except (EOFError, OSError):
            message = None
    if message is None:
        if slot.process.is_alive():
            return
        slot.process.join()
        if slot.chunk is not None:
            reason = _died(slot)
            slot.history.append(reason)
            for item in slot.chunk:
                yield item.record("failed", reason)
        if not pending:
            slot.done = True
        elif slot.restarts < MAX_RESTARTS:
            slot.restarts += 1
            _start(slot, context, spec, threads)
        else:
            slot.done = True
        return
    kind = message[0]
    if kind == "fatal":
        raise message[1]
    if kind == "records":
        yield from message[1]
        slot.chunk = None
    try:
        if pending:
            slot.chunk = pending.popleft()
            slot.conn.send(slot.chunk)
        else:
            slot.conn.send(None)
            slot.done = True
    except (BrokenPipeError, OSError):  # it died meanwhile: its sentinel says so next
        if slot.chunk is not None:
            pending.appendleft(slot.chunk)
            slot.chunk = None
        slot.done = False


def _stop(slots: Sequence[_Slot], finished: bool) -> None:
    """End the workers: after a normal end they have been told to stop; otherwise (Ctrl-C, an
    error) each gets SIGINT, which ends a running item without writing it, then SIGTERM."""
    for slot in slots:
        if slot.process is None:
            continue
        if not finished and slot.process.is_alive():
            try:
                if slot.conn is not None:
                    slot.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            if slot.process.pid is not None:
                try:
                    os.kill(slot.process.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
    for slot in slots:
        if slot.process is None:
            continue
        slot.process.join(GRACE if finished else GRACE / 2)
        if slot.process.is_alive():
            slot.process.terminate()
            slot.process.join(GRACE)
        if slot.conn is not None:
            slot.conn.close()
