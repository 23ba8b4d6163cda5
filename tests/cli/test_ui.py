"""``photostyle ui`` on the command line: its options and their errors (the server itself:
tests/ui)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ..cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_imports_neither_torch_nor_the_web_stack():
    code = ("import sys; from photostyle.cli import main\n"
            "try:\n    main(['ui', '--help'])\n"
            "except SystemExit as exc:\n    assert exc.code == 0\n"
            "heavy = [m for m in ('torch', 'starlette', 'uvicorn') if m in sys.modules]\n"
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--inputs DIR" in done.stdout and "127.0.0.1" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--inputs", "no/such/folder"], "--inputs no/such/folder is not a folder"),
    (["--port", "70000"], "port 70000 must be in 0..65535"),
    (["--max-upload-mb", "0"], "max-upload-mb must be > 0"),
    (["--vgg-weights", "missing.pth"], "--vgg-weights missing.pth: no such file"),
])
def test_bad_options_are_one_line_errors(args, message, capsys):
    code, _, err = run_cli(["ui", *args], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"photostyle ui: error: {message}"), err


def test_a_port_in_use_is_a_one_line_error(capsys, tmp_path):
    pytest.importorskip("uvicorn", reason="the editor's extra is not installed")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, _, err = run_cli(["ui", "--port", port, "--outputs", tmp_path / "out"], capsys)
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert not (tmp_path / "out").exists()  # nothing created
