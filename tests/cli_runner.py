"""Running the ``photostyle`` command line in-process, for the CLI tests."""

from __future__ import annotations

from pathlib import Path

from photostyle import cli


def run_cli(args, capsys) -> tuple[int, str, str]:
    """``photostyle.cli.main`` on ``args`` (each ``str()``-ed): the exit status (also of
    argparse's own errors, which raise SystemExit), stdout and stderr."""
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exc:  # argparse: a bad value for an option
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def folder_files(folder: Path) -> list[str]:
    """The names in ``folder``, sorted (to check that nothing was written)."""
    return sorted(p.name for p in folder.iterdir())


def interrupt_at(monkeypatch, stage: int, step: int) -> None:
    """Make the command line's progress callback raise KeyboardInterrupt (Ctrl-C) once it has
    handled ``step`` of ``stage``."""
    from photostyle.cli import run as run_command

    original = run_command.Progress.__call__

    def interrupt(self, info) -> None:
        original(self, info)
        if info.stage == stage and info.step == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_command.Progress, "__call__", interrupt)


def assert_clean_error(code: int, err: str, needle: str, folder: Path, before: list[str]) -> None:
    """A user error: exit status 2, one ``PROG: error: …`` line holding ``needle``, and
    ``folder`` as it was (``before``: :func:`folder_files` before the run)."""
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if ": error: " in line]
    assert len(lines) == 1 and needle in lines[0], err
    assert folder_files(folder) == before, "nothing may be written on error"
