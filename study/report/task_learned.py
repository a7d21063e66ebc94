"""Models that did not learn the task (docs/study.md#models-that-did-not-learn).

A study's findings describe what its models know; a model at chance knows nothing of the task, and numbers about
its interactions measure an untrained network. A regime **did not learn** when

- its validation accuracy's interval does not lie wholly above chance, ``1 / C`` for ``C`` classes (the interval
  contains or touches chance, or lies below it: the verdict rule of :mod:`~harsanyi_lightning.study.report.verdicts`
  with threshold ``1 / C``), or
- its training loss did not fall: the last epoch's mean training loss is no lower than the first epoch's **and** no
  lower than ``ln C``, the cross-entropy of a uniform guess over the classes (with one epoch trained, no lower than
  ``ln C``). A loss that fell during the first epoch and then stayed flat is not flagged: the first epoch's mean
  already holds the fall.

``C`` is the data module's ``num_classes``, which each regime's ``summary.json`` records; a study written before
it was recorded takes the number of distinct labels of its sample set (at most ``C``, so chance is read no lower than
it is). Without an accuracy interval (the number of validation examples was not recorded) only the loss rule
applies.

:func:`learned_checks` gives one :class:`LearnedCheck` per regime (``report.json``'s ``learned``);
:func:`not_learned` the regimes that did not learn with the reason, which the findings that need them give for
being ``not measurable`` (:func:`~harsanyi_lightning.study.report.findings.paper_findings`);
:func:`learned_markdown` the warning at the top of ``report.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .number_format import interval_text, number

if TYPE_CHECKING:
    from torch import Tensor

    from .bootstrap import Interval

__all__ = ["LEARNED_RULE", "LearnedCheck", "learned_checks", "learned_markdown", "not_learned",
           "unmeasurable_reasons"]

LEARNED_RULE = ("a model did not learn when its validation accuracy's interval does not lie wholly above chance "
                 "(1 / number of classes), or when its training loss did not fall: the last epoch's mean is no lower "
                 "than the first epoch's and no lower than ln(number of classes), the loss of a uniform guess")


@dataclass(frozen=True)
class LearnedCheck:
    """Whether one regime learned the task, and the numbers that say so (``report.json``'s ``learned``)."""

    regime: str
    num_classes: int | None  #: ``C``; ``None`` when unknown
    classes_from: str  #: "summary" (the data module's, recorded) or "sample set" (its distinct labels)
    chance: float | None  #: ``1 / C``
    accuracy: tuple[float, float, float] | None  #: validation accuracy ``(estimate, low, high)``
    loss_first: float | None  #: mean training loss of the first epoch
    loss_last: float | None  #: ... of the last epoch
    learned: bool
    why: str = ""  #: why it did not learn ("" when it did)


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _check(regime: str, classes: int | None, source: str, accuracy: Interval | None,
           train_loss: Mapping[int, float]) -> LearnedCheck:
    chance = 1.0 / classes if classes else None
    acc = (accuracy.estimate, accuracy.low, accuracy.high) if accuracy is not None else None
    epochs = sorted(train_loss)
    first = train_loss[epochs[0]] if epochs else None
    last = train_loss[epochs[-1]] if epochs else None
    reasons = []
    if chance is not None and acc is not None and _finite(*acc) and not acc[1] > chance:
        reasons.append(f"validation accuracy {interval_text(accuracy, '%')} not above chance "
                       f"({chance:.1%}, {classes} classes)")
    if classes and _finite(first, last) and last >= first and last >= math.log(classes):
        seen = (f"{number(last, '.4f')} after one epoch" if len(epochs) == 1 else
                f"did not fall ({number(first, '.4f')} in epoch {epochs[0]}, {number(last, '.4f')} in epoch {epochs[-1]})")
        reasons.append(f"training loss {seen}, not below ln {classes} = {math.log(classes):.4f} (a uniform guess)")
    return LearnedCheck(regime=regime, num_classes=classes, classes_from=source, chance=chance, accuracy=acc,
                         loss_first=first, loss_last=last, learned=not reasons, why="; ".join(reasons))


def learned_checks(summaries: Mapping[str, Mapping[str, Any]], intervals: Mapping[str, Any],
                    train_losses: Mapping[str, Mapping[int, float]], labels: Tensor | None = None) -> dict[str, LearnedCheck]:
    """One :class:`LearnedCheck` per regime of ``summaries`` (each regime's ``summary.json``), from the intervals
    ``accuracy/<regime>`` and each regime's training loss per epoch; ``labels``: the sample set's labels, whose
    distinct values stand in for the number of classes where a summary does not record it."""
    from_labels = int(labels.unique().numel()) if labels is not None and labels.numel() else None
    out = {}
    for regime, summary in summaries.items():
        recorded = summary.get("num_classes")
        classes, source = (int(recorded), "summary") if recorded else (from_labels, "sample set")
        accuracy = intervals.get(f"accuracy/{regime}")
        out[regime] = _check(regime, classes if classes and classes > 1 else None, source,
                             accuracy if hasattr(accuracy, "low") else None, train_losses.get(regime, {}))
    return out


def not_learned(checks: Mapping[str, LearnedCheck]) -> dict[str, str]:
    """``{regime: why}`` of the regimes that did not learn, in the words a finding's ``why`` uses."""
    return {s: f"did not learn the task: {c.why}" for s, c in checks.items() if not c.learned}


def learned_markdown(checks: Mapping[str, LearnedCheck]) -> list[str]:
    """The warning at the top of ``report.md`` when a model did not learn (nothing when every model did): which
    models, why, and what that makes of the findings; a study none of whose models learned is called a smoke test."""
    failed = [c for c in checks.values() if not c.learned]
    if not failed:
        return []
    names = [c.regime for c in failed]
    every = len(failed) == len(checks)
    L = [("> **Warning: no model learned the task.** " if every else
          f"> **Warning: {' and '.join(names)} did not learn the task.** ")
         + "The findings about the interactions of a model that did not learn are **not measurable** (each says why): "
         "its interactions are those of a network that has not learned the task, not knowledge.", ">"]
    L += [f"> - **{c.regime}**: {c.why}." for c in failed]
    if every:
        L += [">", "> **This study is a smoke test** (it shows the pipeline runs end to end), **not a measurement**: "
              "train longer, on more data or with another learning rate before reading its numbers."]
    L += [">", f"> Rule: {LEARNED_RULE} (docs/study.md#models-that-did-not-learn).", ""]
    return L


def unmeasurable_reasons(weak: Sequence[str], checks: Mapping[str, LearnedCheck]) -> dict[str, str]:
    """``{regime: why}`` of every model whose interactions the findings cannot judge: the near-constant ones
    (:data:`~harsanyi_lightning.study.report.findings.WEAK_WHY`) and those that did not learn (:func:`not_learned`)."""
    from .findings import WEAK_WHY

    reasons = {s: WEAK_WHY for s in weak}
    for s, why in not_learned(checks).items():
        reasons[s] = f"{reasons[s]} and {why}" if s in reasons else why
    return reasons
