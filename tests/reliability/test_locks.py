"""One writer per folder: a second `cli.py study` on a study folder in use, or a fit whose callback writes
into a folder in use, stops before any work with FolderInUseError naming the folder and the other process
(pid, host, start time); a lock left by a killed process is taken over with a warning; a damaged lock
record changes nothing but the message; readers (`cli.py report`) need no lock."""
from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from harsanyi_lightning import cli
from tests.reliability.harness import ROOT, cli_env
from harsanyi_lightning.interactions.errors import FolderInUseError
from harsanyi_lightning.callbacks.folder_lock import INFO_FILE, LOCK_FILE, StaleLockWarning, lock_folder, read_holder
from tests.reliability.test_bad_config import fails_before_training

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

# the module alone, by its path: the callbacks package would import Lightning, seconds of start-up per holder
HOLD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("folder_lock", sys.argv[2])
folder_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(folder_lock)
lock = folder_lock.lock_folder(sys.argv[1], "study folder")
print("holding", flush=True)
time.sleep(600)
"""


@contextlib.contextmanager
def held_by_another_process(folder: Path):
    """A separate process holding ``folder``'s lock (through the project's own lock_folder) until the block ends."""
    module = ROOT / "callbacks" / "folder_lock.py"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(module)], cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "holding", proc.stderr.read()
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_study_on_a_folder_in_use_stops_at_once_and_the_first_finishes(finished_run):
    first, second, study = finished_run["first"], finished_run["second"], finished_run["study"]
    assert second.returncode == 2, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error (FolderInUseError): study folder {study} is in use: pid {first.pid} ")
    assert f"on host {socket.gethostname()}, started 20" in last and "cli.py study --config" in last
    assert "[study] regime" not in second.stdout  # stopped before any work
    # the first went on and finished normally: every regime, the report, its lock let go
    assert first.returncode == 0 and "[study] study finished" in first.stdout
    assert "regime 1/3: probe ->" in first.stdout and (study / "report" / "report.md").is_file()
    assert not (study / INFO_FILE).exists()


def test_fit_writing_into_a_study_folder_in_use_stops_before_training(tmp_path):
    study = tmp_path / "study"
    with held_by_another_process(study) as holder:
        msg = fails_before_training(tmp_path, FolderInUseError, f"inside {study}, which is in use", f"pid {holder.pid}",
                                    callback={"output_dir": str(study / "probe" / "interactions")})
    assert f"kill {holder.pid}" in msg


def test_fit_writing_into_an_output_dir_in_use_stops_before_training(tmp_path):
    out = tmp_path / "interactions"
    with held_by_another_process(out) as holder:
        msg = fails_before_training(tmp_path, FolderInUseError, f"output_dir {out} is in use", f"pid {holder.pid}")
    assert socket.gethostname() in msg


def test_lock_left_by_a_killed_process_is_taken_over_with_a_warning(tmp_path):
    out = tmp_path / "interactions"
    with held_by_another_process(out) as holder:
        dead = holder.pid
    assert read_holder(out)["pid"] == dead  # its record is left behind, the kernel let its lock go
    with pytest.warns(StaleLockWarning, match=f"taking over the lock left by pid {dead} .*killed or crashed"):
        lock = lock_folder(out, "output_dir")
    assert read_holder(out)["pid"] != dead
    lock.release()
    assert read_holder(out) is None and (out / LOCK_FILE).exists()


@pytest.mark.parametrize("record", [b"", b"\x00\xff garbage", b"[1, 2]", b'{"pid": 12', b'{"pid": "x", "host": 7}'])
def test_a_damaged_lock_record_does_not_stop_the_next_writer(tmp_path, record):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / INFO_FILE).write_bytes(record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StaleLockWarning)  # a record without a holder is a stale one
        lock = lock_folder(folder, "study folder")
    assert json.loads((folder / INFO_FILE).read_text())["host"] == socket.gethostname()
    lock.release()
    assert not (folder / INFO_FILE).exists()


def test_a_damaged_lock_record_of_a_live_holder_still_refuses(tmp_path):
    folder = tmp_path / "study"
    with held_by_another_process(folder):
        (folder / INFO_FILE).write_bytes(b"\x00 not json")
        with pytest.raises(FolderInUseError) as err:
            lock_folder(folder, "study folder")
    msg = str(err.value)
    assert f"study folder {folder} is in use" in msg and f"{folder / INFO_FILE} is unreadable" in msg


def test_report_reads_a_study_folder_in_use(finished_study, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished_study[1], copy)
    (copy / "report" / "report.md").unlink()
    with held_by_another_process(copy):
        assert cli.run_from_command_line(["report", str(copy), "--figures", "false"]) == 0
    assert (copy / "report" / "report.md").is_file() and f"[report] {copy / 'report'}" in capsys.readouterr().out
