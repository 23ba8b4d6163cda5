"""The batch report: one row per item (content, style, output, status, reason, seconds).

CSV (``.csv``, the default ``OUTDIR/batch_report.csv``) or JSON lines (``.jsonl``). While a
batch runs, each finished item's row is appended at once (whole lines, flushed, from one
process only), so a batch that is killed still leaves the rows of what it did; when it ends
(normally, on Ctrl-C or on an error) the report is rewritten atomically in item order, so the
report of a batch does not depend on how many workers ran it or in which order they finished.
A rerun writes a new report, in which the items done before are ``skipped``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import InputError
from ..io.files import atomic_write_text

__all__ = ["FORMATS", "REPORT_NAME", "STATUSES", "Record", "ReportWriter", "read_report"]

#: The default report, in the output folder.
REPORT_NAME = "batch_report.csv"

#: What happened to an item.
STATUSES = ("done", "skipped", "failed")

#: Report formats by file extension.
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


@dataclass(frozen=True)
class Record:
    """One item's row in the report.

    Attributes
    ----------
    index : int
        The item's position in the batch.
    content, style, out : str
        Its files (several styles joined with ``;``).
    status : {"done", "skipped", "failed"}
        ``done``: written now; ``skipped``: its output was complete already; ``failed``: see
        ``reason``.
    reason : str
        One line: why it failed (naming the file), or why it was skipped.
    warnings : str
        The warnings the item raised (resized masks, one-sided labels …), ``" | "``-joined.
    seconds : float
        Wall time spent on it (reading, the method, writing), 0 when skipped.
    """

    index: int
    content: str
    style: str
    out: str
    status: str
    reason: str = ""
    warnings: str = ""
    seconds: float = 0.0


#: The report's columns, in order.
COLUMNS = tuple(f.name for f in fields(Record))


def _format(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"report {path}: unknown report type {path.suffix!r}; use .csv or "
                         ".jsonl")
    return kind


def _line(record: Record, kind: str) -> str:
    if kind == "jsonl":
        return json.dumps(asdict(record), ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    row = asdict(record)
    row["seconds"] = f"{record.seconds:.3f}"
    csv.writer(buffer, lineterminator="\n").writerow([row[c] for c in COLUMNS])
    return buffer.getvalue()


def _header(kind: str) -> str:
    return ",".join(COLUMNS) + "\n" if kind == "csv" else ""


class ReportWriter:
    """Writes a batch's report: :meth:`start` replaces any old report with an empty one,
    :meth:`add` appends a row, :meth:`finish` rewrites every row in item order, atomically.

    Parameters
    ----------
    path : path
        ``.csv`` or ``.jsonl``.

    Raises
    ------
    InputError
        Another extension.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.kind = _format(self.path)
        self.handle: io.TextIOBase | None = None

    def start(self) -> None:
        atomic_write_text(self.path, _header(self.kind))
        self.handle = open(self.path, "a", encoding="utf-8", newline="")

    def add(self, record: Record) -> None:
        if self.handle is None:
            raise RuntimeError("ReportWriter.add before start")
        self.handle.write(_line(record, self.kind))
        self.handle.flush()

    def finish(self, records: Iterable[Record]) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        rows = sorted(records, key=lambda r: r.index)
        atomic_write_text(self.path, _header(self.kind)
                          + "".join(_line(r, self.kind) for r in rows))


def read_report(path: str | os.PathLike) -> list[Record]:
    """The rows of a report (CSV or JSON lines); a last line cut short by a kill is
    ignored."""
    path = Path(path)
    kind = _format(path)
    text = path.read_text(encoding="utf-8")
    records = []
    if kind == "jsonl":
        for line in text.splitlines():
            try:
                records.append(Record(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue
        return records
    for row in csv.DictReader(io.StringIO(text)):
        if None in row or any(row.get(c) is None for c in COLUMNS):
            continue
        try:
            records.append(Record(int(row["index"]), row["content"], row["style"], row["out"],
                                  row["status"], row["reason"], row["warnings"],
                                  float(row["seconds"])))
        except ValueError:
            continue
    return records
