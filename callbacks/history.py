"""Interaction artifacts on disk: one file per evaluated epoch, references, the final pointer.

Layout of an interactions folder (``<log_dir>/interactions`` by default)::

    annotation.pt        the annotated sample set (SPEC section 2), hash-checked
    epoch_000.pt ...     one evaluation each: values[sample, mask], dividends[sample, mask] (float64), ...
    final.json           {"epoch": E, "file": "epoch_E.pt", "sha256": ...}: the run's final evaluation
    jaccard.json         {"epochs": [...], "jaccard": [...], "final_epoch": E}

Every file is written atomically; ``epoch_XXX.pt`` files are artifacts of kind
``"interactions"`` (see :mod:`harsanyi_lightning.interactions.artifacts`).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes, errno_name, load_artifact, probe_writable
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError

KIND = "interactions"
EPOCH_FILE = re.compile(r"^epoch_(\d{3,})\.pt$")
FINAL_POINTER = "final.json"
JACCARD_FILE = "jaccard.json"
ANNOTATION_FILE = "annotation.pt"


def epoch_path(output_dir: str | os.PathLike, epoch: int) -> Path:
    """``<output_dir>/epoch_{epoch:03d}.pt``."""
    return Path(output_dir) / f"epoch_{epoch:03d}.pt"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def resolve_interactions_file(path: str | os.PathLike) -> Path:
    """An epoch artifact file as given, or the final epoch of an interactions folder:
    the file named by its ``final.json`` pointer, else its highest ``epoch_XXX.pt``."""
    path = Path(path)
    if path.is_dir():
        pointer = path / FINAL_POINTER
        if pointer.is_file():
            try:
                return path / json.loads(pointer.read_text())["file"]
            except (ValueError, KeyError, TypeError):
                raise AnnotationError(f"{pointer} is corrupt; delete it (the highest epoch_XXX.pt is then used)") from None
        epochs = sorted((int(m.group(1)), p) for p in path.iterdir() if (m := EPOCH_FILE.match(p.name)))
        if not epochs:
            raise AnnotationError(
                f"interactions folder {path} holds no epoch_XXX.pt file; point the reference at a finished run's "
                "interactions folder or at one of its epoch files"
            )
        return epochs[-1][1]
    if not path.exists():
        raise AnnotationError(
            f"interactions reference {path} does not exist; run the reference stage first (e.g. the probe run) "
            "and pass its interactions folder or an epoch_XXX.pt file"
        )
    return path


def reference_exists(path: str | os.PathLike) -> bool:
    """Whether a reference path names something to load: a file, or a folder with ``final.json``
    or at least one ``epoch_XXX.pt``."""
    path = Path(path)
    if path.is_dir():
        return (path / FINAL_POINTER).is_file() or any(EPOCH_FILE.match(p.name) for p in path.iterdir())
    return path.exists()


def role_regime(role: str) -> str:
    """The regime whose run produces a reference role (pretrain -> probe, finetune -> finetune)."""
    return {"pretrain": "probe"}.get(role, role)


def load_interactions(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """Load and hash-check one epoch artifact; ``(content, sha256)``."""
    return load_artifact(path, KIND)


def load_reference(
    role: str, path: str | os.PathLike, *, annotation_hash: str, model: str | None, dataset: str | None
) -> tuple[dict[str, Any], Path]:
    """Load the ``role`` reference (``"pretrain"`` / ``"finetune"``) and check that it was computed on
    the same annotation (:class:`AnnotationError`), the same architecture and data set (:class:`ConfigError`)."""
    file = resolve_interactions_file(path)
    content, _ = load_interactions(file)
    ref_hash = content.get("annotation_hash")
    if ref_hash != annotation_hash:
        raise AnnotationError(
            f"references.{role} = {file} was computed on another annotation (hash {str(ref_hash)[:12]}, this run "
            f"uses {annotation_hash[:12]}); interactions are only comparable on the same sample set. Rerun the "
            f"{role} stage with this run's annotation file (sample_set=...), or give this run the reference's one"
        )
    for key, mine in (("model", model), ("dataset", dataset)):
        theirs = content.get(key)
        if mine is not None and theirs is not None and theirs != mine:
            raise ConfigError(
                f"references.{role} = {file} comes from {key} {theirs!r} but this run uses {key} {mine!r}; "
                f"a {role} reference must come from the same architecture and data set"
            )
    return content, file


def verify_history_entry(epoch: int, entry: dict[str, Any], annotation_hash: str) -> dict[str, Any]:
    """Re-load a history entry's artifact and check its file hash and annotation; return its content."""
    path = Path(entry["path"])
    if not path.is_file():
        raise AnnotationError(
            f"the checkpoint's interaction history lists epoch {epoch} at {path}, which no longer exists; "
            "restore the run's interactions folder or fit without the checkpoint"
        )
    content, digest = load_interactions(path)
    if digest != entry["sha256"]:
        raise AnnotationError(
            f"{path} (epoch {epoch}) changed since the checkpoint was written (hash {digest[:12]}, expected "
            f"{entry['sha256'][:12]}); restore the original file or fit without the checkpoint"
        )
    if content.get("annotation_hash") != annotation_hash:
        raise AnnotationError(f"{path} (epoch {epoch}) was computed on another annotation than this run's")
    return content


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` and check a file can be written in it (clear error before training)."""
    folder = Path(folder)
    try:
        probe_writable(folder)
    except OSError as err:
        raise ConfigError(
            f"output_dir {folder} is not writable ({errno_name(err)}); pass output_dir=<a writable folder>"
        ) from None
    except ValueError as err:  # e.g. a NUL character in the path
        raise ConfigError(f"output_dir {folder!r} is not a valid path ({err}); pass output_dir=<a folder>") from None
    return folder
