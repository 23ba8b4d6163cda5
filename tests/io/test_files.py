"""Output planning (every file checked against every input before any work), atomic writes
that a signal cannot cut, and one-line OS errors."""

from __future__ import annotations

import errno
import os
import re
import signal

import pytest

from photostyle.errors import InputError, OutputError
from photostyle.interrupts import Terminated, deferred_signals, signals_as_interrupts
from photostyle.io.files import (
    PlannedOutput,
    atomic_write,
    check_outputs,
    check_writable,
    os_error_message,
)


def test_check_outputs_against_inputs_families_and_each_other(tmp_path):
    content = tmp_path / "x.stage2_0007.png"
    content.write_bytes(b"c")
    family = PlannedOutput(tmp_path / "x.stage1_0001.png", "--save-every image",
                           pattern=re.compile(r"x\.(?:L\d+_)?stage\d+_\d+\.png"))
    with pytest.raises(InputError, match="--save-every image x.stage2_0007.png would replace"):
        check_outputs([PlannedOutput(tmp_path / "x.png"), family], [content])
    link = tmp_path / "elsewhere.png"
    link.symlink_to(content)  # the family member reached through a link
    with pytest.raises(InputError, match="would replace"):
        check_outputs([family], [link])
    with pytest.raises(InputError, match="same file"):
        check_outputs([PlannedOutput(tmp_path / "a.png"),
                       PlannedOutput(tmp_path / "." / "a.png", "--report")])
    with pytest.raises(InputError, match="same file"):
        check_outputs([family, PlannedOutput(tmp_path / "x.stage1_0003.png", "--report")])
    masks = PlannedOutput(tmp_path / "new" / "m.png", "--save-masks", make_folder=True)
    assert check_outputs([masks], [content]) == [masks.path]  # its folder is made later
    with pytest.raises(InputError, match="folder .*missing does not exist"):
        check_outputs([PlannedOutput(tmp_path / "missing" / "new" / "m.png", make_folder=True)])
    table = PlannedOutput(tmp_path / "t.csv", "--csv", image=False)
    assert check_outputs([table]) == [table.path]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.png", "x.stage2_0007.png"]


def test_writability_probe_finds_proc_and_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="/proc cannot be written to"):
        check_writable("/proc")
    check_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_os_errors_name_the_path_the_reason_and_the_fix(tmp_path):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert os_error_message(tmp_path / "o.png", full) == (
        f"cannot write {tmp_path / 'o.png'} (No space left on device); the disk is full; free "
        "some space or write to another disk")
    gone = OSError(errno.ENOENT, os.strerror(errno.ENOENT))
    assert "create it first" in os_error_message(tmp_path / "no" / "o.png", gone)
    assert "cannot be created there" in os_error_message("/proc/o.png", gone)

    def fill(handle):
        handle.write(b"partial")
        raise full

    (tmp_path / "o.png").write_bytes(b"old")
    with pytest.raises(OutputError, match="o.png .No space left on device"):
        atomic_write(tmp_path / "o.png", fill)
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]
    assert (tmp_path / "o.png").read_bytes() == b"old"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_write_waits_for_the_complete_file(tmp_path, sig):
    def write(handle):
        handle.write(b"first half ")
        os.kill(os.getpid(), sig)  # held back (atomic_write)
        handle.write(b"second half")

    with signals_as_interrupts(), pytest.raises(KeyboardInterrupt) as caught:
        atomic_write(tmp_path / "o.txt", write)
    assert isinstance(caught.value, Terminated) == (sig == signal.SIGTERM)
    assert (tmp_path / "o.txt").read_bytes() == b"first half second half"
    assert [p.name for p in tmp_path.iterdir()] == ["o.txt"]


def test_deferred_signals_can_drop_them_and_restore_the_handlers():
    previous = signal.getsignal(signal.SIGTERM)
    with signals_as_interrupts():
        with deferred_signals(redeliver=False) as pending:
            os.kill(os.getpid(), signal.SIGTERM)
        assert pending == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is previous
