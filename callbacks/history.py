"""Resolving a run's references and its history of evaluated epochs (docs/callback.md).

References are the earlier regimes' final interactions (``references.pretrain``: the probe's,
``references.finetune``: the finetune run's), checked to come from the same annotation, architecture
and data set. The history is ``{global step: {"path", "sha256", "epoch", "epoch_fraction"}}`` of the
evaluations so far (docs/callback.md#evaluations-inside-an-epoch), part of the callback's checkpoint state
and re-verified after a resume; a checkpoint written before evaluations inside an epoch existed holds
``{epoch: {"path", "sha256"}}`` and is converted by :func:`upgrade_history`. File names and JSON writing are
:mod:`harsanyi_lightning.callbacks.artifact_layout`'s.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harsanyi_lightning.interactions.artifacts import errno_name, load_artifact, probe_writable
from harsanyi_lightning.interactions.sparse_slots import artifact_parts
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
    role: str, path: str | os.PathLike, *, annotation_hash: str, model: str | None, dataset: str | None,
    estimator: str = "exact",
) -> tuple[dict[str, Any], Path]:
    """Load the ``role`` reference (``"pretrain"`` / ``"finetune"``) and check that it was computed on
    the same annotation (:class:`AnnotationError`), the same architecture and data set (:class:`ConfigError`),
    and that a run with the exact ``estimator`` is not given sparse estimates (a sparse run takes either kind:
    docs/callback.md#sparse-estimates)."""
    file = resolve_interactions_file(path)
    content, _ = load_interactions(file)
    if estimator == "exact" and content.get("estimator", "exact") != "exact":
        raise ConfigError(f"references.{role} = {file} holds sparse estimates, and this run computes exact dividends "
                          "(estimator='exact'), whose knowledge metrics read every dividend of the reference: give "
                          "this run estimator='sparse' too, or use the exact dividends of that regime")
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


def verify_history_entry(key: int, entry: dict[str, Any], annotation_hash: str, *, what: str = "step") -> dict[str, Any]:
    """Re-load a history entry's artifact and check its file hash and annotation; return its content.
    ``key``: the entry's global step (``what="step"``), or its epoch in a history of old checkpoints."""
    path = Path(entry["path"])
    if not path.is_file():
        raise AnnotationError(
            f"the checkpoint's interaction history lists the evaluation at {what} {key} at {path}, which no longer "
            "exists; restore the run's interactions folder or fit without the checkpoint"
        )
    content, digest = load_interactions(path)
    if digest != entry["sha256"]:
        raise AnnotationError(
            f"{path} ({what} {key}) changed since the checkpoint was written (hash {digest[:12]}, expected "
            f"{entry['sha256'][:12]}); restore the original file or fit without the checkpoint"
        )
    if content.get("annotation_hash") != annotation_hash:
        raise AnnotationError(f"{path} ({what} {key}) was computed on another annotation than this run's")
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


def load_references(run: RunOptions, *, annotation_hash: str, model: str | None, dataset: str | None,
                    estimator: str = "exact") -> dict[str, Any]:
    """The dividends of each reference of ``run``, checked: ``dividends[sample, mask]`` (float64), or with
    ``estimator="sparse"`` the ``(masks[i], dividends[i])`` per sample of
    :func:`~harsanyi_lightning.interactions.sparse_slots.artifact_parts` (sparse or exact references alike). With
    ``missing_references="warn"`` an absent one is skipped with a warning (and a finetune reference without its
    pretrain one too)."""
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
        content, _ = load_reference(role, path, annotation_hash=annotation_hash, model=model, dataset=dataset,
                                    estimator=estimator)
        refs[role] = artifact_parts(content) if estimator == "sparse" else content["dividends"].to(torch.float64)
    return refs


def check_restored_annotation(restored_hash: str | None, annotation_hash: str) -> None:
    """After a resume: the checkpoint's history must come from this run's annotation (:class:`AnnotationError`)."""
    if restored_hash is not None and restored_hash != annotation_hash:
        raise AnnotationError(
            f"the checkpoint's interaction history was computed on another annotation (hash "
            f"{restored_hash[:12]}, this run uses {annotation_hash[:12]}); resume with the same "
            "sample_set or fit without the checkpoint"
        )


def verify_history(history: dict[int, dict[str, Any]], annotation_hash: str) -> None:
    """Every history entry's file exists, matches its hash and comes from this annotation (:class:`AnnotationError`)."""
    for step, entry in sorted(history.items()):
        verify_history_entry(step, entry, annotation_hash)


def upgrade_history(by_epoch: dict[int, dict[str, Any]], annotation_hash: str) -> dict[int, dict[str, Any]]:
    """The history of a checkpoint written before evaluations inside an epoch (``{epoch: {"path", "sha256"}}``),
    verified like :func:`verify_history` and keyed by the ``global_step`` each artifact records."""
    history = {}
    for epoch, entry in sorted(by_epoch.items()):
        content = verify_history_entry(epoch, entry, annotation_hash, what="epoch")
        history[int(content["global_step"])] = {"path": str(entry["path"]), "sha256": entry["sha256"],
                                                "epoch": int(epoch), "epoch_fraction": float(epoch)}
    return history


def restored_history(trainer: Any, history: dict[int, dict[str, Any]], legacy: dict[int, dict[str, Any]],
                     annotation_hash: str) -> dict[int, dict[str, Any]]:
    """A resumed fit's history, once: rank zero verifies the checkpoint's entries (:func:`verify_history`) and
    converts an older checkpoint's epoch-keyed ones (:func:`upgrade_history`); every rank gets the verdict
    (:class:`AnnotationError`) and the history through ``trainer.strategy.broadcast``."""
    error, upgraded = None, {}
    if trainer.is_global_zero:
        try:
            verify_history(history, annotation_hash)
            upgraded = upgrade_history(legacy, annotation_hash) if legacy else {}
        except AnnotationError as err:
            error = str(err)
    error, upgraded = trainer.strategy.broadcast((error, upgraded), src=0)
    if error:
        raise AnnotationError(error)
    return {**history, **upgraded}


def history_dividends(history: dict[int, dict[str, Any]]) -> tuple[dict[int, torch.Tensor], dict[int, int]]:
    """``({global step: dividends}, {global step: logging step})`` of every history entry, each file hash-checked."""
    dividends, steps = {}, {}
    for step, entry in sorted(history.items()):
        content, digest = load_interactions(entry["path"])
        if digest != entry["sha256"]:
            raise AnnotationError(f"{entry['path']} (step {step}) changed while training; it is not this run's")
        dividends[step] = content["dividends"]
        # artifacts written before log_step was recorded: the epoch-end step of their global_step
        steps[step] = int(content.get("log_step", max(int(content["global_step"]) - 1, 0)))
    return dividends, steps


def write_final_files(folder: Path, history: dict[int, dict[str, Any]],
                      dividends: dict[int, torch.Tensor]) -> tuple[list[int], list[float]]:
    """Write ``jaccard.json`` (eq. 9: every evaluation's Jaccard similarity to the final one, in global-step
    order) and the ``final.json`` pointer in ``folder``; return ``(global steps, jaccard)``."""
    steps, jaccard, final = jaccard_curve(dividends)
    write_curve_files(folder, history, steps, jaccard, final)
    return steps, jaccard


def write_curve_files(folder: Path, history: dict[int, dict[str, Any]], steps: list[int], jaccard: list[float],
                      final: int) -> None:
    """Write ``jaccard.json`` (``jaccard[k]``: the evaluation at global step ``steps[k]`` against the one at
    ``final``) and the ``final.json`` pointer in ``folder``."""
    entries = [history[s] for s in steps]
    write_json(folder / JACCARD_FILE, {
        "epochs": [int(e["epoch"]) for e in entries], "jaccard": jaccard, "final_epoch": int(history[final]["epoch"]),
        "steps": steps, "epoch_fractions": [float(e["epoch_fraction"]) for e in entries], "final_step": final,
    })
    final_entry = history[final]
    write_json(folder / FINAL_POINTER, {
        "epoch": int(final_entry["epoch"]), "step": final, "file": os.path.relpath(final_entry["path"], folder),
        "sha256": final_entry["sha256"],
    })


__all__ = [
    "check_restored_annotation",
    "check_writable",
    "history_dividends",
    "load_interactions",
    "load_reference",
    "load_references",
    "restored_history",
    "write_curve_files",
    "role_regime",
    "upgrade_history",
    "verify_history",
    "verify_history_entry",
    "write_final_files",
]
