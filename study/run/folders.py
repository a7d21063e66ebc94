"""The study folder: its name, its lock, the folders a run writes into, and half-written files (docs/study.md).

Before any work the study takes the study folder's lock (:mod:`harsanyi_lightning.callbacks.folder_lock`:
one writer per study folder; a second ``cli.py study`` on it stops at once) and checks that every folder
it writes into is writable, so a read-only folder fails at once rather than hours later.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import pytorch_lightning as pl

from harsanyi_lightning.interactions.artifacts import errno_name, probe_writable
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.callbacks.folder_lock import FolderLock, lock_folder

from ..layout import checkpoint_path, interactions_dir, regime_dir, seed_dir, tb_dir
from .progress import say

__all__ = [
    "TEMP_FILE",
    "check_study_dir_name",
    "check_study_folders",
    "lock_study",
    "remove_stale_temp_files",
    "study_folders",
]


def check_study_dir_name(study_dir: Path) -> None:
    """A study folder must be named (an empty ``study_dir`` would make the working directory the study) and be a
    folder: ``study_dir``, or a folder above it, that is a file is a ``ConfigError`` saying so."""
    text = str(study_dir)
    if not text.strip() or text.strip() == ".":
        raise ConfigError(f"study_dir={text!r} names no folder; set study_dir to the folder the study should write")
    if "\x00" in text:
        raise ConfigError(f"study_dir={text!r} is not a valid path (it holds a NUL character)")
    for path in (study_dir, *study_dir.parents):
        if path.exists() and not path.is_dir():
            what = "is a file" if path == study_dir else f"cannot be created: {path} is a file"
            raise ConfigError(f"study_dir {study_dir} {what}, not a folder; set study_dir to a folder (a new one, or "
                              "the folder of an earlier study to resume it)")


def lock_study(study_dir: Path) -> FolderLock | None:
    """Take the study folder's lock (created if missing): one writer per study folder. Only global rank zero
    takes it (DDP ranks started by Lightning run the same command). ``ConfigError`` when the folder cannot
    be created or written, :class:`~harsanyi_lightning.interactions.errors.FolderInUseError` when another process holds it."""
    if pl.utilities.rank_zero_only.rank != 0:
        return None
    try:
        return lock_folder(study_dir, "study folder", check_inside=True)
    except (FileExistsError, NotADirectoryError):
        check_study_dir_name(study_dir)  # says which path is a file
        raise
    except OSError as err:
        raise ConfigError(
            f"study_dir {study_dir} is not writable ({errno_name(err)}); make it writable for this user "
            f"(chmod u+w) or set study_dir to another folder"
        ) from None


def study_folders(study_dir: Path, regimes: Sequence[str], report: bool,
                  seeds: Optional[Sequence[int]] = None) -> list[Path]:
    """The folders a study run writes into that exist already: each regime's folder and its ``tb``,
    ``checkpoints`` and ``interactions`` (with ``seeds``: in each seed's run folder, which counts too), and
    (``report``) ``report/`` and ``report/tb``."""
    folders = []
    roots = [study_dir] if seeds is None else [seed_dir(study_dir, k) for k in seeds]
    if seeds is not None:
        folders += roots
    for root in roots:
        for regime in regimes:
            folders += [regime_dir(root, regime), tb_dir(root, regime), checkpoint_path(root, regime).parent,
                        interactions_dir(root, regime)]
    if report:
        folders += [study_dir / "report", study_dir / "report" / "tb"]
    return [f for f in folders if f.is_dir()]


def check_study_folders(study_dir: Path, regimes: Sequence[str], report: bool,
                        seeds: Optional[Sequence[int]] = None) -> None:
    """Fail before any work (``ConfigError`` naming the folder and the errno) when a folder the study will
    write into cannot be written: a read-only regime or report folder would otherwise fail hours later."""
    for folder in [study_dir, *study_folders(study_dir, regimes, report, seeds)]:
        try:
            probe_writable(folder)
        except OSError as err:
            raise ConfigError(
                f"{folder} is not writable ({errno_name(err)}), and the study writes into it; make it writable for "
                f"this user (chmod -R u+w {study_dir}) or set study_dir to another folder"
            ) from None



#: the temporary files of :func:`harsanyi_lightning.interactions.artifacts.atomic_write_bytes` (``.<name>.<random>.tmp``)
#: and of its write probe
TEMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def remove_stale_temp_files(study_dir: Path, regimes: Sequence[str], seeds: Optional[Sequence[int]] = None) -> list[Path]:
    """Delete the temporary files (``.<name>.<random>.tmp``) that an atomic write killed before its rename
    left behind in ``study_dir`` and the folders the study writes (never elsewhere); they are never
    artifacts (only a renamed file is). Return them."""
    stale = []
    for folder in [study_dir, *study_folders(study_dir, regimes, True, seeds)]:
        stale += [p for p in folder.iterdir() if TEMP_FILE.match(p.name) and p.is_file()]
    for p in stale:
        say(f"removing {p}, left half-written by an interrupted run")
        p.unlink()
    return stale
