"""Test-only fault injection, active in a subprocess whose PYTHONPATH starts with this folder.

With ``HARSANYI_KILL_WRITE=<path suffix>`` and ``HARSANYI_KILL_MARKER=<file>`` (absent), the first
atomic write of a file whose path ends with the suffix writes part of the data to the temporary
file that :func:`harsanyi_lightning.interactions.artifacts.atomic_write_bytes` uses (``.<name>.<random>.tmp`` in the
same folder) and then SIGKILLs the process before the rename, as a kill during a write would.
Every other write, and every write once the marker exists, goes through unchanged.
"""
import os

_suffix = os.environ.get("HARSANYI_KILL_WRITE")
_marker = os.environ.get("HARSANYI_KILL_MARKER")

if _suffix and _marker and not os.path.exists(_marker):
    import signal
    import tempfile
    from pathlib import Path

    import harsanyi_lightning.interactions.artifacts as _artifacts

    _real = _artifacts.atomic_write_bytes

    def atomic_write_bytes(path, data):
        path = Path(path)
        if not str(path).endswith(_suffix) or os.path.exists(_marker):
            return _real(path, data)
        Path(_marker).write_text(f"killed while writing {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, _tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        os.kill(os.getpid(), signal.SIGKILL)

    _artifacts.atomic_write_bytes = atomic_write_bytes
