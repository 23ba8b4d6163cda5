"""The package layout: every module imports alone, the torch-free rooms stay torch-free, no
import cycles, and no module imports another module's private names."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("photostyle", "segment", "matting")

#: Modules that must never import torch: the command line's start-up, the weight-free method,
#: the metrics, file handling, mask files and clustering without deep features.
TORCH_FREE = (
    "photostyle", "photostyle.config", "photostyle.errors", "photostyle.interrupts",
    "photostyle.io", "photostyle.classic.memory",
    "photostyle.io.files", "photostyle.io.images", "photostyle.classic",
    "photostyle.classic.color", "photostyle.classic.stats", "photostyle.classic.regional",
    "photostyle.classic.preview", "photostyle.evaluation", "photostyle.evaluation.metrics",
    "photostyle.evaluation.report", "photostyle.evaluation.pairs", "photostyle.cli",
    "photostyle.cli.run", "photostyle.cli.eval", "photostyle.cli.options",
    "photostyle.cli.console", "photostyle.cli.batch", "photostyle.cli.train", "photostyle.neural",
    "photostyle.looks", "photostyle.looks.options",
    "photostyle.methods", "photostyle.methods.base", "photostyle.methods.preview",
    "photostyle.batch", "photostyle.batch.items", "photostyle.batch.outputs",
    "photostyle.batch.report", "photostyle.batch.worker", "photostyle.batch.engine",
    "photostyle.batch.pool", "photostyle.batch.cluster", "segment", "segment.io", "segment.palette",
    "segment.align", "segment.auto", "segment.cluster", "segment.regions", "segment.ade20k",
    "segment.errors", "matting", "matting.laplacian", "matting.spd3",
    "matting.local_affine_numpy", "photostyle.cli.ui", "photostyle.ui", "photostyle.ui.settings",
    "photostyle.ui.files", "photostyle.ui.masks", "photostyle.ui.live", "photostyle.ui.runner",
    "photostyle.ui.session", "photostyle.ui.app",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = sorted(_module_name(p) for package in PACKAGES
                 for p in (ROOT / package).rglob("*.py") if p.name != "__main__.py")


def _import_alone(name: str) -> dict:
    code = (f"import sys, json, importlib; importlib.import_module({name!r}); "
            "print(json.dumps('torch' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    return {"name": name, "code": done.returncode, "err": done.stderr[-2000:],
            "torch": done.returncode == 0 and json.loads(done.stdout.strip().splitlines()[-1])}


@pytest.fixture(scope="module")
def imported() -> dict[str, dict]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return {row["name"]: row for row in pool.map(_import_alone, MODULES)}


def test_every_module_imports_alone_in_a_fresh_interpreter(imported):
    failed = {name: row["err"] for name, row in imported.items() if row["code"] != 0}
    assert not failed, failed
    assert {"photostyle.neural.transfer", "photostyle.cli.run", "segment.semantic"} <= set(
        imported)


def test_torch_free_rooms_do_not_import_torch(imported):
    assert set(TORCH_FREE) <= set(imported)
    heavy = [name for name in TORCH_FREE if imported[name]["torch"]]
    assert not heavy, f"these modules import torch: {heavy}"
    assert imported["photostyle.neural.transfer"]["torch"]  # the check can fail


def test_import_photostyle_leaves_torch_unimported():
    code = "import photostyle, sys; photostyle.Config(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_the_preview_command_never_imports_torch(tiny_pair):
    d = tiny_pair
    out = d["dir"] / "out.png"
    code = ("import sys; from photostyle.cli import main; "
            f"code = main({[str(d['content']), str(d['style']), '-o', str(out), '--quality', 'preview', '--content-mask', str(d['content_mask']), '--style-mask', str(d['style_mask']), '--size', '64', '--seg-k', '2', '-q']!r}); "  # noqa: E501
            "assert code == 0, code; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
    assert out.is_file()


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """``(module, names, top_level)`` of each import of a file, relative ones resolved;
    ``top_level``: executed when the module is imported (not in a function or under
    ``TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = False
            if isinstance(child, ast.Import):
                found.extend((alias.name, [], top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                module = child.module or ""
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join([*base, module] if module else base)
                found.append((module, [a.name for a in child.names], top))
            visit(child, inner)

    visit(tree, True)
    return found


def _project_files() -> list[Path]:
    folders = (*PACKAGES, "tests", "benchmarks", "docs", "data")
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_no_module_imports_a_private_name():
    private = []
    for path in _project_files():
        for module, names, _ in _imports(path):
            parts = [part for part in module.split(".") if part]
            bad = [n for n in names if n.startswith("_") and not n.startswith("__")]
            bad += [part for part in parts if part.startswith("_") and part not in (
                "__future__", "__main__")]
            if bad:
                private.append(f"{path.relative_to(ROOT)}: {module} {bad}")
    assert not private, private


def test_no_import_cycles():
    modules = set(MODULES)
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            source = _module_name(path)
            if source not in graph:
                continue
            for module, names, top in _imports(path):
                if not top:
                    continue
                targets = {f"{module}.{n}" for n in names if f"{module}.{n}" in modules}
                if not targets and module in modules:
                    targets = {module}
                graph[source] |= targets - {source}
    state: dict[str, int] = {}
    cycles = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                walk(nxt, [*trail, nxt])
        state[node] = 2

    for name in MODULES:
        if name not in state:
            walk(name, [name])
    assert not cycles, cycles
