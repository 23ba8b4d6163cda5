"""What a batch does: its items (one transfer each, with its output file), from a folder of
photos or from a manifest, checked before any work.

A **folder** gives one item per image file in it (not in its subfolders; hidden files
ignored), in name order, all with the same style; a content's mask is the file of the same
stem in the masks folder. A **manifest** is a CSV file with a header: columns ``content``,
``style``, ``content_mask``, ``style_mask``, ``out`` (only ``content`` is required) and
optionally the per-row options (:data:`COLUMNS`). Paths in a manifest are relative to the
manifest's folder, ``out`` relative to the output folder; ``style`` and ``style_mask`` may
list several files separated by ``;``.

Outputs keep the content's stem: ``OUTDIR/<stem>.png`` (``suffix``) unless the manifest names
them. No output may be an input of any item, and no two items may write the same file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..io.files import OUTPUT_FORMATS
from ..methods.base import Task
from .report import Record

__all__ = ["COLUMNS", "IMAGE_SUFFIXES", "Item", "check_items", "folder_items",
           "manifest_items", "mask_for"]

#: The manifest's file columns (``content`` required); any other column is a per-row option.
COLUMNS = ("content", "style", "content_mask", "style_mask", "out")

#: File name endings of the images a folder batch takes (case-insensitive).
IMAGE_SUFFIXES = frozenset({*OUTPUT_FORMATS, ".jpe", ".jfif", ".tga", ".ppm", ".pgm", ".pnm"})

#: Separator of several files in one manifest cell.
LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Item:
    """One transfer of a batch.

    Attributes
    ----------
    index : int
        Position in the batch (0-based; the report's order).
    task : Task
        The input files.
    out : Path
        The output file.
    options : tuple of (str, str)
        The manifest row's options as written (column, text); empty for a folder.
    config : Config or None
        The item's own settings when its options change the batch's (None: the batch's).
    source : str
        Where the item comes from, for messages (``manifest.csv line 3``, or the content).
    """

    index: int
    task: Task
    out: Path
    options: tuple[tuple[str, str], ...] = ()
    config: Config | None = None
    source: str = ""

    def record(self, status: str, reason: str = "", warnings: str = "",
               seconds: float = 0.0) -> Record:
        """This item's row in the report."""
        return Record(self.index, str(self.task.content),
                      ";".join(str(s) for s in self.task.styles), str(self.out), status, reason,
                      warnings, round(seconds, 3))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                  and p.is_file())


def mask_for(content: Path, masks: Path) -> Path:
    """The mask of ``content`` in folder ``masks``: the image file with the same stem
    (``masks/<stem>.png`` when there is none, so the item fails naming the file it wanted).

    Raises
    ------
    InputError
        Several files with that stem.
    """
    found = [p for p in masks.glob(f"{_glob_escape(content.stem)}.*")
             if p.suffix.lower() in IMAGE_SUFFIXES and p.stem == content.stem]
    if len(found) > 1:
        names = ", ".join(sorted(p.name for p in found))
        raise InputError(f"several masks for {content.name} in {masks} ({names}); keep one")
    return found[0] if found else masks / f"{content.stem}.png"


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def folder_items(folder: str | os.PathLike, outdir: str | os.PathLike,
                 styles: Sequence[str | os.PathLike] = (), *,
                 content_masks: str | os.PathLike | None = None,
                 style_masks: Sequence[str | os.PathLike] | None = None,
                 suffix: str = ".png") -> list[Item]:
    """One item per image in ``folder`` (name order), each with ``styles``.

    Parameters
    ----------
    folder : path
        The content photos.
    outdir : path
        Where the outputs go: ``outdir/<stem><suffix>``.
    styles : sequence of path
        The style photo(s) of every item (none for a trained look).
    content_masks : path, optional
        Folder of the content masks, one per photo with the photo's stem; a photo without
        one fails (the report names the file it wanted).
    style_masks : sequence of path, optional
        The style masks (one per style); given with ``content_masks``.
    suffix : str
        The outputs' extension.

    Raises
    ------
    InputError
        Not a folder, no image in it, a masks folder that is not one, ``outdir`` equal to
        ``folder``, two photos with one stem.
    """
    folder, outdir = Path(folder).absolute(), Path(outdir).absolute()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give a folder of photos or a manifest "
                         "(.csv)")
    if outdir == folder:
        raise InputError(f"the output folder is the input folder {folder}; choose another "
                         "(outputs would mix with the photos)")
    if content_masks is not None:
        content_masks = Path(content_masks).absolute()
        if not content_masks.is_dir():
            raise InputError(f"--content-masks {content_masks} is not a folder; give the "
                             "folder of the content masks")
    photos = _images(folder)
    if not photos:
        raise InputError(f"{folder} holds no images ({', '.join(sorted(OUTPUT_FORMATS))}); "
                         "check the path")
    styles = tuple(Path(s).absolute() for s in styles)
    s_masks = None if style_masks is None else tuple(Path(m).absolute() for m in style_masks)
    items = []
    for index, photo in enumerate(photos):
        c_mask = None if content_masks is None else mask_for(photo, content_masks)
        task = Task(photo, styles, c_mask, s_masks)
        items.append(Item(index, task, outdir / f"{photo.stem}{suffix}", source=photo.name))
    return items


