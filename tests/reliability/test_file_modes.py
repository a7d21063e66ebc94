"""Files the project writes get the permissions ``open()`` gives under the user's umask (``-rw-r--r--`` under
0022, ``-rw-------`` under 0077), not the owner-only mode of a temporary file (docs/troubleshooting.md): every
writer goes through ``atomic_write_bytes``, so it is tested here with each of its callers that writes on its own
(the folder lock's record, a regime's checkpoint, the multi-study table). A whole study under umask 0022 is
tests/study/test_tiny_study.py."""
from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes, load_artifact, save_artifact


@contextlib.contextmanager
def umask(mask: int):
    """The process's umask set to ``mask`` inside the block, the previous one restored after."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640), (0o002, 0o664)])
def test_an_atomic_write_gets_the_mode_open_gives(tmp_path, mask, expected):
    with umask(mask):
        written = atomic_write_bytes(tmp_path / "a" / "report.md", b"# report\n")
        with open(tmp_path / "plain.txt", "w") as f:  # what open() gives under the same umask
            f.write("x")
    assert mode(written) == expected == mode(tmp_path / "plain.txt")
    assert written.read_bytes() == b"# report\n"
    assert [p.name for p in written.parent.iterdir()] == ["report.md"]  # no temporary file left


def test_replacing_a_file_takes_the_mode_of_the_current_umask(tmp_path):
    path = tmp_path / "summary.json"
    with umask(0o077):
        atomic_write_bytes(path, b"{}")
    assert mode(path) == 0o600
    with umask(0o022):
        atomic_write_bytes(path, b'{"a": 1}')
    assert mode(path) == 0o644 and path.read_bytes() == b'{"a": 1}'


def test_an_artifact_is_readable_by_others_and_still_loads(tmp_path):
    with umask(0o022):
        save_artifact(tmp_path / "epoch_000.pt", "interactions", {"values": torch.arange(4.0)})
    assert mode(tmp_path / "epoch_000.pt") == 0o644
    content, _ = load_artifact(tmp_path / "epoch_000.pt", "interactions")
    assert torch.equal(content["values"], torch.arange(4.0))


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600)])
def test_the_folder_lock_record_follows_the_umask(tmp_path, mask, expected):
    from harsanyi_lightning.callbacks.folder_lock import INFO_FILE, LOCK_FILE, lock_folder

    with umask(mask):
        lock = lock_folder(tmp_path / "study", "study folder")
        try:
            assert mode(tmp_path / "study" / INFO_FILE) == expected
            assert mode(tmp_path / "study" / LOCK_FILE) & 0o600 == 0o600
            assert not mode(tmp_path / "study" / LOCK_FILE) & ~expected & 0o777  # nothing the umask takes off
        finally:
            lock.release()


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600)])
def test_a_study_checkpoint_follows_the_umask(tmp_path, mask, expected):
    from harsanyi_lightning.study.run.checkpoints import AtomicCheckpointIO

    path = tmp_path / "probe" / "checkpoints" / "last.ckpt"
    with umask(mask):
        AtomicCheckpointIO().save_checkpoint({"epoch": 1, "state_dict": {"w": torch.ones(2)}}, path)
    assert mode(path) == expected
    assert torch.load(path, weights_only=True)["epoch"] == 1
