"""``photostyle ui``: the browser editor of masks and looks (:mod:`photostyle.ui`).

Building the parser imports neither the web stack nor torch; they are imported when the
command runs (the web stack) and when the page starts a full run (torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from .console import run_guarded

NAME = "ui"
PROG = "photostyle ui"

#: Options that are fields of :class:`photostyle.ui.settings.UiSettings`: flag, field, type,
#: metavar, help. No argparse defaults: an option not given leaves the field to UiSettings' default.
_FIELDS = (
    ("--host", "host", str, "HOST", "interface to listen on; anything but a loopback address lets "
                            "other machines use the editor"),
    ("--port", "port", int, "PORT", "TCP port (0: a free one)"),
    ("--inputs", "inputs", Path, "DIR", "folder whose photos and masks the page may open by path "
                                 "(nothing outside it; default: uploads only)"),
    ("--outputs", "outputs", Path, "DIR", "folder the editor writes results, masks and "
                                          "reports into (default: a new temporary folder)"),
    ("--vgg-weights", "vgg_weights", str, "W", "VGG-19 weights of full runs: 'imagenet' (from "
                                          "torchvision's cache; never downloaded here), "
                                          "'random' or a state-dict file (default: "
                                          "$PHOTOSTYLE_VGG_WEIGHTS, else imagenet)"),
    ("--max-upload-mb", "max_upload_mb", float, "MiB", "largest upload in MiB"),
    ("--max-pixels", "max_pixels", int, "N", "largest photo or mask in pixels"),
    ("--work-side", "work_side", int, "PX", "photos are kept at most this long side; the largest "
                                      "size of a run"),
    ("--mask-side", "mask_side", int, "PX", "masks are painted at the photo's size up to this long "
                                      "side"),
)


def _default(field: str) -> Any:
    from ..ui.settings import UiSettings

    return {f.name: f.default for f in dataclasses.fields(UiSettings)}[field]


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle ui`` (no side effects beyond the parser)."""
    p = commands.add_parser(
        NAME, help="open the browser editor: paint masks, see the live result, run the full "
                   "method",
        description="A local web app: load a content and a style photo, start the masks from "
                    "none, cluster or auto, paint them in the DPST colours, see the weight-free "
                    "result after every edit, run the full method with live progress and "
                    "download the result, the masks and the report. Serves 127.0.0.1 only "
                    "by default; nothing is fetched from the network.",
        epilog="Open the printed address in a browser; Ctrl-C stops the server.")
    p.set_defaults(handler=main_guarded)
    for flag, field, kind, metavar, text in _FIELDS:
        default = _default(field)
        shown = f" (default: {default})" if default is not None else ""
        p.add_argument(flag, dest=field, type=kind, metavar=metavar, default=argparse.SUPPRESS,
                       help=text + shown)
    return p


def run(args: argparse.Namespace) -> int:
    """Serve the editor until Ctrl-C; returns the exit status."""
    from ..ui.settings import UiSettings

    given = {field: getattr(args, field) for _, field, _, _, _ in _FIELDS if hasattr(args, field)}
    settings = UiSettings(**given)
    if settings.vgg_weights not in (None, "imagenet", "random") \
            and not Path(settings.vgg_weights).is_file():
        raise InputError(f"--vgg-weights {settings.vgg_weights}: no such file; give a VGG-19 "
                         "state dict, 'imagenet' or 'random'")
    try:
        from ..ui.app import serve
    except ImportError as exc:
        raise InputError(f"the editor needs its extra: pip install 'photostyle[ui]' ({exc})"
                         ) from None
    # The editor never reaches the network: the segmentation weights of '--seg auto' come from
    # the Hugging Face cache or not at all (then clustering is used, with a warning).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not settings.loopback:
        print(f"{PROG}: warning: listening on {settings.host}: other machines can use the "
              "editor and read what it writes", file=sys.stderr)

    def ready(url: str, outputs: Path) -> None:
        print(f"{PROG}: open {url} (outputs in {outputs}; Ctrl-C to stop)", file=sys.stderr,
              flush=True)

    serve(settings, ready)
    return 0


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle ui`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, "stopped")
