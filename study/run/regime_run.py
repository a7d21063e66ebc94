"""One regime of a study: is it complete, to resume or to redo, and running it (docs/study.md).

A rerun skips a regime whose summary, final artifact (hash-checked), annotation, references and
configuration still agree; resumes an interrupted regime from ``last.ckpt`` (same configuration); and
redoes a regime from the start when its configuration, annotation or references changed or its artifacts
are damaged. ``force=True`` redoes everything. The regime's ``summary.json`` is written last, atomically:
it is the completion marker. Checkpoints are written atomically in the regime's folder
(:mod:`harsanyi_lightning.study.run.checkpoints`). ``plan`` is one run's plan (:meth:`StudyPlan.runs`): its
regime folders are in ``plan.run_dir`` (a seed's folder, or the study folder), the annotation is the study's.
Under DDP rank zero decides and writes, every rank trains (docs/study.md#many-devices-and-machines).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl

from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError
from harsanyi_lightning.lightning_modules.update_rank import update_ranks

from .checkpoints import use_atomic_checkpoints
from ..layout import (
    ANNOTATION,
    checkpoint_path,
    interactions_dir,
    read_json,
    regime_dir,
    regime_problems,
    summary_path,
    write_json,
)
from .plan import StudyPlan
from .processes import StudyProcesses
from .progress import say

__all__ = ["REGIME_FILE", "annotation_hash", "regime_status", "run_regime"]

REGIME_FILE = "regime.json"  # written when a regime starts: the configuration it runs with


def _final_sha(root: Path, regime: str) -> str:
    """The sha256 of a finished regime's final interactions, from its summary (``root``: a run folder)."""
    return read_json(summary_path(root, regime))["final_artifact_sha256"]


def annotation_hash(study_dir: Path) -> str | None:
    """The hash of the study's annotated sample set, ``None`` when it is not written yet; a damaged one
    raises :class:`~harsanyi_lightning.interactions.errors.AnnotationError`."""
    path = study_dir / ANNOTATION
    if not path.is_file():
        return None
    try:
        return load_artifact(path, "annotation")[1]
    except AnnotationError as err:
        # never rebuilt silently: the finished regimes were measured on it, and a new sample set would
        # make their interactions incomparable with the ones still to come
        raise AnnotationError(
            f"{err}. The study's regimes are measured on this sample set, so it is not rebuilt silently: "
            "restore the file from a backup, or rerun with --force to rebuild it and redo every regime"
        ) from None


def regime_status(plan: StudyPlan, regime: str) -> tuple[str, list[str]]:
    """``("complete" | "resume" | "restart" | "new", reasons)`` for one regime of ``plan``'s run."""
    root = plan.run_dir
    folder = regime_dir(root, regime)
    if not folder.exists():
        return "new", []
    anno = annotation_hash(plan.study_dir)
    started = folder / REGIME_FILE
    intent = read_json(started) if started.is_file() else {}
    reasons = []
    if intent.get("fingerprint") != plan.fingerprint(regime):
        reasons.append("its configuration changed" if intent else f"{started} is missing")
    if anno is None:
        reasons.append(f"{plan.study_dir / ANNOTATION} is missing")
    if not summary_path(root, regime).is_file():
        if reasons:
            return "restart", reasons
        return ("resume" if checkpoint_path(root, regime).is_file() else "restart"), [
            "it was interrupted before it finished"]
    reasons += regime_problems(root, regime, anno)
    summary = read_json(summary_path(root, regime))
    for role, ref in plan.order.references(regime).items():
        if summary.get("references", {}).get(role) != _final_sha(root, ref):
            reasons.append(f"its {role} reference ({ref}) changed")
    return ("complete", []) if not reasons else ("restart", reasons)


def run_regime(plan: StudyPlan, index: int, regime: str, make_cli: Callable[..., Any],
               processes: StudyProcesses | None = None) -> dict:
    """Run (or skip, or resume) regime number ``index`` (1-based) of ``plan``'s run; return its summary.

    Under DDP (``processes``) every rank calls this: rank zero decides and writes the regime's files, every
    rank trains, validates and tests (collectives), rank zero writes the summary."""
    processes = processes or StudyProcesses()
    head = ("" if plan.seed is None else f"seed {plan.seed}, ") + f"regime {index}/{len(plan.regimes)}: {regime}"
    status, ckpt, resume, summary = processes.on_zero(lambda: _start(plan, regime, head))
    if status == "complete":
        return summary
    t0 = time.perf_counter()
    cli = make_cli(plan.regime_args(regime), plan.callbacks(regime))
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    use_atomic_checkpoints(trainer)
    trainer.fit(model, datamodule=dm, ckpt_path=str(ckpt) if resume else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"regime {regime} was interrupted; rerun the study to resume it from {ckpt}")
    val_acc = _metric(trainer, "val/acc")
    if val_acc is None:  # resumed at the end: no validation ran in this fit
        val_acc = _first(_validate_unlogged(trainer, model, dm), "val/acc")
    test_acc = None
    if plan.test and _has_test_data(dm):
        test_acc = _first(trainer.test(model, datamodule=dm, verbose=False), "test/acc")
    measured = dict(val_acc=val_acc, test_acc=test_acc, val_examples=_val_examples(trainer, dm),
                    num_classes=_num_classes(model, dm),
                    global_step=int(trainer.global_step), wall_s=round(time.perf_counter() - t0, 2))
    return processes.on_zero(lambda: _finish(plan, regime, head, ckpt, {**measured, **_update(model, plan, regime)}))


