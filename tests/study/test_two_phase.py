"""The two-phase rule and its statements (docs/study.md, "The two-phase statement and its rule"), on
hand-made salient strengths: every verdict at its edges, no study run."""
from __future__ import annotations

import math

import pytest
import torch

from harsanyi_lightning.study.report.two_phase import (
    BOTH,
    FIRST,
    MIN_EPOCHS,
    MIN_SHIFT,
    NEITHER,
    NOT_MEASURABLE,
    SECOND,
    SOURCES,
    compute_two_phase,
    epoch_strength,
    mean_order,
    statements,
    two_phase_curve,
    two_phase_verdict,
)


def at_order(n: int, weights: dict[int, float]) -> dict[str, list[float]]:
    """An epoch's salient strength with ``weights[k]`` at order ``k`` (split evenly into I > 0 and I < 0)."""
    strength = [weights.get(k, 0.0) for k in range(1, n + 1)]
    return {"positive": [w / 2 for w in strength], "negative": [w / 2 for w in strength]}


def curve_with_mean_orders(n: int, orders: list[int], epochs: list[int] | None = None):
    """A curve whose epochs hold all their strength at one order each, so ``m_e`` is that order exactly."""
    epochs = list(range(len(orders))) if epochs is None else epochs
    return two_phase_curve({e: at_order(n, {k: 1.0}) for e, k in zip(epochs, orders)})


def test_mean_order_weighs_orders_by_strength():
    assert mean_order([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]) == 2.0
    assert mean_order([0.0, 3.0], [0.0, 1.0]) == 2.0
    assert mean_order([0.25, 0.0], [0.0, 0.75]) == pytest.approx(1.75)
    assert math.isnan(mean_order([0.0, 0.0], [0.0, 0.0]))


