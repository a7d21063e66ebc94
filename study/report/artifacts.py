"""What the report reads from one run of a study (one training seed): each regime's final dividends, its
evaluations in training order, its summary and its losses (docs/study.md, section "Report"); the regimes are the
study manifest's (:func:`~harsanyi_lightning.study.layout.manifest_regimes`).

An evaluation is identified by its global training step (``global_step`` in the artifact) and placed at
its fractional epoch ``epoch_fraction`` (epochs trained; artifacts written before in-epoch evaluations
existed carry only the integer ``epoch``, which is the same thing at an epoch's end;
docs/method.md#uncertainty-and-verdicts). Curves are keyed by that epoch (:func:`epoch_key`: an int at an
epoch's end, so ``1`` and not ``1.0``).

Every artifact of a run (each regime's final and every evaluation) is read back as an estimate and the run's
estimates are put on one layout (:func:`~harsanyi_lightning.interactions.aligned_tables`): exact dividends as
``dividends[sample, mask]`` tables; a run of sparse estimates (``estimator: sparse``,
docs/study.md#sparse-studies) never becomes ``2**n`` tables: per sample, the recovered subsets of every artifact of
the run share one slot layout, so every ``dividends`` of the run is ``[sample, slot]`` with the run's
``orders[sample, slot]``, absent subsets holding 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping


from harsanyi_lightning.interactions import aligned_tables, estimate_from_record

from ..layout import evaluation_files, read_json, regime_dir, summary_path, tb_dir
from .inputs import read_losses, read_run_artifact
from .two_phase import SOURCES as TWO_PHASE_SOURCES
from .two_phase import epoch_strength

if TYPE_CHECKING:
    from pathlib import Path

    from torch import Tensor

    from ..regimes import StudyRegimes

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
    """The regimes of one run (``seed`` None for a single-seed study), in training order; a sparse run's tables are
    ``[sample, slot]`` with ``orders[sample, slot]`` (``None``: dense ``[sample, mask]`` tables)."""

    seed: int | None
    root: Path
    regimes: Mapping[str, RegimeRun]
    n: int = 0
    orders: Tensor | None = None
    budget: int | None = None  #: a sparse run's forward passes per sample (``None``: exact)
    estimator: str = "exact"  #: the estimator its artifacts record

    @property
    def estimated(self) -> bool:
        """Whether the run's dividends are sparse estimates."""
        return self.orders is not None


#: what the report keeps of an artifact (not its ``values``, attributions or AND-OR tables, which can be large)
_KEPT = ("global_step", "epoch", "epoch_fraction", "estimator", "estimated", "n", "budget", "heldout_queries",
         "max_order", "seed", "r2_heldout", "dividends", "sparse_masks", "sparse_dividends", "skipped")


def _read(path: Path, trained: bool) -> dict[str, Any]:
    """The kept entries of one artifact and, for a regime that trains its backbone (the two-phase view), its
    ``strength`` per source."""
    content = read_run_artifact(path)
    kept = {k: content[k] for k in _KEPT if k in content}
    if trained:
        kept["strength"] = {src: epoch_strength(content, src) for src in TWO_PHASE_SOURCES}
    return kept


def _evaluation_contents(root: Path, regime: str, summary: Mapping[str, Any],
                         trained: bool) -> dict[int, dict[str, Any]]:
    """``{global step: kept content}`` of the regime's evaluations of this run, ascending."""
    last_step = summary.get("global_step")
    last_epoch = summary.get("final_epoch")
    found = {}
    for path in evaluation_files(root, regime).values():
        content = _read(path, trained)
        step = int(content.get("global_step", 0))
        epoch = float(content.get("epoch_fraction", content.get("epoch", 0)))
        # files of an earlier, longer run of this regime (before a --force rerun) are not this run's
        if (last_step is not None and step > last_step) or (last_epoch is not None and epoch > last_epoch):
            continue
        found[step] = content
    return {s: found[s] for s in sorted(found)}


def _evaluation(content: Mapping[str, Any], dividends: Tensor) -> Evaluation:
    epoch = float(content.get("epoch_fraction", content.get("epoch", 0)))
    r2 = tuple(float(x) for x in content.get("r2_heldout", ()))
    return Evaluation(step=int(content.get("global_step", 0)), epoch=epoch_key(epoch), dividends=dividends,
                      strength=content.get("strength", {}), r2_heldout=r2)


def load_run(root: Path, regimes: StudyRegimes, seed: int | None = None) -> StudyRun:
    """Read every regime of the run in ``root`` (the study folder, or a seed's folder). The study must have passed
    :func:`~harsanyi_lightning.study.layout.check_study`."""
    stored = {}
    for name in regimes.names:
        summary = read_json(summary_path(root, name))
        trained = regimes.role(name) != "pretrain"  # the probe trains only a head: no two-phase view
        final = _read(regime_dir(root, name) / summary["final_artifact"], trained)
        stored[name] = (summary, final, _evaluation_contents(root, name, summary, trained))
    contents = [c for _, final, evaluations in stored.values() for c in (final, *evaluations.values())]
    estimates = [estimate_from_record(c) for c in contents]
    aligned = aligned_tables(estimates)
    tables = iter(aligned.tables)
    runs = {}
    for name, (summary, _, evaluations) in stored.items():
        final = next(tables)
        runs[name] = RegimeRun(summary=summary, final=final,
                               evaluations=tuple(_evaluation(c, next(tables)) for c in evaluations.values()),
                               losses=read_losses(tb_dir(root, name)))
    first = contents[0]
    return StudyRun(seed=seed, root=root, regimes=runs, n=estimates[0].n, orders=aligned.orders,
                    budget=first.get("budget"), estimator=estimates[0].estimator)
