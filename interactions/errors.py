"""The few exception types the project raises on user input.

Every error a user can cause is one of these, and so is every failure of the run's surroundings that
the project recognises (a full disk, a folder in use, a dead worker or rank). Each subclasses a built-in
type (``ValueError``; ``RuntimeError`` for ``OfflineError``, ``FolderInUseError`` and ``WorkerError``;
``OSError`` for ``StorageError``) so generic handlers keep working, and each message names the
offending input (or file, folder, process) and the fix.
"""
from __future__ import annotations


class HarsanyiError(Exception):
    """Base class of every error harsanyi-lightning raises on user input."""


class ConfigError(HarsanyiError, ValueError):
    """A bad argument or configuration value (``n`` too large, unknown backbone, ...)."""


class DataError(HarsanyiError, ValueError):
    """Bad input data: a malformed file or line, an image that cannot be decoded, a wrong shape."""


class AnnotationError(HarsanyiError, ValueError):
    """An annotation or interaction artifact that is corrupt, or was computed on another annotation."""


class NumericsError(HarsanyiError, ValueError):
    """A model output that is NaN or infinite for some masked input."""


class OfflineError(HarsanyiError, RuntimeError):
    """Something needs a download and the machine is offline."""


class StorageError(HarsanyiError, OSError):
    """A file could not be written, or a folder is not writable (disk full, I/O error, permission denied,
    read-only file system). An ``OSError`` too: ``errno`` and ``filename`` name the failure and the file;
    the message says what was kept and what to do."""

    def __init__(self, message: str, errno: int | None = None, filename: str | None = None) -> None:
        super().__init__(errno, message, filename)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # picklable (DataLoader workers, DDP), with the same three arguments
        return type(self), (self.message, self.errno, self.filename)


class FolderInUseError(HarsanyiError, RuntimeError):
    """Another process is writing into the folder (it holds the folder's lock)."""


class WorkerError(HarsanyiError, RuntimeError):
    """A helper process of the run died: a DataLoader worker or another DDP rank."""


__all__ = [
    "HarsanyiError",
    "ConfigError",
    "DataError",
    "AnnotationError",
    "NumericsError",
    "OfflineError",
    "StorageError",
    "FolderInUseError",
    "WorkerError",
]
