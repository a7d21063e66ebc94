"""The study loop: probe -> finetune -> scratch -> report, resumable (paper section 3; docs/study.md).

With ``seeds`` (docs/study.md#seeds) the three regimes run once per seed, seed after seed
(:meth:`StudyPlan.runs`), all on the study's one annotated sample set, then the report runs once.

Before any work the study checks what it can (every regime's stacked configs parse, the interaction
settings are valid, every folder it writes into is writable) and takes the study folder's lock
(:mod:`harsanyi_lightning.study.run.folders`). Before each regime (and the report) the earlier regimes are
checked again: one whose folder was deleted or damaged meanwhile is redone, never half-read. A write that
fails (disk full, I/O error) stops the study with a
:class:`~harsanyi_lightning.interactions.errors.StorageError` naming the file, every earlier file intact.

Under DDP (docs/study.md#many-devices-and-machines) every rank runs this loop on one process group
(:mod:`harsanyi_lightning.study.run.processes`): global rank zero takes the lock, decides and writes; the other
ranks get its decisions by broadcast, train and evaluate with it, and write nothing. A rank that dies
stops every rank with an error naming the regime; running the same command again resumes the study.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Optional

from harsanyi_lightning.interactions.errors import DataError

from .failures import in_study_terms, regime_failure
from .folders import check_study_folders, lock_study, remove_stale_temp_files
from ..layout import ANNOTATION, MANIFEST, regime_dir, write_json
from .processes import StudyProcesses
from .progress import say
from .regime_run import regime_status, run_regime

if TYPE_CHECKING:
    from pathlib import Path

    from .plan import StudyPlan

__all__ = ["first_lost_regime", "regime_runs", "run_study"]


def regime_runs(plan: StudyPlan) -> list[tuple[StudyPlan, str]]:
    """Every regime the study runs, in order, with the plan of its run: the regimes of each seed in
    the order of ``seeds`` (of the one run for a single-seed study)."""
    return [(run, regime) for run in plan.runs() for regime in plan.order.names]


def _name(run: StudyPlan, regime: str) -> str:
    return regime if run.seed is None else f"{regime} of seed {run.seed}"


def first_lost_regime(plan: StudyPlan, before: int) -> tuple[int, list[str]] | None:
    """The position in :func:`regime_runs` of the first of its first ``before`` regimes that is no longer
    complete (its folder deleted, its summary or final artifact damaged since it finished), with the
    reasons; ``None`` when all are."""
    for position, (run, regime) in enumerate(regime_runs(plan)[:before]):
        status, reasons = regime_status(run, regime)
        if status != "complete":
            return position, reasons or [f"{regime_dir(run.run_dir, regime)} is gone"]
    return None


def run_study(plan: StudyPlan, make_cli: Callable[..., Any], *, report: bool = True, figures: bool = True,
              check_cli: Optional[Callable[[list[str]], None]] = None,
              start_processes: Optional[Callable[[], StudyProcesses]] = None) -> Path:
    """Run the three regimes in order (for each seed, with ``seeds``), then the report; return the study folder.

    ``check_cli(args)`` parses a regime's stacked configs without building anything (see
    :meth:`StudyPlan.check`); everything it and the folder checks can find fails before any work.
    ``figures=False``: the report without its figures (report.json and report.md).
    ``start_processes()`` starts the study's DDP ranks and process group (one process when not given)."""
    plan.check(check_cli)
    processes = start_processes() if start_processes is not None else StudyProcesses()
    lock = None

    def take_lock() -> None:
        nonlocal lock
        lock = lock_study(plan.study_dir)
        check_study_folders(plan.study_dir, plan.order.names, report, plan.seeds)

    try:
        processes.on_zero(take_lock)
        _run_locked(plan, make_cli, report, processes, figures)
    finally:
        if lock is not None:
            lock.release()
    processes.close()
    return plan.study_dir


def _prepare(plan: StudyPlan) -> None:
    if plan.force and (plan.study_dir / ANNOTATION).exists():
        (plan.study_dir / ANNOTATION).unlink()
    write_json(plan.study_dir / MANIFEST, _manifest(plan))
    remove_stale_temp_files(plan.study_dir, plan.order.names, plan.seeds)


def _run_locked(plan: StudyPlan, make_cli: Callable[..., Any], report: bool, processes: StudyProcesses,
                figures: bool = True) -> None:
    processes.on_zero(lambda: _prepare(plan))
    t0 = time.perf_counter()
    todo = regime_runs(plan)
    index, redone = 0, 0
    while True:
        # a regime folder deleted meanwhile is redone, not half-read (rank zero looks; every rank follows)
        lost = processes.on_zero(lambda: first_lost_regime(plan, index))
        if lost is not None:
            index, reasons = lost
            name = _name(*todo[index])
            redone += 1
            if redone > 2 * len(todo):
                raise DataError(f"regime {name!r} of {plan.study_dir} keeps losing its files ({'; '.join(reasons)}); "
                                "is another program deleting them?")
            say(f"regime {name} is no longer complete ({'; '.join(reasons)}): it is redone")
            continue
        if index == len(todo):
            break
        run, regime = todo[index]
        try:
            run_regime(run, plan.order.names.index(regime) + 1, regime, make_cli, processes)
        except Exception as err:  # noqa: BLE001 - re-raised, as a project error naming the regime when a rank died
            failure = regime_failure(err, _name(run, regime)) if processes.world_size > 1 else None
            # the fix a regime's error gives, in this command's words (--shared.data..., not --data...)
            failure = failure or in_study_terms(err)
            if failure is None:
                raise
            raise failure from err
        index += 1
    if not report:
        say(f"study finished in {time.perf_counter() - t0:.0f} s (no report: report=false; "
            f"`python cli.py report {plan.study_dir}` writes it)")
        return
    processes.on_zero(lambda: _write_report(plan, t0, figures))


def _write_report(plan: StudyPlan, t0: float, figures: bool = True) -> None:
    from ..report.writer import write_report

    say(f"report -> {plan.study_dir / 'report'}")
    out = write_report(plan.study_dir, bootstrap=plan.bootstrap, figures=figures)
    say(f"study finished in {time.perf_counter() - t0:.0f} s; open {out / 'report.md'}")


def _manifest(plan: StudyPlan) -> dict:
    """``study.json``: the regimes (kind and role, in training order), each regime's stacked configs and evaluation
    settings and, with ``seeds``, the seeds (``args`` then holds each run folder's, keyed by its name, ``seed_<k>``)."""
    order = plan.order
    manifest = {
        "regimes": order.record(),
        "study_dir": str(plan.study_dir),
        "args": {name: plan.regime_args(name) for name in order.names},
        "sample_set": asdict(plan.sample_set),
        "interactions": {name: asdict(plan.regime_interactions(name)) for name in order.names},
    }
    if plan.seeds is not None:
        manifest["seeds"] = list(plan.seeds)
        manifest["args"] = {run.run_dir.name: {name: run.regime_args(name) for name in order.names}
                            for run in plan.runs()}
    return manifest
