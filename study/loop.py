"""The study loop: probe -> finetune -> scratch -> report, resumable (paper section 3; docs/study.md).

With ``seeds`` (docs/study.md#seeds) the three stages run once per seed, seed after seed
(:meth:`StudyPlan.runs`), all on the study's one annotated sample set, then the report runs once.

Before any work the study checks what it can (every stage's stacked configs parse, the interaction
settings are valid, every folder it writes into is writable) and takes the study folder's lock
(:mod:`harsanyi_lightning.study.folders`). Before each stage (and the report) the earlier stages are
checked again: one whose folder was deleted or damaged meanwhile is redone, never half-read. A write that
fails (disk full, I/O error) stops the study with a
:class:`~harsanyi_lightning.interactions.errors.StorageError` naming the file, every earlier file intact.

Under DDP (docs/study.md#many-devices-and-machines) every rank runs this loop on one process group
(:mod:`harsanyi_lightning.study.processes`): global rank zero takes the lock, decides and writes; the other
ranks get its decisions by broadcast, train and evaluate with it, and write nothing. A rank that dies
stops every rank with an error naming the stage; running the same command again resumes the study.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Optional

from harsanyi_lightning.interactions.errors import DataError

from .failures import stage_failure
from .folders import check_study_folders, lock_study, remove_stale_temp_files
from .layout import ANNOTATION, MANIFEST, STAGES, stage_dir, write_json
from .processes import StudyProcesses
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
              check_cli: Optional[Callable[[list[str]], None]] = None,
              start_processes: Optional[Callable[[], StudyProcesses]] = None) -> Path:
    """Run the three stages in order (for each seed, with ``seeds``), then the report; return the study folder.

    ``check_cli(args)`` parses a stage's stacked configs without building anything (see
    :meth:`StudyPlan.check`); everything it and the folder checks can find fails before any work.
    ``start_processes()`` starts the study's DDP ranks and process group (one process when not given)."""
    plan.check(check_cli)
    processes = start_processes() if start_processes is not None else StudyProcesses()
    lock = None

    def take_lock() -> None:
        nonlocal lock
        lock = lock_study(plan.study_dir)
        check_study_folders(plan.study_dir, report, plan.seeds)

    try:
        processes.on_zero(take_lock)
        _run_locked(plan, make_cli, report, processes)
    finally:
        if lock is not None:
            lock.release()
    return plan.study_dir


def _prepare(plan: StudyPlan) -> None:
    if plan.force and (plan.study_dir / ANNOTATION).exists():
        (plan.study_dir / ANNOTATION).unlink()
    write_json(plan.study_dir / MANIFEST, _manifest(plan))
    remove_stale_temp_files(plan.study_dir, plan.seeds)


def _run_locked(plan: StudyPlan, make_cli: Callable[..., Any], report: bool, processes: StudyProcesses) -> None:
    processes.on_zero(lambda: _prepare(plan))
    t0 = time.perf_counter()
    todo = stage_runs(plan)
    index, redone = 0, 0
    while True:
        # a stage folder deleted meanwhile is redone, not half-read (rank zero looks; every rank follows)
        lost = processes.on_zero(lambda: first_lost_stage(plan, index))
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
        try:
            args = (run, STAGES.index(stage) + 1, stage, make_cli)
            # one process: the call it always was (wrappers of run_stage keep working)
            run_stage(*args) if processes.world_size == 1 else run_stage(*args, processes)
        except Exception as err:  # noqa: BLE001 - re-raised, as a project error naming the stage when a rank died
            failure = stage_failure(err, _name(run, stage)) if processes.world_size > 1 else None
            if failure is None:
                raise
            raise failure from err
        index += 1
    if not report:
        say(f"study finished in {time.perf_counter() - t0:.0f} s (no report: report=false; "
            f"`python cli.py report {plan.study_dir}` writes it)")
        return
    processes.on_zero(lambda: _write_report(plan, t0))


def _write_report(plan: StudyPlan, t0: float) -> None:
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