def _start(plan: StudyPlan, regime: str, head: str) -> tuple[str, Path, bool, dict | None]:
    """Rank zero: the regime's status; a complete regime's summary, else its folder made ready (redone from the
    start when it must be) and ``regime.json`` written. ``(status, checkpoint, resume, summary)``."""
    root = plan.run_dir
    folder = regime_dir(root, regime)
    ckpt = checkpoint_path(root, regime)
    status, reasons = ("new", []) if plan.force else regime_status(plan, regime)
    if plan.force and folder.exists():
        shutil.rmtree(folder)
    if status == "complete":
        say(f"{head}: complete, skipped ({summary_path(root, regime)})")
        return status, ckpt, False, read_json(summary_path(root, regime))
    if status == "restart" and folder.exists():
        say(f"{head}: redone from the start because " + "; ".join(reasons))
        shutil.rmtree(folder)
    resume = status == "resume" and ckpt.is_file()
    say(f"{head} -> {folder}" + (f" (resuming from {ckpt})" if resume else ""))
    folder.mkdir(parents=True, exist_ok=True)
    spec = plan.regimes[regime]
    write_json(folder / REGIME_FILE, {"regime": regime, "kind": spec.kind, "fingerprint": plan.fingerprint(regime),
                                      "args": plan.regime_args(regime)})
    return status, ckpt, resume, None


def _update(model: Any, plan: StudyPlan, regime: str) -> dict:
    """What the regime's model records of itself: its kind's options (``options``) and, for a regime trained from
    the pre-trained weights, the effective rank of its update per matrix type (``update_ranks``,
    docs/training.md#the-rank-of-an-update), or why there is none (``update_ranks_why``: a backbone without a
    Transformer encoder)."""
    out: dict[str, Any] = {"options": model.kind_options() if hasattr(model, "kind_options") else {}}
    if plan.order.role(regime) == "finetune" and hasattr(model, "weight_updates"):
        try:
            out["update_ranks"] = update_ranks(model)
        except ConfigError as err:
            out["update_ranks"], out["update_ranks_why"] = None, str(err)
    return out


def _finish(plan: StudyPlan, regime: str, head: str, ckpt: Path, measured: dict) -> dict:
    """Rank zero: the regime's ``summary.json`` (written last: the completion marker), returned."""
    root = plan.run_dir
    folder = regime_dir(root, regime)
    final_file = _final_file(interactions_dir(root, regime))
    content, sha = load_artifact(final_file, "interactions")
    order = plan.order
    summary = {
        "regime": regime,
        "kind": order.kinds[regime],
        "role": order.role(regime),
        "val_acc": measured["val_acc"],
        "val_examples": measured["val_examples"],
        "num_classes": measured["num_classes"],
        "test_acc": measured["test_acc"],
        "final_epoch": int(content["epoch"]),
        "final_artifact": str(final_file.relative_to(folder)),
        "final_artifact_sha256": sha,
        "annotation_hash": content.get("annotation_hash"),
        "references": {role: _final_sha(root, ref) for role, ref in order.references(regime).items()},
        "model": content.get("model"),
        "dataset": content.get("dataset"),
        "checkpoint": str(ckpt.relative_to(folder)) if ckpt.is_file() else None,
        "global_step": measured["global_step"],
        "wall_s": measured["wall_s"],
        **{k: measured[k] for k in ("options", "update_ranks", "update_ranks_why") if k in measured},
    }
    if plan.seed is not None:
        summary["seed"] = plan.seed
    write_json(summary_path(root, regime), summary)  # last: the completion marker
    say(f"{head} done in {summary['wall_s']:.0f} s: val acc {_fmt(summary['val_acc'])}, "
        f"test acc {_fmt(summary['test_acc'])}")
    return summary


def _validate_unlogged(trainer: pl.Trainer, model: Any, dm: Any) -> list[dict]:
    """``trainer.validate`` with the loggers off: the regime's curves already hold every epoch's validation
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


def _num_classes(model: Any, dm: Any) -> int | None:
    """The classes the regime tells apart (its chance accuracy is one over them): the data module's ``num_classes``,
    else the model's; ``None`` when neither says."""
    for holder in (dm, model):
        try:
            value = getattr(holder, "num_classes", None)
        except (NotImplementedError, AttributeError):
            value = None
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            return value
    return None


def _has_test_data(dm: Any) -> bool:
    if dm is None:
        return False
    fn = type(dm).test_dataloader
    return fn is not pl.LightningDataModule.test_dataloader


def _final_file(folder: Path) -> Path:
    from harsanyi_lightning.callbacks.history import resolve_interactions_file

    return resolve_interactions_file(folder)
