"""Resolving a run's references and its history of evaluations (docs/callback.md).

References are the earlier regimes' final interactions (``references.pretrain``: the probe's,
``references.finetune``: the finetune run's), checked to come from the same annotation, architecture and data set,
and read back as :class:`~harsanyi_lightning.interactions.estimates.InteractionEstimate` s. The history is
``{global step: {"path", "sha256", "epoch", "epoch_fraction"}}`` of the evaluations so far
(docs/callback.md#evaluations-inside-an-epoch), part of the recorder's state (a checkpoint's) and re-verified after
a resume. File names and JSON writing are :mod:`harsanyi_lightning.callbacks.artifact_layout`'s.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harsanyi_lightning.interactions.artifacts import errno_name, load_artifact, probe_writable
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError
from harsanyi_lightning.interactions.estimates import jaccard_to_final
from harsanyi_lightning.interactions.estimators import estimate_from_record

from .artifact_layout import FINAL_POINTER, JACCARD_FILE, KIND, reference_exists, resolve_interactions_file, write_json
from .lightning_compat import rank_zero_warn
from .options import REFERENCE_ROLES

if TYPE_CHECKING:
    from harsanyi_lightning.interactions.estimates import InteractionEstimate

    from .options import RunOptions
    from .training_loop import TrainingLoop


def role_regime(role: str) -> str:
    """The regime kind whose run produces a reference role (pretrain -> probe, finetune -> finetune)."""
    return {"pretrain": "probe"}.get(role, role)


def load_interactions(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """Load and hash-check one evaluation artifact; ``(content, sha256)``."""
    return load_artifact(path, KIND)


def load_reference(
    role: str, path: str | os.PathLike, *, annotation_hash: str, model: str | None, dataset: str | None,
    estimated: bool = False,
) -> tuple[InteractionEstimate, Path]:
    """Load the ``role`` reference (``"pretrain"`` / ``"finetune"``) and check that it was computed on
    the same annotation (:class:`AnnotationError`), the same architecture and data set (:class:`ConfigError`),
    and that a run of exact dividends (not ``estimated``) is not given estimates (a run of estimates takes either
    kind: docs/callback.md#sparse-estimates)."""
    file = resolve_interactions_file(path)
    content, _ = load_interactions(file)
    reference = estimate_from_record(content)
    if reference.estimated and not estimated:
        raise ConfigError(f"references.{role} = {file} holds {reference.estimator} estimates, and this run computes "
                          "exact dividends, whose knowledge metrics read every dividend of the reference: give this "
                          "run estimator='sparse' too, or use the exact dividends of that regime")
    ref_hash = content.get("annotation_hash")
    if ref_hash != annotation_hash:
        raise AnnotationError(
            f"references.{role} = {file} was computed on another annotation (hash {str(ref_hash)[:12]}, this run "
            f"uses {annotation_hash[:12]}); interactions are only comparable on the same sample set. Rerun the "
            f"{role} regime with this run's annotation file (sample_set=...), or give this run the reference's one"
        )
    for key, mine in (("model", model), ("dataset", dataset)):
        theirs = content.get(key)
        if mine is not None and theirs is not None and theirs != mine:
            raise ConfigError(
                f"references.{role} = {file} comes from {key} {theirs!r} but this run uses {key} {mine!r}; "
                f"a {role} reference must come from the same architecture and data set"
            )
    return reference, file


def load_references(run: RunOptions, *, annotation_hash: str, model: str | None, dataset: str | None,
                    estimated: bool = False) -> dict[str, InteractionEstimate]:
    """The estimate of each reference of ``run``, checked (:func:`load_reference`). With
    ``missing_references="warn"`` an absent one is skipped with a warning (and a finetune reference without its
    pretrain one too)."""
    refs = {}
    for role in REFERENCE_ROLES:
        if role not in run.references:
            continue
        path = run.references[role]
        if run.missing_references == "warn" and not reference_exists(path):
            rank_zero_warn(
                f"the {role} reference {path} does not exist yet, so this run logs no knowledge/* curves that "
                f"need it; produce it first (e.g. fit the {role_regime(role)} config) and fit again"
            )
            if role == "pretrain":
                break  # a finetune reference alone is useless
            continue
        refs[role], _ = load_reference(role, path, annotation_hash=annotation_hash, model=model, dataset=dataset,
                                       estimated=estimated)
    return refs


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


def verify_history_entry(step: int, entry: dict[str, Any], annotation_hash: str) -> dict[str, Any]:
    """Re-load the artifact of the history's entry at global ``step`` and check its file hash and annotation;
    return its content."""
    path = Path(entry["path"])
    if not path.is_file():
        raise AnnotationError(
            f"the checkpoint's interaction history lists the evaluation at step {step} at {path}, which no longer "
            "exists; restore the run's interactions folder or train without the checkpoint"
        )
    content, digest = load_interactions(path)
    if digest != entry["sha256"]:
        raise AnnotationError(
            f"{path} (step {step}) changed since the checkpoint was written (hash {digest[:12]}, expected "
            f"{entry['sha256'][:12]}); restore the original file or train without the checkpoint"
        )
    if content.get("annotation_hash") != annotation_hash:
        raise AnnotationError(f"{path} (step {step}) was computed on another annotation than this run's")
    return content


def check_restored_annotation(restored_hash: str | None, annotation_hash: str) -> None:
    """After a resume: the checkpoint's history must come from this run's annotation (:class:`AnnotationError`)."""
    if restored_hash is not None and restored_hash != annotation_hash:
        raise AnnotationError(
            f"the checkpoint's interaction history was computed on another annotation (hash "
            f"{restored_hash[:12]}, this run uses {annotation_hash[:12]}); resume with the same "
            "sample_set or train without the checkpoint"
        )


def verify_history(history: dict[int, dict[str, Any]], annotation_hash: str) -> None:
    """Every history entry's file exists, matches its hash and comes from this annotation (:class:`AnnotationError`)."""
    for step, entry in sorted(history.items()):
        verify_history_entry(step, entry, annotation_hash)


def restored_history(loop: TrainingLoop, history: dict[int, dict[str, Any]], annotation_hash: str) -> None:
    """A resumed run's history, once: rank zero verifies the restored entries (:func:`verify_history`); every rank
    gets the verdict (:class:`AnnotationError`) through ``loop.broadcast``."""
    error = None
    if loop.is_global_zero:
        try:
            verify_history(history, annotation_hash)
        except AnnotationError as err:
            error = str(err)
    error = loop.broadcast(error, src=0)
    if error:
        raise AnnotationError(error)


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


def write_final_files(folder: Path, history: dict[int, dict[str, Any]]) -> tuple[list[int], list[float], dict[int, int]]:
    """Write ``jaccard.json`` (eq. 9: every evaluation's mean Jaccard similarity to the final one, in global-step
    order) and the ``final.json`` pointer in ``folder``, each artifact hash-checked; return
    ``(global steps, jaccard, {global step: logging step})``."""
    estimates, log_steps = [], {}
    for step, entry in sorted(history.items()):
        content, digest = load_interactions(entry["path"])
        if digest != entry["sha256"]:
            raise AnnotationError(f"{entry['path']} (step {step}) changed while training; it is not this run's")
        content.pop("values", None)  # the curve reads dividends only
        estimates.append(estimate_from_record(content))
        log_steps[step] = int(content["log_step"])
    steps = sorted(history)
    jaccard = jaccard_to_final(estimates)
    write_curve_files(folder, history, steps, jaccard, steps[-1])
    return steps, jaccard, log_steps


__all__ = [
    "check_restored_annotation",
    "check_writable",
    "load_interactions",
    "load_reference",
    "load_references",
    "restored_history",
    "role_regime",
    "verify_history",
    "verify_history_entry",
    "write_curve_files",
    "write_final_files",
]
