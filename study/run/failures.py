"""Failures of a run's surroundings that ``cli.py`` reports as one clear message instead of a traceback.

The project's own code raises its error types itself (a failed artifact or checkpoint write is a
:class:`~harsanyi_lightning.interactions.errors.StorageError` already). What reaches the command line from inside torch or
Lightning is recognised here by :func:`project_error`:

- an ``OSError`` of a file access (disk full, I/O error, permission denied, read-only) -> ``StorageError``
  naming the file (when the OS names it) and the errno;
- a DataLoader worker process that died (torch notices within seconds and raises) -> ``WorkerError``;
- another DDP rank that died (the collective this rank waits in fails, or times out) -> ``WorkerError``;
  during a study, :func:`regime_failure` names the regime and says that rerunning the command resumes it.

An error raised inside a study's regime names the setting to fix in the words of ``cli.py fit``
(``--data.init_args.data_dir``); :func:`in_study_terms` renames it to the study's own setting that reaches every
regime (``--shared.data.init_args.data_dir``), so the fix it gives works in the command that failed.
"""
from __future__ import annotations

import errno as _errno
import re

from harsanyi_lightning.interactions.artifacts import write_error
from harsanyi_lightning.interactions.errors import (
    AnnotationError,
    ConfigError,
    DataError,
    HarsanyiError,
    NumericsError,
    OfflineError,
    WorkerError,
)

#: errnos of a failed write
STORAGE_ERRNOS = frozenset({_errno.ENOSPC, _errno.EDQUOT, _errno.EIO, _errno.EACCES, _errno.EPERM, _errno.EROFS})

_WORKER = re.compile(r"DataLoader worker \(pids?\(?s?\)? ?[^)]*\)[^\n]*")
#: what gloo / NCCL / the TCP store say when the peer process is gone, or a collective waited too long
_PEER = re.compile(
    r"(Connection closed by peer|Connection reset by peer|Broken pipe|[Tt]imed out|timeout|"
    r"Socket Timeout|failed to recv|ProcessGroupGloo|NCCL communicator was aborted)"
)


def exception_chain(err: BaseException):
    """``err`` and the exceptions it was raised from (``__cause__``, else ``__context__``), each once."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _distributed(err: BaseException) -> bool:
    name = type(err).__name__
    return name.startswith("Dist") or "gloo" in str(err).lower() or "nccl" in str(err).lower()


def project_error(err: BaseException) -> HarsanyiError | None:
    """The project error that ``err`` (or an exception it was raised from) stands for, if it is one of
    the recognised failures above; else ``None`` (a bug: keep the traceback)."""
    for e in exception_chain(err):
        if isinstance(e, HarsanyiError):
            return e
        if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
            return write_error(e.filename or "a file (the OS did not say which)", e, ours=False)
        if isinstance(e, RuntimeError):
            text = str(e)
            worker = _WORKER.search(text)
            if worker is not None:
                return WorkerError(
                    f"a DataLoader worker process died ({worker.group(0).strip()}): most often the out-of-memory "
                    "killer (see `dmesg`), else a crash in the data set's code. Run the same command again (a study "
                    "resumes from its last checkpoint; `fit` resumes with --ckpt_path last); if it happens again, "
                    "lower data.init_args.num_workers or the batch size"
                )
            peer = _peer_failure(e)
            if peer is not None:
                return WorkerError(
                    f"another DDP process of this run died or stopped answering ({peer}), so this one stopped too. "
                    "Run the same command again (a study resumes from its last checkpoint; `fit` resumes with "
                    "--ckpt_path last); the dead rank's own output says why it died"
                )
    return None


def _peer_failure(err: BaseException) -> str | None:
    """What a collective said when another rank died or stopped answering (``None``: something else)."""
    if isinstance(err, RuntimeError) and _distributed(err):
        found = _PEER.search(str(err))
        if found is not None:
            return f"{found.group(0)} in {type(err).__name__}"
    return None


def regime_failure(err: BaseException, regime: str) -> WorkerError | None:
    """A :class:`WorkerError` naming study regime ``regime`` when ``err`` (or an exception it was raised from)
    says another DDP rank died or stopped answering during it; ``None`` otherwise (docs/study.md#many-devices-and-machines)."""
    for e in exception_chain(err):
        peer = _peer_failure(e)
        if peer is not None:
            return WorkerError(
                f"regime {regime} stopped: another DDP process of this study died or stopped answering ({peer}), so "
                "this one stopped too. Rerun the same command to resume the study (finished regimes are kept, the "
                "interrupted one resumes from its last checkpoint); the dead rank's own output says why it died"
            )
    return None


#: a regime's LightningCLI setting in a message: ``--data.init_args.data_dir``, ``model.init_args.backbone=...``,
#: ``trainer.max_epochs``; not inside a longer name (``shared.data...``, ``configs/data.yaml``)
_REGIME_SETTING = re.compile(r"(?<![\w./-])(--)?((?:data|model)\.(?:init_args|class_path)\b|trainer\.[a-z_]+)")
#: the error types whose message alone makes the error (a StorageError also carries errno and file)
_RENAMEABLE = (ConfigError, DataError, AnnotationError, NumericsError, OfflineError, WorkerError)


def in_study_terms(err: BaseException) -> HarsanyiError | None:
    """The project error behind ``err`` (raised inside one of a study's regimes) with every regime setting it
    names given as the study's setting that sets it for every regime: ``--data.init_args.data_dir`` becomes
    ``--shared.data.init_args.data_dir`` (docs/study.md#command-line-overrides), ``model.init_args.backbone=``
    becomes ``shared.model.init_args.backbone=``, a dead DataLoader worker's ``data.init_args.num_workers``
    ``shared.data.init_args.num_workers``. ``None`` when ``err`` is no such error or names no setting."""
    found = project_error(err)  # the project's own error, or the one a failure of the surroundings stands for
    if not isinstance(found, _RENAMEABLE) or len(found.args) != 1 or not isinstance(found.args[0], str):
        return None
    text, count = _REGIME_SETTING.subn(lambda m: f"{m.group(1) or ''}shared.{m.group(2)}", found.args[0])
    return type(found)(text) if count else None


__all__ = ["STORAGE_ERRNOS", "exception_chain", "in_study_terms", "project_error", "regime_failure"]