def _paths(text: str, base: Path) -> tuple[Path, ...]:
    return tuple(base / part.strip() for part in text.split(LIST_SEPARATOR) if part.strip())


def manifest_items(manifest: str | os.PathLike, outdir: str | os.PathLike,
                   styles: Sequence[str | os.PathLike] = (), *,
                   style_masks: Sequence[str | os.PathLike] | None = None,
                   suffix: str = ".png") -> list[Item]:
    """The items of a manifest (module docstring); a row without ``style`` takes ``styles``
    (and ``style_masks``), a row without ``out`` writes ``outdir/<content stem><suffix>``.

    Raises
    ------
    InputError
        A missing or unreadable file, no ``content`` column, a row without content or without
        any style when neither the row nor ``styles`` gives one (when needed), a style mask
        without a content mask; the message names the line.
    """
    manifest, outdir = Path(manifest).absolute(), Path(outdir).absolute()
    base = manifest.parent
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise InputError(f"manifest {manifest}: no such file; check the path") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"manifest {manifest} cannot be read ({exc}); save it as a UTF-8 "
                         "CSV file") from None
    if not rows or "content" not in [h.strip() for h in rows[0]]:
        raise InputError(f"manifest {manifest}: the first line must name the columns, "
                         f"at least 'content' ({', '.join(COLUMNS)}, then options)")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise InputError(f"manifest {manifest}: a column is named twice in {header}")
    default_styles = tuple(Path(s).absolute() for s in styles)
    default_masks = None if style_masks is None else tuple(Path(m).absolute()
                                                           for m in style_masks)
    items = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{manifest.name} line {line}"
        if len(row) > len(header):
            raise InputError(f"{where}: {len(row)} cells for {len(header)} columns; quote "
                             "cells that hold commas")
        cells = dict(zip(header, (c.strip() for c in row), strict=False))  # short rows: empty
        content = cells.get("content", "")
        if not content:
            raise InputError(f"{where}: no content photo")
        content_path = base / content
        row_styles = _paths(cells.get("style", ""), base)
        s_masks = _paths(cells.get("style_mask", ""), base) or None
        if not row_styles:
            row_styles = default_styles
            s_masks = s_masks or default_masks
        c_mask = base / cells["content_mask"] if cells.get("content_mask") else None
        if (c_mask is None) != (s_masks is None):
            raise InputError(f"{where}: give both a content_mask and a style_mask, or neither")
        try:
            task = Task(content_path, row_styles, c_mask, s_masks)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        out = outdir / cells["out"] if cells.get("out") else \
            outdir / f"{content_path.stem}{suffix}"
        options = tuple((name, cells[name]) for name in header
                        if name not in COLUMNS and cells.get(name, ""))
        items.append(Item(len(items), task, out, options, source=where))
    if not items:
        raise InputError(f"manifest {manifest} lists no photos; add rows under the header")
    return items


def check_items(items: Sequence[Item], others: Iterable[str | os.PathLike] = ()) -> None:
    """Check a batch before any work: every output has an image type photostyle writes, no
    output is an input of any item (or one of ``others``, e.g. the report), and no two items
    write the same file.

    Raises
    ------
    InputError
        The first problem found, naming the files.
    """
    inputs: dict[object, Path] = {}
    for path in [p for item in items for p in item.task.inputs] + [Path(o) for o in others]:
        for key in _identities(path):
            inputs.setdefault(key, path)
    written: dict[object, Item] = {}
    for item in items:
        if item.out.suffix.lower() not in OUTPUT_FORMATS:
            raise InputError(f"{item.source}: output {item.out}: unknown image type "
                             f"{item.out.suffix!r}; use one of {', '.join(OUTPUT_FORMATS)}")
        keys = _identities(item.out)
        clash = next((inputs[k] for k in keys if k in inputs), None)
        if clash is not None:
            raise InputError(f"output {item.out} is also an input ({clash}); choose another "
                             "output folder or name")
        other = next((written[k] for k in keys if k in written), None)
        if other is not None:
            raise InputError(f"{other.source} and {item.source} would both write "
                             f"{item.out}; name the outputs in a manifest ('out' column)")
        written.update(dict.fromkeys(keys, item))


def _identities(path: Path) -> tuple[object, ...]:
    """What makes two paths one file: the normalized absolute path and, for an existing file,
    its device and inode (hard and symbolic links)."""
    name = os.path.normcase(os.path.normpath(os.path.abspath(path)))
    try:
        stat = os.stat(name)
    except OSError:
        return (name,)
    return name, (stat.st_dev, stat.st_ino)
