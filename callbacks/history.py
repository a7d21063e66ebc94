"""Resolving a run's references and its history of evaluated epochs (docs/callback.md).

References are the earlier regimes' final interactions (``references.pretrain``: the probe's,
``references.finetune``: the finetune run's), checked to come from the same annotation, architecture
and data set. The history is ``{epoch: {"path", "sha256"}}`` of the evaluated epochs, part of the
callback's checkpoint state and re-verified after a resume. File names and JSON writing are
:mod:`harsanyi_lightning.callbacks.artifact_layout`'s.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harsanyi_lightning.interactions.artifacts import errno_name, load_artifact, probe_writable
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError

from .artifact_layout import (
    FINAL_POINTER,
    JACCARD_FILE,
    KIND,
    reference_exists,
    resolve_interactions_file,
    write_json,
)
from .knowledge_logging import jaccard_curve
from .lightning_compat import rank_zero_warn
from .options import REFERENCE_ROLES

if TYPE_CHECKING:
    from .options import RunOptions


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


def load_references(run: RunOptions, *, annotation_hash: str, model: str | None,
                    dataset: str | None) -> dict[str, torch.Tensor]:
    """The dividends of each reference of ``run`` (float64), checked; with ``missing_references="warn"``
    an absent one is skipped with a warning (and a finetune reference without its pretrain one too)."""
    refs = {}
    for role in REFERENCE_ROLES:
        if role not in run.references:
            continue
        path = run.references[role]
        if run.missing_references == "warn" and not reference_exists(path):
            rank_zero_warn(
                f"InteractionCallback: the {role} reference {path} does not exist yet, so this "
                f"run logs no knowledge/* curves that need it; produce it first (e.g. fit the {role_regime(role)} "
                "config) and fit again"
            )
            if role == "pretrain":
                break  # a finetune reference alone is useless
            continue
        content, _ = load_reference(role, path, annotation_hash=annotation_hash, model=model, dataset=dataset)
        refs[role] = content["dividends"].to(torch.float64)
    return refs


def check_restored_annotation(restored_hash: str | None, annotation_hash: str) -> None:
    """After a resume: the checkpoint's history must come from this run's annotation (:class:`AnnotationError`)."""
    if restored_hash is not None and restored_hash != annotation_hash:
        raise AnnotationError(
            f"the checkpoint's interaction history was computed on another annotation (hash "
            f"{restored_hash[:12]}, this run uses {annotation_hash[:12]}); resume with the same "
            "sample_set or fit without the checkpoint"
        )


def verify_history(history: dict[int, dict[str, str]], annotation_hash: str) -> None:
    """Every history entry's file exists, matches its hash and comes from this annotation (:class:`AnnotationError`)."""
    for epoch, entry in sorted(history.items()):
        verify_history_entry(epoch, entry, annotation_hash)


def history_dividends(history: dict[int, dict[str, str]]) -> tuple[dict[int, torch.Tensor], dict[int, int]]:
    """``({epoch: dividends}, {epoch: logging step})`` of every history entry, each file hash-checked."""
    dividends, steps = {}, {}
    for epoch, entry in sorted(history.items()):
        content, digest = load_interactions(entry["path"])
        if digest != entry["sha256"]:
            raise AnnotationError(f"{entry['path']} (epoch {epoch}) changed while training; it is not this run's")
        dividends[epoch] = content["dividends"]
        # artifacts written before log_step was recorded: the epoch-end step of their global_step
        steps[epoch] = int(content.get("log_step", 0 if epoch == 0 else max(int(content["global_step"]) - 1, 0)))
    return dividends, steps


def write_final_files(folder: Path, history: dict[int, dict[str, str]],
                      dividends: dict[int, torch.Tensor]) -> tuple[list[int], list[float]]:
    """Write ``jaccard.json`` (eq. 9: every epoch's Jaccard similarity to the final one) and the ``final.json``
    pointer in ``folder``; return ``(epochs, jaccard)``."""
    epochs, jaccard, final = jaccard_curve(dividends)
    write_json(folder / JACCARD_FILE, {"epochs": epochs, "jaccard": jaccard, "final_epoch": final})
    final_entry = history[final]
    write_json(folder / FINAL_POINTER, {
        "epoch": final, "file": os.path.relpath(final_entry["path"], folder), "sha256": final_entry["sha256"],
    })
    return epochs, jaccard


__all__ = [
    "check_restored_annotation",
    "check_writable",
    "history_dividends",
    "load_interactions",
    "load_reference",
    "load_references",
    "role_regime",
    "verify_history",
    "verify_history_entry",
    "write_final_files",
]
