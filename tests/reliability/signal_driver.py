"""Run the ``photostyle`` command through its real entry point and send the process a real
signal at a chosen point of the run, from inside, so that the point is exact (no sleeps, no
races).

    python signal_driver.py PLAN.json

PLAN.json is a list of scenarios ``{"signal": "SIGINT"|"SIGTERM", "point": POINT, "argv":
[…]}`` run one after the other in this process (the imports are paid once); prints a JSON list
of ``{"code": exit status, "err": what the command wrote to stderr}``. POINT is one of
:data:`POINTS`; ``startup`` (the signal arrives while the command imports its modules) must be
a plan's only scenario. Used by ``tests/reliability/test_interrupts.py``, with the repository
on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import io
import json
import os
import signal
import sys
from collections.abc import Iterator

POINTS = ("startup", "stage1", "between_levels", "post", "second_during_write", "report",
          "preview")


def _send(sig: int) -> None:
    os.kill(os.getpid(), sig)


class _SignalOnImport(importlib.abc.MetaPathFinder):
    """Sends the signal when ``name`` is first imported (the command's start-up)."""

    def __init__(self, name: str, sig: int) -> None:
        self.name, self.sig, self.sent = name, sig, False

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name and not self.sent:
            self.sent = True
            _send(self.sig)
        return None


@contextlib.contextmanager
def _patched(owner: object, name: str, make) -> Iterator[None]:
    """``owner.name`` replaced by ``make(original)`` within the block."""
    original = getattr(owner, name)
    setattr(owner, name, make(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _signal_first(sig: int):
    """A wrapper that sends ``sig`` and then calls the original."""
    def make(original):
        def wrapper(*args, **kwargs):
            _send(sig)
            return original(*args, **kwargs)
        return wrapper
    return make


@contextlib.contextmanager
def _armed(point: str, sig: int) -> Iterator[None]:
    """The signal sent at ``point`` of the next run."""
    with contextlib.ExitStack() as stack:
        if point == "startup":
            sys.meta_path.insert(0, _SignalOnImport("numpy", sig))
        elif point == "preview":
            preview_module = importlib.import_module("photostyle.classic.preview")
            stack.enter_context(_patched(preview_module, "local_affine_post_numpy",
                                         _signal_first(sig)))
        else:
            run_module = importlib.import_module("photostyle.cli.run")
            transfer_module = importlib.import_module("photostyle.neural.transfer")
            if point in ("stage1", "second_during_write"):
                def make_call(original):
                    def call(self, info):
                        original(self, info)
                        if info.stage == 1 and info.step == 2:
                            _send(sig)
                    return call
                stack.enter_context(_patched(run_module.Progress, "__call__", make_call))
            if point == "second_during_write":  # held back until the file is complete
                from PIL import Image

                stack.enter_context(_patched(Image.Image, "save", _signal_first(sig)))
            if point == "between_levels":
                calls = []

                def make_prepare(original):
                    def prepare(*args, **kwargs):
                        calls.append(1)
                        if len(calls) == 2:  # setting up the second level
                            _send(sig)
                        return original(*args, **kwargs)
                    return prepare
                stack.enter_context(_patched(transfer_module, "prepare", make_prepare))
            if point == "post":
                stack.enter_context(_patched(transfer_module, "local_affine_post",
                                             _signal_first(sig)))
            if point == "report":
                stack.enter_context(_patched(run_module, "_write_report", _signal_first(sig)))
        yield


def main() -> int:
    with open(sys.argv[1]) as handle:
        plan = json.load(handle)
    if any(s["point"] == "startup" for s in plan) and len(plan) > 1:
        raise SystemExit("a startup scenario runs alone")
    results = []
    for scenario in plan:
        if scenario["point"] not in POINTS:
            raise SystemExit(f"unknown point {scenario['point']!r}; one of {POINTS}")
        sys.argv = ["photostyle", *scenario["argv"]]
        err = io.StringIO()
        with _armed(scenario["point"], getattr(signal, scenario["signal"])), \
                contextlib.redirect_stderr(err):
            from photostyle.__main__ import main as entry

            code = entry()
        results.append({"code": code, "err": err.getvalue()})
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
