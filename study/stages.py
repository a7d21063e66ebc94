"""One stage of a study: is it complete, to resume or to redo, and running it (docs/study.md).

A rerun skips a stage whose summary, final artifact (hash-checked), annotation, references and
configuration still agree; resumes an interrupted stage from ``last.ckpt`` (same configuration); and
redoes a stage from the start when its configuration, annotation or references changed or its artifacts
are damaged. ``force=True`` redoes everything. The stage's ``summary.json`` is written last, atomically:
it is the completion marker. Checkpoints are written atomically in the stage's folder
(:mod:`harsanyi_lightning.study.checkpoints`). ``plan`` is one run's plan (:meth:`StudyPlan.runs`): its
stage folders are in ``plan.run_dir`` (a seed's folder, or the study folder), the annotation is the study's.
Under DDP rank zero decides and writes, every rank trains (docs/study.md#many-devices-and-machines).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl

from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.interactions.errors import AnnotationError

from .checkpoints import use_atomic_checkpoints
from .layout import (
    ANNOTATION,
    STAGES,
    checkpoint_path,
    interactions_dir,
    read_json,
    stage_dir,
    stage_problems,
    summary_path,
    write_json,
)
from .plan import REFERENCE_STAGE, REFERENCES, StudyPlan
from .processes import StudyProcesses
from .progress import say

__all__ = ["STAGE_FILE", "annotation_hash", "run_stage", "stage_status"]

STAGE_FILE = "stage.json"  # written when a stage starts: the configuration it runs with


def _final_sha(root: Path, stage: str) -> str:
    """The sha256 of a finished stage's final interactions, from its summary (``root``: a run folder)."""
    return read_json(summary_path(root, stage))["final_artifact_sha256"]


def annotation_hash(study_dir: Path) -> str | None:
    """The hash of the study's annotated sample set, ``None`` when it is not written yet; a damaged one
    raises :class:`~harsanyi_lightning.interactions.errors.AnnotationError`."""
    path = study_dir / ANNOTATION
    if not path.is_file():
        return None
    try:
        return load_artifact(path, "annotation")[1]
    except AnnotationError as err:
        # never rebuilt silently: the finished stages were measured on it, and a new sample set would
        # make their interactions incomparable with the ones still to come
        raise AnnotationError(
            f"{err}. The study's stages are measured on this sample set, so it is not rebuilt silently: "
            "restore the file from a backup, or rerun with --force to rebuild it and redo every stage"
        ) from None


def stage_status(plan: StudyPlan, stage: str) -> tuple[str, list[str]]:
    """``("complete" | "resume" | "restart" | "new", reasons)`` for one stage of ``plan``'s run."""
    root = plan.run_dir
    sdir = stage_dir(root, stage)
    if not sdir.exists():
        return "new", []
    anno = annotation_hash(plan.study_dir)
    started = sdir / STAGE_FILE
    intent = read_json(started) if started.is_file() else {}
    reasons = []
    if intent.get("fingerprint") != plan.fingerprint(stage):
        reasons.append("its configuration changed" if intent else f"{started} is missing")
    if anno is None:
        reasons.append(f"{plan.study_dir / ANNOTATION} is missing")
    if not summary_path(root, stage).is_file():
        if reasons:
            return "restart", reasons
        return ("resume" if checkpoint_path(root, stage).is_file() else "restart"), [
            "it was interrupted before it finished"]
    reasons += stage_problems(root, stage, anno)
    summary = read_json(summary_path(root, stage))
    for role in REFERENCES[stage]:
        ref = REFERENCE_STAGE[role]
        if summary.get("references", {}).get(role) != _final_sha(root, ref):
            reasons.append(f"its {role} reference ({ref}) changed")
    return ("complete", []) if not reasons else ("restart", reasons)


def run_stage(plan: StudyPlan, index: int, stage: str, make_cli: Callable[..., Any],
              processes: StudyProcesses | None = None) -> dict:
    """Run (or skip, or resume) stage number ``index`` (1-based) of ``plan``'s run; return its summary.

    Under DDP (``processes``) every rank calls this: rank zero decides and writes the stage's files, every
    rank trains, validates and tests (collectives), rank zero writes the summary."""
    processes = processes or StudyProcesses()
    head = ("" if plan.seed is None else f"seed {plan.seed}, ") + f"stage {index}/{len(STAGES)}: {stage}"
    status, ckpt, resume, summary = processes.on_zero(lambda: _start(plan, stage, head))
    if status == "complete":
        return summary
    t0 = time.perf_counter()
    cli = make_cli(plan.stage_args(stage), plan.callbacks(stage))
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    use_atomic_checkpoints(trainer)
    trainer.fit(model, datamodule=dm, ckpt_path=str(ckpt) if resume else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"stage {stage} was interrupted; rerun the study to resume it from {ckpt}")
    val_acc = _metric(trainer, "val/acc")
    if val_acc is None:  # resumed at the end: no validation ran in this fit
        val_acc = _first(_validate_unlogged(trainer, model, dm), "val/acc")
    test_acc = None
    if plan.test and _has_test_data(dm):
        test_acc = _first(trainer.test(model, datamodule=dm, verbose=False), "test/acc")
    measured = dict(val_acc=val_acc, test_acc=test_acc, val_examples=_val_examples(trainer, dm),
                    global_step=int(trainer.global_step), wall_s=round(time.perf_counter() - t0, 2))
    return processes.on_zero(lambda: _finish(plan, stage, head, ckpt, measured))


