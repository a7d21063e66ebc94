"""What the report reads from one run of a study (one training seed): each regime's final dividends, its
evaluations in training order, its summary and its losses (docs/study.md, section "Report").

An evaluation is identified by its global training step (``global_step`` in the artifact) and placed at
its fractional epoch ``epoch_fraction`` (epochs trained; artifacts written before in-epoch evaluations
existed carry only the integer ``epoch``, which is the same thing at an epoch's end;
docs/method.md#uncertainty-and-verdicts). Curves are keyed by that epoch (:func:`epoch_key`: an int at an
epoch's end, so ``1`` and not ``1.0``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .layout import STAGES, evaluation_files, read_json, stage_dir, summary_path, tb_dir
from .report_inputs import load_dividends, read_losses
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
    """One stored evaluation of a regime: ``dividends[sample, mask]`` (float64) at a global step."""

    step: int
    epoch: int | float  #: epochs trained (fractional inside an epoch), see :func:`epoch_key`
    dividends: Tensor
    strength: Mapping[str, Any] = field(default_factory=dict)  #: two-phase strengths per source


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
    """The three regimes of one run (``seed`` None for a single-seed study)."""

    seed: int | None
    root: Path
    regimes: Mapping[str, RegimeRun]


def _evaluations(root: Path, stage: str, summary: Mapping[str, Any]) -> tuple[Evaluation, ...]:
    last_step = summary.get("global_step")
    last_epoch = summary.get("final_epoch")
    found = {}
    for path in evaluation_files(root, stage).values():
        dividends, content = load_dividends(path)
        step = int(content.get("global_step", 0))
        epoch = float(content.get("epoch_fraction", content.get("epoch", 0)))
        # files of an earlier, longer run of this stage (before a --force rerun) are not this run's
        if (last_step is not None and step > last_step) or (last_epoch is not None and epoch > last_epoch):
            continue
        strength = ({src: epoch_strength(content, src) for src in TWO_PHASE_SOURCES}
                    if stage in TWO_PHASE_REGIMES else {})
        found[step] = Evaluation(step=step, epoch=epoch_key(epoch), dividends=dividends, strength=strength)
    return tuple(found[s] for s in sorted(found))


def load_run(root: Path, seed: int | None = None) -> StudyRun:
    """Read the three regimes of the run in ``root`` (the study folder, or a seed's folder). The study must
    have passed :func:`~harsanyi_lightning.study.layout.check_study`."""
    regimes = {}
    for stage in STAGES:
        summary = read_json(summary_path(root, stage))
        final, _ = load_dividends(stage_dir(root, stage) / summary["final_artifact"])
        regimes[stage] = RegimeRun(summary=summary, final=final, evaluations=_evaluations(root, stage, summary),
                                   losses=read_losses(tb_dir(root, stage)))
    return StudyRun(seed=seed, root=root, regimes=regimes)
