"""One writer per folder: a study folder, or an ``InteractionCallback``'s ``output_dir``.

Two runs writing into one folder would interleave their checkpoints and artifacts (and one run's
clean-up would delete the other's temporary files), so a writer takes the folder's lock before its
first write and keeps it until it ends:

- ``<folder>/.harsanyi.lock`` is the lock itself: an ``flock`` taken through the ``filelock`` package.
  The kernel drops it when the holding process ends, however it ends (``kill -9``, out of memory,
  a node reboot), so a dead holder never blocks the folder.
- ``<folder>/.harsanyi.lock.json`` says who holds it (pid, host, start time, command), written after
  the lock is taken and removed before it is let go. It only makes the error message and the
  take-over warning useful: nothing depends on it being present or intact.

A folder is refused when it, or a folder above it, is locked by another process (a ``fit`` whose
callback writes into a study folder in use is refused too); with ``check_inside`` also when a folder
up to three levels below it is (a study's ``<regime>/interactions``). A process may lock a folder it
already holds (or one inside it) again: the study locks its folder, then each regime's callback its
``interactions`` folder. Readers (``cli.py report``) take no lock. Under DDP only global rank zero
takes it (the other ranks write nothing).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import sys
import warnings
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes
from harsanyi_lightning.interactions.errors import FolderInUseError

LOCK_FILE = ".harsanyi.lock"
INFO_FILE = ".harsanyi.lock.json"


class StaleLockWarning(UserWarning):
    """A folder's lock was left by a process that no longer holds it (killed or crashed); it is taken over."""


class FolderLock:
    """The lock on one folder, held by this process (see the module docstring). Use :func:`lock_folder`."""

    def __init__(self, folder: Path, what: str, lock: FileLock | None) -> None:
        self.folder, self.what, self._lock = folder, what, lock
        self._count = 1

    @property
    def held(self) -> bool:
        return self._count > 0

    def release(self) -> None:
        """Let the folder go (after as many releases as :func:`lock_folder` calls that returned this lock)."""
        if self._count <= 0:
            return
        self._count -= 1
        if self._count > 0:
            return
        _HELD.pop(self.folder, None)
        if self._lock is not None:
            with contextlib.suppress(OSError):  # first the info (see module docstring), then the lock
                (self.folder / INFO_FILE).unlink()
            self._lock.release()

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


#: folders this process holds: resolved path -> lock
_HELD: dict[Path, FolderLock] = {}


def holder_info() -> dict:
    """What :data:`INFO_FILE` records about this process."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]])[:300],
    }


def read_holder(folder: Path) -> dict | None:
    """The holder recorded in ``folder``'s info file; ``None`` when there is none; ``{}`` when it is unreadable."""
    path = folder / INFO_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe(holder: dict | None, folder: Path) -> str:
    """``"pid 123 on host h, started 2026-01-01T10:00:00+00:00 (cli.py study ...)"``, or what is known."""
    if not holder or not any(k in holder for k in ("pid", "host", "started")):
        why = "is missing" if holder is None else "is unreadable"
        return f"another process (its record {folder / INFO_FILE} {why})"
    text = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started', '?')}"
    if holder.get("command"):
        text += f" ({holder['command']})"
    return text


def _in_use(locked: Path, what: str, folder: Path) -> FolderInUseError:
    """The error for ``folder`` when ``locked`` (the folder, one above or one inside it) is another process's."""
    holder = read_holder(locked)
    pid = holder.get("pid") if holder else None
    if locked == folder:
        head = f"{what} {folder} is in use"
    elif locked in folder.parents:
        head = f"{what} {folder} is inside {locked}, which is in use"
    else:
        head = f"{what} {folder} holds {locked}, which is in use"
    stop = f"stop it (kill {pid})" if isinstance(pid, int) else "stop it"
    return FolderInUseError(
        f"{head}: {describe(holder, locked)} is writing into it. One process at a time may write into a folder: "
        f"wait for that run to finish, {stop}, or use another folder (a run that was killed leaves no lock "
        "behind, so that process is still running)"
    )


def _held_by_us(folder: Path) -> FolderLock | None:
    for candidate in (folder, *folder.parents):
        lock = _HELD.get(candidate)
        if lock is not None and lock.held:
            return lock
    return None


def _locked_by_another(folder: Path) -> bool:
    """Whether ``folder``'s lock file exists and another process holds it (a one-shot try, let go at once)."""
    path = folder / LOCK_FILE
    if not path.is_file():
        return False
    probe = FileLock(str(path), timeout=0, thread_local=False)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:  # a lock file we may not open: we cannot tell, and the folder's own check decides
        return False
    probe.release()
    return False


def _locked_inside(folder: Path, depth: int = 3) -> Iterator[Path]:
    """Folders at most ``depth`` levels below ``folder`` whose lock another process holds."""
    for level in range(1, depth + 1):
        for path in folder.glob("/".join(["*"] * level + [LOCK_FILE])):
            if _locked_by_another(path.parent):
                yield path.parent


def lock_folder(folder: str | os.PathLike, what: str = "folder", *, check_inside: bool = False) -> FolderLock:
    """Take the lock of ``folder`` (created if missing) for this process; return it (``release()`` when done).

    Raises :class:`FolderInUseError` naming the folder and the other process (pid, host, start time)
    when another process holds it, or a folder above it (or, with ``check_inside``, one below it).
    A lock left by a process that has ended is taken over with a :class:`StaleLockWarning`. ``OSError``
    when the folder cannot be created or its lock file cannot be written (check writability first)."""
    folder = Path(folder).resolve()
    mine = _held_by_us(folder)
    if mine is not None:
        mine._count += 1
        return mine
    for parent in folder.parents:
        if _locked_by_another(parent):
            raise _in_use(parent, what, folder)
    if check_inside and folder.is_dir():
        for inner in _locked_inside(folder):
            raise _in_use(inner, what, folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_FILE), timeout=0, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise _in_use(folder, what, folder) from None
    try:
        previous = read_holder(folder)
        if previous is not None and previous.get("pid") != os.getpid():
            warnings.warn(
                f"{what} {folder}: taking over the lock left by {describe(previous, folder)}, which no longer "
                "holds it (it was killed or crashed)", StaleLockWarning, stacklevel=2,
            )
        atomic_write_bytes(folder / INFO_FILE, (json.dumps(holder_info(), indent=2) + "\n").encode())
    except BaseException:
        lock.release()
        raise
    held = FolderLock(folder, what, lock)
    _HELD[folder] = held
    return held


__all__ = ["INFO_FILE", "LOCK_FILE", "FolderLock", "StaleLockWarning", "describe", "holder_info", "lock_folder", "read_holder"]
