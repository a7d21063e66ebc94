"""Test-only fault injection, in-process: the OS refusing a write, at one chosen file or folder.

The project writes every file with ``harsanyi_lightning.interactions.artifacts.atomic_write_bytes`` (study.json,
regime.json, summary.json, annotation.pt, epoch_XXX.pt, jaccard.json, the study's last.ckpt, the report
files): ``tempfile.mkstemp`` creates ``.<name>.<random>.tmp`` beside the file (``os.open``), the data is
written and ``os.fsync``-ed, then ``os.replace`` renames it. The faults are raised by those OS calls,
where the kernel raises them, so the code under test runs unchanged:

- :func:`fail_write` ``(suffix, errno, after=0)``: a write of a file whose path ends with ``suffix``
  fails once (the first one, or the one after ``after`` writes that went through): ENOSPC and EIO at
  ``os.fsync`` of its temporary file (a full disk or a failing device reports there at the latest),
  EACCES when its temporary file is created (``os.open``), as in a folder the user may not write. It
  records the path it failed.
- :func:`read_only` ``(folder)``: the folder is made read-only (``chmod``); when the tests run as root,
  whom permissions do not bind, creating, renaming or removing anything inside it also raises EACCES
  (``os.open`` with a write flag, ``os.mkdir``, ``os.replace``, ``os.unlink``), as it does for any other user.
"""
from __future__ import annotations

import contextlib
import errno as _errno
import os
import re
from pathlib import Path

_TEMP = re.compile(r"^\.(.+)\.[A-Za-z0-9_]{8}\.tmp$")


def _target(temp_path: str) -> str | None:
    """The file a temporary file of ``atomic_write_bytes`` stands for, or None."""
    p = Path(temp_path)
    m = _TEMP.match(p.name)
    return str(p.parent / m.group(1)) if m else None


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class WriteFault:
    """One armed fault: ``hit`` is the path it failed (None until then)."""

    def __init__(self, suffix: str, err: int, after: int = 0) -> None:
        self.suffix, self.errno, self.after, self.hit = suffix, err, after, None

    def _matches(self, temp_path: str) -> bool:
        target = _target(temp_path)
        if self.hit is not None or target is None or not target.endswith(self.suffix):
            return False
        self.after -= 1
        return self.after < 0

    def _raise(self, temp_path: str) -> None:
        self.hit = _target(temp_path)
        raise OSError(self.errno, os.strerror(self.errno), temp_path)


def fail_write(monkeypatch, suffix: str, err: int, after: int = 0) -> WriteFault:
    """Arm one fault (see the module docstring) for the rest of the test, or until ``monkeypatch.undo()``;
    the first ``after`` writes of the file go through."""
    fault = WriteFault(suffix, err, after)
    if err == _errno.EACCES:
        real_open = os.open

        def fake_open(path, flags, *args, **kwargs):
            if flags & os.O_CREAT and fault._matches(os.fspath(path)):
                fault._raise(os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
    else:
        real_fsync = os.fsync

        def fake_fsync(fd):
            path = _fd_path(fd if isinstance(fd, int) else fd.fileno())
            if fault._matches(path):
                fault._raise(path)
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fake_fsync)
    return fault


def _inside(path, folder: str) -> bool:
    """Whether creating, renaming or removing ``path`` changes ``folder`` or a folder below it."""
    parent = str(Path(os.fspath(path)).parent.resolve())
    return parent == folder or parent.startswith(folder + os.sep)


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` read-only for this process inside the block (see the module docstring)."""
    import pytest

    folder = Path(folder)
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    resolved = str(folder.resolve())

    def refuse(path) -> None:
        raise PermissionError(_errno.EACCES, os.strerror(_errno.EACCES), os.fspath(path))

    with pytest.MonkeyPatch.context() as mp:
        if os.geteuid() == 0:
            real = {name: getattr(os, name) for name in ("open", "mkdir", "replace", "rename", "unlink", "rmdir")}

            def fake_open(path, flags, *args, **kwargs):
                if flags & os.O_CREAT and _inside(path, resolved):
                    refuse(path)
                return real["open"](path, flags, *args, **kwargs)

            def guard(name):
                def fake(path, *args, **kwargs):
                    paths = [path] + ([args[0]] if name in ("replace", "rename") and args else [])
                    for p in paths:
                        if _inside(p, resolved) and not (name == "mkdir" and os.path.isdir(p)):
                            refuse(p)
                    return real[name](path, *args, **kwargs)
                return fake

            mp.setattr(os, "open", fake_open)
            for name in ("mkdir", "replace", "rename", "unlink", "rmdir"):
                mp.setattr(os, name, guard(name))
        try:
            yield folder
        finally:
            folder.chmod(mode)
