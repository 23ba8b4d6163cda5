"""Items as Ray tasks, on a Ray cluster or on a local Ray (``--ray [ADDRESS]``).

Each Ray worker is an actor that builds its runner once (weights, network, style photos) with
the resources of ``num_cpus``/``num_gpus``, then takes chunks of items. The actors read the
inputs and write the outputs themselves, so every path must be one all nodes see (a shared
file system, mounted at the same place); only the small records travel back. A dead actor
(node lost, out of memory) costs the items it was running, recorded as failed.

Ray is optional (``pip install 'photostyle[ray]'``); this module imports it when it runs.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import InputError, PhotostyleError
from ..methods import RunnerSpec
from .items import Item
from .report import Record
from .worker import Worker, WorkerFailed, failure_reason

__all__ = ["RayWorker", "import_ray", "ray_records"]


def import_ray() -> Any:
    """The ``ray`` module.

    Raises
    ------
    InputError
        Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'photostyle[ray]' (or pip install ray)"
                         ) from None
    return ray


class RayWorker:
    """The state of one Ray actor: a :class:`~photostyle.batch.worker.Worker` built when the
    actor starts. A runner that cannot be built is kept as the answer of :meth:`ready`, so the
    driver can stop the batch with its message."""

    def __init__(self, spec: RunnerSpec, threads: int | None) -> None:
        self.worker: Worker | None = None
        self.error: BaseException | None = None
        try:
            self.worker = Worker(spec, threads)
        except Exception as exc:  # handed to the driver by ready()
            self.error = exc if isinstance(exc, PhotostyleError) else \
                WorkerFailed(failure_reason(exc))

    def ready(self) -> BaseException | None:
        """None when the runner is built, else what stopped it."""
        return self.error

    def process(self, items: list[Item]) -> list[Record]:
        """:meth:`Worker.process` of a chunk."""
        if self.worker is None:
            raise self.error
        return self.worker.process(items)


def _actor_count(ray: Any, num_cpus: float, num_gpus: float) -> int:
    """As many actors as the cluster's resources hold."""
    resources = ray.cluster_resources()
    if num_gpus > 0:
        return max(1, math.floor(resources.get("GPU", 0) / num_gpus))
    return max(1, math.floor(resources.get("CPU", 1) / max(num_cpus, 1e-9)))


def _check_resources(ray: Any, num_cpus: float, num_gpus: float) -> None:
    """Stop now when no node could ever hold one worker (Ray would wait for one forever)."""
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if not any(r.get("CPU", 0) >= num_cpus and r.get("GPU", 0) >= num_gpus for r in nodes):
        most = max(((r.get("CPU", 0), r.get("GPU", 0)) for r in nodes), default=(0, 0))
        raise InputError(f"--num-cpus {num_cpus:g} --num-gpus {num_gpus:g}: no node of the Ray "
                         f"cluster has that much (the largest has {most[0]:g} CPUs, "
                         f"{most[1]:g} GPUs); ask for less per worker")


def _failed(chunk: list[Item], reason: str) -> list[Record]:
    return [item.record("failed", reason) for item in chunk]


def ray_records(chunks: Iterable[list[Item]], spec: RunnerSpec, *, address: str | None = None,
                actors: int | None = None, num_cpus: float = 1.0,
                num_gpus: float = 0.0) -> Iterator[Record]:
    """Run ``chunks`` of items on Ray actors; yields each item's record as its chunk finishes.

    Parameters
    ----------
    chunks : iterable of list of Item
        Absolute paths on a file system every node shares.
    spec : RunnerSpec
        What each actor builds (its device is chosen by Ray: ``auto``).
    address : str, optional
        The cluster (``auto``, ``HOST:6379``, ``ray://HOST:10001``); None: the Ray this
        process is connected to, else a new local one (shut down at the end).
    actors : int, optional
        How many actors; default: as many as the cluster's CPUs (or GPUs) hold.
    num_cpus, num_gpus : float
        Resources of each actor (``num_cpus`` is also its compute threads).

    Raises
    ------
    InputError
        Ray is missing; PhotostyleError: an actor could not build its runner.
    """
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise InputError(f"--ray: cannot start or reach {where} ({failure_reason(exc)}); "
                             "check the address, or start the cluster with 'ray start --head'"
                             ) from None
        started = True
    handles: list[Any] = []
    try:
        _check_resources(ray, num_cpus, num_gpus)
        count = actors or _actor_count(ray, num_cpus, num_gpus)
        threads = max(1, math.floor(num_cpus)) if num_cpus >= 1 else 1
        actor = ray.remote(RayWorker).options(num_cpus=num_cpus, num_gpus=num_gpus)
        handles = [actor.remote(spec.replace(device="auto"), threads) for _ in range(count)]
        for error in ray.get([handle.ready.remote() for handle in handles]):
            if error is not None:
                raise error
        pending = deque(chunks)
        running: dict[Any, tuple[Any, list[Item]]] = {}

        def submit(handle: Any) -> None:
            if pending:
                chunk = pending.popleft()
                running[handle.process.remote(chunk)] = (handle, chunk)

        for handle in handles:
            submit(handle)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            handle, chunk = running.pop(ref)
            try:
                records = ray.get(ref)
            except ray.exceptions.RayActorError as exc:  # the actor is gone
                yield from _failed(chunk, f"the Ray worker died ({failure_reason(exc)})")
                handles.remove(handle)
                if not handles and pending:
                    raise WorkerFailed("every Ray worker died; see the report") from None
                continue
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None) or exc
                if isinstance(cause, PhotostyleError):
                    raise cause from None
                yield from _failed(chunk, failure_reason(cause))
                submit(handle)
                continue
            yield from records
            submit(handle)
    finally:
        for handle in handles:
            ray.kill(handle)
        if started:
            ray.shutdown()