def test_the_curve_keeps_epochs_with_a_strength_in_order():
    n = 3
    curve = two_phase_curve({2: at_order(n, {3: 2.0}), 0: at_order(n, {1: 4.0}), 1: None})
    assert curve.epochs == (0, 2)
    assert curve.positive == ((2.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    assert curve.total == (4.0, 2.0) and curve.mean_order == (1.0, 3.0)
    assert curve.verdict is None
    assert two_phase_curve({0: None, 1: None}) is None


@pytest.mark.parametrize("orders, expected, turning", [
    ([3, 2, 3], BOTH, 1),        # falls by one order, then rises by one: both shifts exactly 0.05·20
    ([3, 2, 2], FIRST, 1),       # ties: the first lowest epoch is the turning epoch; nothing after it
    ([2, 3, 4], SECOND, 0),      # lowest at the first epoch: no first phase
    ([4, 3, 2], FIRST, 2),       # lowest at the last epoch: no second phase
])
def test_each_phase_is_seen_at_a_shift_of_exactly_min_shift_n(orders, expected, turning):
    n = 20  # MIN_SHIFT·n = 1 order
    assert MIN_SHIFT * n == 1.0
    v = two_phase_verdict(curve_with_mean_orders(n, orders), n)
    assert (v.verdict, v.turning_epoch) == (expected, turning)
    assert (v.phase1, v.phase2) == (expected in (BOTH, FIRST), expected in (BOTH, SECOND))
    assert (v.first_epoch, v.last_epoch, v.shift) == (0, len(orders) - 1, 1.0)
    assert v.why == (f"mean order {orders[0]:.2f} at epoch 0, lowest {orders[turning]:.2f} at epoch {turning}, "
                     f"{orders[-1]:.2f} at epoch {len(orders) - 1}; a phase needs a shift of 1.00 orders")


def test_a_shift_just_under_min_shift_n_is_neither_phase():
    n = 21  # MIN_SHIFT·n = 1.05 orders; the curve moves by 1
    v = two_phase_verdict(curve_with_mean_orders(n, [3, 2, 3]), n)
    assert (v.verdict, v.phase1, v.phase2, v.turning_epoch) == (NEITHER, False, False, 1)


def test_a_flat_curve_is_neither_phase():
    v = two_phase_verdict(curve_with_mean_orders(10, [2, 2, 2, 2]), 10)
    assert (v.verdict, v.turning_epoch) == (NEITHER, 0)


def test_the_epochs_are_named_by_their_numbers():
    v = two_phase_verdict(curve_with_mean_orders(20, [3, 2, 3], epochs=[0, 5, 10]), 20)
    assert (v.verdict, v.turning_epoch, v.first_epoch, v.last_epoch) == (BOTH, 5, 0, 10)


def test_fewer_than_min_epochs_is_not_measurable():
    v = two_phase_verdict(curve_with_mean_orders(20, [3, 1]), 20)
    assert MIN_EPOCHS == 3
    assert (v.verdict, v.phase1, v.phase2, v.turning_epoch) == (NOT_MEASURABLE, None, None, None)
    assert v.why == "only 2 evaluated epoch(s); the rule needs at least 3"
    assert (v.first_epoch, v.last_epoch) == (0, 1)


def test_an_epoch_without_salient_interactions_is_not_measurable():
    n = 4
    curve = two_phase_curve({0: at_order(n, {3: 1.0}), 1: at_order(n, {}), 2: at_order(n, {2: 1.0})})
    v = two_phase_verdict(curve, n)
    assert v.verdict == NOT_MEASURABLE and v.why == "no salient interaction at epoch(s) [1]"


def test_a_near_constant_model_is_not_measurable_whatever_its_curve():
    v = two_phase_verdict(curve_with_mean_orders(20, [3, 2, 3]), 20, weak=True)
    assert v.verdict == NOT_MEASURABLE and "near-constant" in v.why and v.turning_epoch is None


def test_compute_two_phase_judges_each_regime_and_source():
    n = 20
    strengths = {
        "harsanyi": {"finetune": {e: at_order(n, {k: 1.0}) for e, k in enumerate([3, 2, 2])},
                     "scratch": {e: at_order(n, {k: 1.0}) for e, k in enumerate([3, 2, 3])}},
        "and_or": {"finetune": {0: None, 1: None, 2: None},  # artifacts without AND-OR interactions
                   "scratch": {e: at_order(n, {k: 1.0}) for e, k in enumerate([3, 2, 3])}},
    }
    out = compute_two_phase(strengths, n)
    assert {src: sorted(curves) for src, curves in out.items()} == {"harsanyi": ["finetune", "scratch"],
                                                                    "and_or": ["scratch"]}
    assert out["harsanyi"]["finetune"].verdict.verdict == FIRST
    assert out["harsanyi"]["scratch"].verdict.verdict == BOTH
    weak = compute_two_phase(strengths, n, weak=("scratch",))
    assert weak["harsanyi"]["scratch"].verdict.verdict == NOT_MEASURABLE
    assert weak["harsanyi"]["finetune"].verdict.verdict == FIRST
    assert compute_two_phase({"and_or": {"scratch": {0: None}}}, n) == {}


def judged(n: int, **orders: list[int]) -> dict:
    """``{"harsanyi": {regime: judged curve}}`` for the given mean orders per regime."""
    return compute_two_phase({"harsanyi": {regime: {e: at_order(n, {k: 1.0}) for e, k in enumerate(ks)}
                                           for regime, ks in orders.items()}}, n)


def test_statements_say_which_models_show_both_phases():
    lines = statements(judged(20, finetune=[3, 2, 2], scratch=[3, 2, 3]))
    assert lines[0] == "This run shows the two phases for scratch (Harsanyi (AND) dividends)."
    assert lines[1].startswith("finetune, Harsanyi (AND) dividends: **first phase only** (mean order 3.00 at epoch 0")
    assert lines[1].endswith("a phase needs a shift of 1.00 orders).")
    assert lines[2].startswith("scratch, Harsanyi (AND) dividends: **shows both phases** (")
    assert len(lines) == 3


def test_statements_point_at_the_scratch_model_when_it_does_not_show_both():
    lines = statements(judged(20, finetune=[3, 2, 3], scratch=[2, 3, 4]), ["scratch"])
    assert lines[0] == ("This run shows the two phases for finetune (Harsanyi (AND) dividends). The paper's claim is "
                        "about training from a random initialisation, which is the scratch model here; the other "
                        "models start from pre-trained weights.")
    assert "scratch, Harsanyi (AND) dividends: **second phase only**" in lines[2]


def test_statements_when_no_model_shows_both_phases():
    lines = statements(judged(21, finetune=[3, 2, 3]))
    assert lines == ["This run does not show both phases for any model.",
                     "finetune, Harsanyi (AND) dividends: **neither phase** (mean order 3.00 at epoch 0, lowest 2.00 "
                     "at epoch 1, 3.00 at epoch 2; a phase needs a shift of 1.05 orders)."]
    assert statements({}) == ["This run does not show both phases for any model."]


def test_statements_of_a_source_per_line():
    n = 20
    two_phase = compute_two_phase({src: {"scratch": {e: at_order(n, {k: 1.0}) for e, k in enumerate([3, 2, 3])}}
                                   for src in SOURCES}, n, weak=())
    lines = statements(two_phase)
    assert lines[0] == ("This run shows the two phases for scratch (Harsanyi (AND) dividends); "
                        "scratch (AND-OR interactions).")
    assert [line.split(":")[0] for line in lines[1:]] == [f"scratch, {SOURCES[src]}" for src in SOURCES]


def test_epoch_strength_of_the_harsanyi_dividends():
    # n = 2: masks {}, {0}, {1}, {0, 1}; I({0}) = 1, I({0, 1}) = -2, both salient (> 0.05·2)
    content = {"estimator": "exact", "n": 2, "dividends": torch.tensor([[0.5, 1.0, 0.0, -2.0]], dtype=torch.float32)}
    assert epoch_strength(content, "harsanyi") == {"positive": [1.0, 0.0], "negative": [0.0, 2.0]}
    assert epoch_strength(content, "and_or") is None  # this artifact holds no AND-OR interactions
    with pytest.raises(ValueError, match="source='shapley'"):
        epoch_strength(content, "shapley")
