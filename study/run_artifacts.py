"""What the report reads from one run of a study (one training seed): each regime's final dividends, its
evaluations in training order, its summary and its losses (docs/study.md, section "Report").

An evaluation is identified by its global training step (``global_step`` in the artifact) and placed at
its fractional epoch ``epoch_fraction`` (epochs trained; artifacts written before in-epoch evaluations
existed carry only the integer ``epoch``, which is the same thing at an epoch's end;
docs/method.md#uncertainty-and-verdicts). Curves are keyed by that epoch (:func:`epoch_key`: an int at an
epoch's end, so ``1`` and not ``1.0``).

A run of sparse estimates (``estimator: sparse``, docs/study.md#sparse-studies) never becomes ``2**n`` tables:
per sample, the recovered subsets of every artifact of the run (the three regimes' finals and every evaluation)
are mapped to one slot layout (:func:`~harsanyi_lightning.interactions.slot_tables`), so every ``dividends`` of the
run is ``[sample, slot]`` with the run's ``orders[sample, slot]``, absent subsets holding 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import torch

from harsanyi_lightning.interactions import artifact_parts, slot_tables

from .layout import STAGES, evaluation_files, read_json, stage_dir, summary_path, tb_dir
from .report_inputs import is_sparse, read_losses, read_run_artifact
from .two_phase import REGIMES as TWO_PHASE_REGIMES
from .two_phase import SOURCES as TWO_PHASE_SOURCES
from .two_phase import epoch_strength

if TYPE_CHECKING:
    from pathlib import Path

    from torch import Tensor

__all__ = ["Evaluation", "RegimeRun", "StudyRun", "epoch_key", "load_run"]


def epoch_key(epoch: float) -> int | float:
    """An evaluation's epoch as a curve key: the int at an epoch's end, else the fraction rounded to 4 places."""
    epoch = float(epoch)
    return int(epoch) if epoch.is_integer() else round(epoch, 4)


@dataclass(frozen=True)
class Evaluation:
    """One stored evaluation of a regime: ``dividends[sample, mask]`` (float64; ``[sample, slot]`` in a sparse run)
    at a global step."""

    step: int
    epoch: int | float  #: epochs trained (fractional inside an epoch), see :func:`epoch_key`
    dividends: Tensor
    strength: Mapping[str, Any] = field(default_factory=dict)  #: two-phase strengths per source
    r2_heldout: tuple[float, ...] = ()  #: a sparse estimate's held-out R^2 per sample (empty: exact)


@dataclass(frozen=True)
class RegimeRun:
    """One regime of one run: its summary, final dividends, evaluations (ascending step) and losses."""

    summary: Mapping[str, Any]
    final: Tensor
    evaluations: tuple[Evaluation, ...]
    losses: Mapping[str, Mapping[int, float]]

    def curve(self) -> dict[int | float, Tensor]:
        """``{epoch: dividends}`` of the evaluations."""
        return {e.epoch: e.dividends for e in self.evaluations}


@dataclass(frozen=True)
class StudyRun:
    """The three regimes of one run (``seed`` None for a single-seed study); a sparse run's tables are
    ``[sample, slot]`` with ``orders[sample, slot]`` (``None``: dense ``[sample, mask]`` tables)."""

    seed: int | None
    root: Path
    regimes: Mapping[str, RegimeRun]
    n: int = 0
    orders: Tensor | None = None
    budget: int | None = None  #: a sparse run's forward passes per sample (``None``: exact)

    @property
    def estimated(self) -> bool:
        """Whether the run's dividends are sparse estimates."""
        return self.orders is not None


#: what the report keeps of an artifact (not its ``values``, attributions or AND-OR tables, which can be large)
_KEPT = ("global_step", "epoch", "epoch_fraction", "estimator", "n", "budget", "r2_heldout", "dividends",
         "sparse_masks", "sparse_dividends")


def _read(path: Path, stage: str) -> dict[str, Any]:
    """The kept entries of one artifact and, for a two-phase regime, its ``strength`` per source."""
    content = read_run_artifact(path)
    kept = {k: content[k] for k in _KEPT if k in content}
    if stage in TWO_PHASE_REGIMES:
        kept["strength"] = {src: epoch_strength(content, src) for src in TWO_PHASE_SOURCES}
    return kept


def _evaluation_contents(root: Path, stage: str, summary: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """``{global step: kept content}`` of the stage's evaluations of this run, ascending."""
    last_step = summary.get("global_step")
    last_epoch = summary.get("final_epoch")
    found = {}
    for path in evaluation_files(root, stage).values():
        content = _read(path, stage)
        step = int(content.get("global_step", 0))
        epoch = float(content.get("epoch_fraction", content.get("epoch", 0)))
        # files of an earlier, longer run of this stage (before a --force rerun) are not this run's
        if (last_step is not None and step > last_step) or (last_epoch is not None and epoch > last_epoch):
            continue
        found[step] = content
    return {s: found[s] for s in sorted(found)}


def _evaluation(content: Mapping[str, Any], dividends: Tensor) -> Evaluation:
    epoch = float(content.get("epoch_fraction", content.get("epoch", 0)))
    r2 = tuple(float(x) for x in content["r2_heldout"]) if is_sparse(content) else ()
    return Evaluation(step=int(content.get("global_step", 0)), epoch=epoch_key(epoch), dividends=dividends,
                      strength=content.get("strength", {}), r2_heldout=r2)


def load_run(root: Path, seed: int | None = None) -> StudyRun:
    """Read the three regimes of the run in ``root`` (the study folder, or a seed's folder). The study must
    have passed :func:`~harsanyi_lightning.study.layout.check_study`."""
    stored = {}
    for stage in STAGES:
        summary = read_json(summary_path(root, stage))
        final = _read(stage_dir(root, stage) / summary["final_artifact"], stage)
        stored[stage] = (summary, final, _evaluation_contents(root, stage, summary))
    sparse = [c for _, f, ev in stored.values() for c in (f, *ev.values()) if is_sparse(c)]
    if not sparse:
        regimes = {stage: RegimeRun(
            summary=summary, final=final["dividends"].to(torch.float64),
            evaluations=tuple(_evaluation(c, c["dividends"].to(torch.float64)) for c in evals.values()),
            losses=read_losses(tb_dir(root, stage))) for stage, (summary, final, evals) in stored.items()}
        n = next(iter(regimes.values())).final.shape[1].bit_length() - 1
        return StudyRun(seed=seed, root=root, regimes=regimes, n=n)
    n = int(sparse[0]["n"])
    contents = [c for _, f, ev in stored.values() for c in (f, *ev.values())]
    slots = slot_tables([artifact_parts(c) for c in contents], n)
    tables = iter(slots.tables)
    regimes = {}
    for stage, (summary, _, evals) in stored.items():
        final = next(tables)
        evaluations = tuple(_evaluation(c, next(tables)) for c in evals.values())
        regimes[stage] = RegimeRun(summary=summary, final=final, evaluations=evaluations,
                                   losses=read_losses(tb_dir(root, stage)))
    return StudyRun(seed=seed, root=root, regimes=regimes, n=n, orders=slots.orders,
                    budget=int(sparse[0].get("budget", 0)) or None)
