"""The study loop: probe -> finetune -> scratch -> report, resumable (paper section 3; docs/study.md).

With ``seeds`` (docs/study.md#seeds) the three stages run once per seed, seed after seed
(:meth:`StudyPlan.runs`), all on the study's one annotated sample set, then the report runs once.

Before any work the study checks what it can (every stage's stacked configs parse, the interaction
settings are valid, every folder it writes into is writable) and takes the study folder's lock
(:mod:`harsanyi_lightning.study.folders`). Before each stage (and the report) the earlier stages are
checked again: one whose folder was deleted or damaged meanwhile is redone, never half-read. A write that
fails (disk full, I/O error) stops the study with a
:class:`~harsanyi_lightning.interactions.errors.StorageError` naming the file, every earlier file intact.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Optional

from harsanyi_lightning.interactions.errors import DataError

from .folders import check_study_folders, lock_study, remove_stale_temp_files
from .layout import ANNOTATION, MANIFEST, STAGES, stage_dir, write_json
from .progress import say
from .stages import run_stage, stage_status

if TYPE_CHECKING:
    from pathlib import Path

    from .plan import StudyPlan

__all__ = ["first_lost_stage", "run_study", "stage_runs"]


def stage_runs(plan: StudyPlan) -> list[tuple[StudyPlan, str]]:
    """Every stage the study runs, in order, with the plan of its run: the three stages of each seed in
    the order of ``seeds`` (of the one run for a single-seed study)."""
    return [(run, stage) for run in plan.runs() for stage in STAGES]


def _name(run: StudyPlan, stage: str) -> str:
    return stage if run.seed is None else f"{stage} of seed {run.seed}"


def first_lost_stage(plan: StudyPlan, before: int) -> tuple[int, list[str]] | None:
    """The position in :func:`stage_runs` of the first of its first ``before`` stages that is no longer
    complete (its folder deleted, its summary or final artifact damaged since it finished), with the
    reasons; ``None`` when all are."""
    for position, (run, stage) in enumerate(stage_runs(plan)[:before]):
        status, reasons = stage_status(run, stage)
        if status != "complete":
            return position, reasons or [f"{stage_dir(run.run_dir, stage)} is gone"]
    return None


def run_study(plan: StudyPlan, make_cli: Callable[..., Any], *, report: bool = True,
              check_cli: Optional[Callable[[list[str]], None]] = None) -> Path:
    """Run the three stages in order (for each seed, with ``seeds``), then the report; return the study folder.

    ``check_cli(args)`` parses a stage's stacked configs without building anything (see
    :meth:`StudyPlan.check`); everything it and the folder checks can find fails before any work."""
    plan.check(check_cli)
    lock = lock_study(plan.study_dir)
    try:
        check_study_folders(plan.study_dir, report, plan.seeds)
        _run_locked(plan, make_cli, report)
    finally:
        if lock is not None:
            lock.release()
    return plan.study_dir


def _run_locked(plan: StudyPlan, make_cli: Callable[..., Any], report: bool) -> None:
    if plan.force and (plan.study_dir / ANNOTATION).exists():
        (plan.study_dir / ANNOTATION).unlink()
    write_json(plan.study_dir / MANIFEST, _manifest(plan))
    remove_stale_temp_files(plan.study_dir, plan.seeds)
    t0 = time.perf_counter()
    todo = stage_runs(plan)
    index, redone = 0, 0
    while True:
        lost = first_lost_stage(plan, index)  # a stage folder deleted meanwhile is redone, not half-read
        if lost is not None:
            index, reasons = lost
            name = _name(*todo[index])
            redone += 1
            if redone > 2 * len(todo):
                raise DataError(f"stage {name!r} of {plan.study_dir} keeps losing its files ({'; '.join(reasons)}); "
                                "is another program deleting them?")
            say(f"stage {name} is no longer complete ({'; '.join(reasons)}): it is redone")
            continue
        if index == len(todo):
            break
        run, stage = todo[index]
        run_stage(run, STAGES.index(stage) + 1, stage, make_cli)
        index += 1
    if not report:
        say(f"study finished in {time.perf_counter() - t0:.0f} s (no report: report=false; "
            f"`python cli.py report {plan.study_dir}` writes it)")
        return
    from .report import write_report

    say(f"report -> {plan.study_dir / 'report'}")
    out = write_report(plan.study_dir, bootstrap=plan.bootstrap)
    say(f"study finished in {time.perf_counter() - t0:.0f} s; open {out / 'report.md'}")


def _manifest(plan: StudyPlan) -> dict:
    """``study.json``: the stages, each stage's stacked configs and evaluation settings and, with
    ``seeds``, the seeds (``args`` then holds each run folder's, keyed by its name, ``seed_<k>``)."""
    manifest = {
        "stages": list(STAGES),
        "study_dir": str(plan.study_dir),
        "args": {s: plan.stage_args(s) for s in STAGES},
        "sample_set": asdict(plan.sample_set),
        "interactions": {s: asdict(plan.stage_interactions(s)) for s in STAGES},
    }
    if plan.seeds is not None:
        manifest["seeds"] = list(plan.seeds)
        manifest["args"] = {run.run_dir.name: {s: run.stage_args(s) for s in STAGES} for run in plan.runs()}
    return manifest