def _start(plan: StudyPlan, stage: str, head: str) -> tuple[str, Path, bool, dict | None]:
    """Rank zero: the stage's status; a complete stage's summary, else its folder made ready (redone from the
    start when it must be) and ``stage.json`` written. ``(status, checkpoint, resume, summary)``."""
    root = plan.run_dir
    sdir = stage_dir(root, stage)
    ckpt = checkpoint_path(root, stage)
    status, reasons = ("new", []) if plan.force else stage_status(plan, stage)
    if plan.force and sdir.exists():
        shutil.rmtree(sdir)
    if status == "complete":
        say(f"{head}: complete, skipped ({summary_path(root, stage)})")
        return status, ckpt, False, read_json(summary_path(root, stage))
    if status == "restart" and sdir.exists():
        say(f"{head}: redone from the start because " + "; ".join(reasons))
        shutil.rmtree(sdir)
    resume = status == "resume" and ckpt.is_file()
    say(f"{head} -> {sdir}" + (f" (resuming from {ckpt})" if resume else ""))
    sdir.mkdir(parents=True, exist_ok=True)
    write_json(sdir / STAGE_FILE, {"stage": stage, "fingerprint": plan.fingerprint(stage),
                                   "args": plan.stage_args(stage)})
    return status, ckpt, resume, None


def _finish(plan: StudyPlan, stage: str, head: str, ckpt: Path, measured: dict) -> dict:
    """Rank zero: the stage's ``summary.json`` (written last: the completion marker), returned."""
    root = plan.run_dir
    sdir = stage_dir(root, stage)
    final_file = _final_file(interactions_dir(root, stage))
    content, sha = load_artifact(final_file, "interactions")
    summary = {
        "stage": stage,
        "val_acc": measured["val_acc"],
        "val_examples": measured["val_examples"],
        "test_acc": measured["test_acc"],
        "final_epoch": int(content["epoch"]),
        "final_artifact": str(final_file.relative_to(sdir)),
        "final_artifact_sha256": sha,
        "annotation_hash": content.get("annotation_hash"),
        "references": {role: _final_sha(root, REFERENCE_STAGE[role]) for role in REFERENCES[stage]},
        "model": content.get("model"),
        "dataset": content.get("dataset"),
        "checkpoint": str(ckpt.relative_to(sdir)) if ckpt.is_file() else None,
        "global_step": measured["global_step"],
        "wall_s": measured["wall_s"],
    }
    if plan.seed is not None:
        summary["seed"] = plan.seed
    write_json(summary_path(root, stage), summary)  # last: the completion marker
    say(f"{head} done in {summary['wall_s']:.0f} s: val acc {_fmt(summary['val_acc'])}, "
        f"test acc {_fmt(summary['test_acc'])}")
    return summary


def _validate_unlogged(trainer: pl.Trainer, model: Any, dm: Any) -> list[dict]:
    """``trainer.validate`` with the loggers off: the stage's curves already hold every epoch's validation
    (in the run that was interrupted after it), and one more ``val/loss`` point would make the report of
    a resumed study differ from an uninterrupted one."""
    loggers = trainer.loggers
    trainer.loggers = []
    try:
        return trainer.validate(model, datamodule=dm, verbose=False)
    finally:
        trainer.loggers = loggers


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _metric(trainer: pl.Trainer, key: str) -> float | None:
    for k in (key, f"{key}_epoch"):
        if k in trainer.callback_metrics:
            return float(trainer.callback_metrics[k])
    return None


def _first(results: list[dict], key: str) -> float | None:
    for r in results or []:
        for k in (key, f"{key}_epoch"):
            if k in r:
                return float(r[k])
    return None


def _val_examples(trainer: pl.Trainer, dm: Any) -> int | None:
    """How many examples the validation accuracy was measured on (its binomial interval needs it); ``None``
    when validation used only part of its data (``limit_val_batches``) or a data set without a length."""
    if trainer.limit_val_batches != 1.0:
        return None
    loaders = trainer.val_dataloaders
    if loaders is None and dm is not None and hasattr(dm, "val_dataloader"):
        loaders = dm.val_dataloader()
    if loaders is None:
        return None
    loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
    try:
        return int(sum(len(dl.dataset) for dl in loaders))
    except TypeError:
        return None


def _has_test_data(dm: Any) -> bool:
    if dm is None:
        return False
    fn = type(dm).test_dataloader
    return fn is not pl.LightningDataModule.test_dataloader


def _final_file(folder: Path) -> Path:
    from harsanyi_lightning.callbacks.history import resolve_interactions_file

    return resolve_interactions_file(folder)
