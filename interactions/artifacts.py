"""Content-hashed, atomically written artifacts (annotation files, interaction epochs).

A file holds ``{"format": ..., "sha256": ..., "content": {...}}``. The hash
covers every tensor (dtype, shape, bytes) and every other value of the content,
so a truncated or edited file is detected on load. Files are written to a
temporary name in the same folder, flushed to disk, then renamed: a crash
leaves either the old file or the new one, never half of one. A file gets the
permissions ``open()`` would give it (``0o666`` less the process's umask: ``-rw-r--r--``
under the usual umask 0022), so collaborators and a TensorBoard server run by
another user can read the results (docs/troubleshooting.md). A write that
fails (disk full, I/O error, permission denied, read-only file system) removes
its temporary file and raises :class:`~harsanyi_lightning.interactions.errors.StorageError` naming
the file and the errno; the file it would have replaced is untouched.
"""
from __future__ import annotations

import contextlib
import errno as _errno
import hashlib
import io
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from .errors import AnnotationError, StorageError

FORMAT_VERSION = 1

#: what to do about the errnos a write fails with most often
_WRITE_FIXES = {
    _errno.ENOSPC: "the disk is full: free space there (or move the folder to a disk with room)",
    _errno.EDQUOT: "the disk quota is used up: free space there (or move the folder)",
    _errno.EIO: "the storage reported an I/O error: check the disk or the network file system",
    _errno.EACCES: "permission denied: make the folder writable for this user (chmod u+w) or use another folder",
    _errno.EPERM: "operation not permitted: make the folder writable for this user or use another folder",
    _errno.EROFS: "the file system is read-only: use a folder on a writable file system",
}


def errno_name(err: OSError) -> str:
    """``"ENOSPC (No space left on device)"`` for an ``OSError`` (its number when it has no name)."""
    if err.errno is None:
        return f"{type(err).__name__} ({err})"
    return f"{_errno.errorcode.get(err.errno, f'errno {err.errno}')} ({os.strerror(err.errno)})"


def write_error(path: str | os.PathLike, err: OSError, *, ours: bool = True) -> StorageError:
    """The :class:`StorageError` for a failed write of ``path``: the file, the errno and the fix.
    ``ours=False``: the failure came from another library's file access (it may have been a read)."""
    if isinstance(err, StorageError):
        return err
    fix = _WRITE_FIXES.get(err.errno, "fix the storage problem")
    if not ours:
        return StorageError(
            f"a file operation on {path} failed: {errno_name(err)}; {fix}. Then run the same command again "
            "(a run that saves checkpoints resumes from its last one)", err.errno, str(path),
        )
    return StorageError(
        f"could not write {path}: {errno_name(err)}; {fix}. Every file written before is intact (files are "
        "written under a temporary name, then renamed); run the same command again once this is fixed",
        err.errno, str(path),
    )


def _feed(h: "hashlib._Hash", key: str, value: Any) -> None:
    h.update(key.encode())
    if isinstance(value, Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"tensor:{t.dtype}:{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    elif isinstance(value, Mapping):
        h.update(b"{")
        for k in sorted(value):
            _feed(h, f"{key}.{k}", value[k])
        h.update(b"}")
    elif isinstance(value, (list, tuple)) and any(isinstance(v, (Tensor, Mapping)) for v in value):
        h.update(f"list:{len(value)}".encode())
        for i, v in enumerate(value):
            _feed(h, f"{key}[{i}]", v)
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 hex digest of a content mapping (tensors by dtype, shape and bytes)."""
    h = hashlib.sha256()
    _feed(h, "", content)
    return h.hexdigest()


#: the characters of a temporary file's random part (``tempfile``'s own)
_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _create_temp_file(folder: Path, name: str) -> tuple[int, str]:
    """Create ``<folder>/.<name>.<8 random characters>.tmp`` for writing; return ``(fd, path)``.

    Unlike ``tempfile.mkstemp`` (mode ``0o600``, owner only), the file is created with mode ``0o666`` and
    the kernel takes the umask off (and applies a folder's default ACL), exactly as for ``open(path, "w")``:
    the renamed file ends up with the permissions any other file the user writes there gets. Nothing reads
    or changes the process's umask, so another thread creating a file meanwhile is not affected."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(tempfile.TMP_MAX):
        tmp = str(folder / f".{name}.{''.join(secrets.choice(_TEMP_CHARS) for _ in range(8))}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(_errno.EEXIST, "no unused temporary file name", str(folder / f".{name}.*.tmp"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``. The file gets the mode ``open()``
    would give it (``0o666`` less the umask; see :func:`_create_temp_file`).

    Raises :class:`StorageError` (an ``OSError`` with the errno) naming ``path`` when the write fails;
    the temporary file is removed and an existing ``path`` is left as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp_file(path.parent, path.name)
    except OSError as err:
        raise write_error(path, err) from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            if os.path.exists(tmp):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise write_error(path, err) from err
        raise
    return path


def probe_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) and write and remove a small temporary file in it, so a folder
    that cannot be written fails here, before any work, with the ``OSError`` the OS gives."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".write_test.", suffix=".tmp", dir=folder)
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.unlink(tmp)
    return folder


def save_artifact(path: str | os.PathLike, kind: str, content: Mapping[str, Any]) -> str:
    """Save ``content`` (tensors and JSON-able values) atomically with its hash; return the hash."""
    digest = content_hash(content)
    buf = io.BytesIO()
    torch.save({"format": f"harsanyi-lightning/{kind}/v{FORMAT_VERSION}", "sha256": digest, "content": dict(content)}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return digest


def load_artifact(path: str | os.PathLike, kind: str) -> tuple[dict[str, Any], str]:
    """Load and verify an artifact written by :func:`save_artifact`; return ``(content, sha256)``.

    Raises :class:`AnnotationError` naming the file when it is missing, unreadable,
    of another kind, or fails its hash check (corrupt).
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{kind} file {path} does not exist; check the path (or rerun what writes it)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, garbage, or not a torch file at all
        raise AnnotationError(
            f"{kind} file {path} is corrupt (cannot be read: {type(err).__name__}); delete it and rerun what writes it"
        ) from None
    expected = f"harsanyi-lightning/{kind}/v{FORMAT_VERSION}"
    if not isinstance(blob, dict) or blob.get("format") != expected or not isinstance(blob.get("content"), dict):
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise AnnotationError(f"{path} is not a {kind} file (format {found!r}, expected {expected!r})")
    content = blob["content"]
    digest = content_hash(content)
    if digest != blob.get("sha256"):
        raise AnnotationError(
            f"{kind} file {path} is corrupt: its content hash {digest[:12]} does not match the stored "
            f"{str(blob.get('sha256'))[:12]}; delete it and rerun what writes it"
        )
    return content, digest


__all__ = [
    "FORMAT_VERSION",
    "atomic_write_bytes",
    "content_hash",
    "errno_name",
    "load_artifact",
    "probe_writable",
    "save_artifact",
    "write_error",
]
