"""Batches: many transfers that survive bad files and restarts, on one machine or on a Ray
cluster (``photostyle batch``).

- :mod:`.items`: the items of a folder or a manifest, checked before any work;
- :mod:`.outputs`: the skip rule (a complete output is skipped), cleaning up after killed
  runs, the output folder's lock;
- :mod:`.report`: the report (CSV or JSON lines), appended as items finish, rewritten in item
  order at the end;
- :mod:`.worker`: one worker: runners built once, per-item failures recorded;
- :mod:`.pool`: worker processes on one machine; :mod:`.cluster`: Ray actors;
- :mod:`.engine`: :func:`run_batch`, which puts these together.

Torch-free: a batch of the weight-free method imports no torch in any process. Names are
loaded lazily.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "engine": ["BatchOptions", "BatchStarted", "ItemEvent", "ItemFinished", "Summary",
                   "run_batch"],
        "items": ["COLUMNS", "Item", "check_items", "folder_items", "manifest_items"],
        "outputs": ["BatchLock", "is_complete", "remove_partials"],
        "report": ["REPORT_NAME", "Record", "ReportWriter", "read_report"],
        "worker": ["Worker", "WorkerFailed"],
    },
)
