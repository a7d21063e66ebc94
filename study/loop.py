"""The study loop: probe -> finetune -> scratch -> report, resumable (paper section 3; docs/study.md).

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

__all__ = ["first_lost_stage", "run_study"]


def first_lost_stage(plan: StudyPlan, before: int) -> tuple[str, list[str]] | None:
    """The first of the stages ``STAGES[:before]`` that is no longer complete (its folder deleted, its
    summary or final artifact damaged since it finished), with the reasons; ``None`` when all are."""
    for stage in STAGES[:before]:
        status, reasons = stage_status(plan, stage)
        if status != "complete":
            return stage, reasons or [f"{stage_dir(plan.study_dir, stage)} is gone"]
    return None


def run_study(plan: StudyPlan, make_cli: Callable[..., Any], *, report: bool = True,
              check_cli: Optional[Callable[[list[str]], None]] = None) -> Path:
    """Run the three stages in order, then the report; return the study folder.

    ``check_cli(args)`` parses a stage's stacked configs without building anything (see
    :meth:`StudyPlan.check`); everything it and the folder checks can find fails before any work."""
    plan.check(check_cli)
    lock = lock_study(plan.study_dir)
    try:
        check_study_folders(plan.study_dir, report)
        _run_locked(plan, make_cli, report)
    finally:
        if lock is not None:
            lock.release()
    return plan.study_dir


def _run_locked(plan: StudyPlan, make_cli: Callable[..., Any], report: bool) -> None:
    if plan.force and (plan.study_dir / ANNOTATION).exists():
        (plan.study_dir / ANNOTATION).unlink()
    write_json(plan.study_dir / MANIFEST, {
        "stages": list(STAGES),
        "study_dir": str(plan.study_dir),
        "args": {s: plan.stage_args(s) for s in STAGES},
        "sample_set": asdict(plan.sample_set),
        "interactions": {s: asdict(plan.stage_interactions(s)) for s in STAGES},
    })
    remove_stale_temp_files(plan.study_dir)
    t0 = time.perf_counter()
    index, redone = 0, 0
    while True:
        lost = first_lost_stage(plan, index)  # a stage folder deleted meanwhile is redone, not half-read
        if lost is not None:
            stage, reasons = lost
            redone += 1
            if redone > 2 * len(STAGES):
                raise DataError(f"stage {stage!r} of {plan.study_dir} keeps losing its files ({'; '.join(reasons)}); "
                                "is another program deleting them?")
            say(f"stage {stage} is no longer complete ({'; '.join(reasons)}): it is redone")
            index = STAGES.index(stage)
            continue
        if index == len(STAGES):
            break
        run_stage(plan, index + 1, STAGES[index], make_cli)
        index += 1
    if report:
        from .report import write_report

        say(f"report -> {plan.study_dir / 'report'}")
        out = write_report(plan.study_dir)
        say(f"study finished in {time.perf_counter() - t0:.0f} s; open {out / 'report.md'}")
