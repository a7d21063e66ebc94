"""The evaluation schedule as pure functions of a training position, and the two adapters' mapping of their
framework's counters to positions, on stand-in trainers (no fit): docs/callback.md#evaluations-inside-an-epoch."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from harsanyi_lightning.callbacks.evaluation_schedule import (
    EvaluationPoint,
    TrainingPosition,
    epoch_point,
    start_point,
    step_point,
)
from harsanyi_lightning.callbacks.lightning_loop import (
    batch_log_step,
    batch_position,
    end_position,
    epoch_end_log_step,
    epoch_end_position,
    start_position,
)
from harsanyi_lightning.callbacks.options import EvaluationOptions
from harsanyi_lightning.callbacks.trainer_loop import trainer_position


def options(**kw) -> EvaluationOptions:
    return EvaluationOptions(**kw)


# ---------------------------------------------------------------- the schedule


def test_a_position_counts_completed_epochs_and_knows_an_epoch_boundary():
    inside = TrainingPosition(5, 1.25)
    assert (inside.epoch, inside.at_epoch_end) == (1, False)
    end = TrainingPosition(8, 2.0)
    assert (end.epoch, end.at_epoch_end) == (2, True)
    unknown = TrainingPosition(3, math.nan, epoch=0)  # an epoch of unknown length: inside it
    assert not unknown.at_epoch_end


def test_training_starts_with_step_0_and_a_resume_starts_where_it_stopped_when_scheduled():
    assert start_point(options(), TrainingPosition(0, 0.0)) == EvaluationPoint(0, 0, 0.0, True)
    assert start_point(options(every_n_epochs=2), TrainingPosition(8, 1.0)) is None  # epoch 1 is not scheduled
    assert start_point(options(every_n_epochs=2), TrainingPosition(16, 2.0)) == EvaluationPoint(16, 2, 2.0, True)
    assert start_point(options(at_steps=[5]), TrainingPosition(5, 1.25)) == EvaluationPoint(5, 1, 1.25, False)
    assert start_point(options(at_steps=[6]), TrainingPosition(5, 1.25)) is None


@pytest.mark.parametrize("position, expected", [
    (TrainingPosition(2, 0.5, max_epochs=3), EvaluationPoint(2, 0, 0.5, False)),  # a scheduled step inside epoch 1
    (TrainingPosition(3, 0.75, max_epochs=3), None),  # not scheduled
    (TrainingPosition(4, 1.0, max_epochs=3), None),  # the epoch's last batch: left to the epoch's evaluation
    (TrainingPosition(6, 1.5, max_epochs=3, stops=True), None),  # max_steps: left to the end of training
])
def test_a_step_is_evaluated_once_inside_an_epoch(position, expected):
    assert step_point(options(every_n_steps=2), position) == expected


def test_a_scheduled_step_on_an_unscheduled_epoch_end_is_a_step_file():
    point = step_point(options(every_n_epochs=2, at_steps=[4]), TrainingPosition(4, 1.0, max_epochs=3))
    assert point == EvaluationPoint(4, 1, 1.0, False) and point.name == "step_0000004"


def test_an_epoch_end_is_evaluated_when_scheduled_and_the_last_one_always():
    every2 = options(every_n_epochs=2)
    assert epoch_point(every2, TrainingPosition(4, 1.0, max_epochs=3)) is None
    assert epoch_point(every2, TrainingPosition(8, 2.0, max_epochs=3)) == EvaluationPoint(8, 2, 2.0, True)
    assert epoch_point(every2, TrainingPosition(12, 3.0, max_epochs=3)) == EvaluationPoint(12, 3, 3.0, True)
    # an epoch max_steps cut short is no epoch end: the end of training evaluates it at the fraction reached
    assert epoch_point(options(), TrainingPosition(6, 1.5, max_epochs=3)) is None
    final = EvaluationPoint.at(TrainingPosition(6, 1.5))
    assert (final.epoch, final.epoch_fraction, final.name, final.logged_epoch) == (1, 1.5, "step_0000006", 1.5)


# ---------------------------------------------------------------- Lightning's hooks


def lightning(*, epoch: int, step: int, done: int, total: float = 4, max_epochs: int = 3, max_steps: int = -1,
              last: bool = False, stepped: int | None = None) -> SimpleNamespace:
    """A stand-in for a Lightning trainer's counters."""
    progress = SimpleNamespace(current=SimpleNamespace(processed=done), is_last_batch=last)
    loop = SimpleNamespace(batch_progress=progress, _batches_that_stepped=step if stepped is None else stepped)
    return SimpleNamespace(current_epoch=epoch, global_step=step, num_training_batches=total, max_epochs=max_epochs,
                           max_steps=max_steps, fit_loop=SimpleNamespace(epoch_loop=loop))


def test_lightning_batch_ends_map_to_positions():
    assert batch_position(lightning(epoch=1, step=6, done=2), 1) == TrainingPosition(6, 1.5, 1, 3, False)
    # the epoch's last batch completes the epoch
    assert batch_position(lightning(epoch=1, step=8, done=4), 3) == TrainingPosition(8, 2.0, 2, 3, False)
    # at max_steps training stops after this batch
    assert batch_position(lightning(epoch=1, step=6, done=2, max_steps=6), 1).stops
    # an iterable data set of unknown length: the fraction is unknown, the last batch still ends the epoch
    unknown = batch_position(lightning(epoch=0, step=3, done=3, total=math.inf), 2)
    assert math.isnan(unknown.epoch_fraction) and unknown.epoch == 0
    assert batch_position(lightning(epoch=0, step=5, done=5, total=math.inf, last=True), 4).at_epoch_end


def test_lightning_epoch_and_training_ends_map_to_positions():
    assert epoch_end_position(lightning(epoch=1, step=8, done=4)) == TrainingPosition(8, 2.0, 2, 3)
    cut = epoch_end_position(lightning(epoch=1, step=6, done=2, max_steps=6))  # max_steps inside epoch 2
    assert (cut.epoch_fraction, cut.at_epoch_end) == (1.5, False)
    # Lightning counts the cut epoch as done by the end of training: the position is the fraction reached
    assert end_position(lightning(epoch=2, step=6, done=2, max_steps=6)) == TrainingPosition(6, 1.5, 1)
    assert end_position(lightning(epoch=3, step=12, done=4)) == TrainingPosition(12, 3.0, 3)
    assert start_position(lightning(epoch=0, step=0, done=0)) == TrainingPosition(0, 0.0, 0, 3)
    assert start_position(lightning(epoch=1, step=5, done=1)) == TrainingPosition(5, 1.25, 1, 3)


def test_lightning_log_steps_put_the_scalars_beside_the_loss():
    trainer = lightning(epoch=1, step=8, done=4, stepped=8)
    assert epoch_end_log_step(trainer, TrainingPosition(8, 2.0)) == 7  # the epoch-end metrics' step
    assert epoch_end_log_step(trainer, TrainingPosition(0, 0.0)) == 0
    assert batch_log_step(lightning(epoch=0, step=2, done=2, stepped=2)) == 3  # the next batch's loss


# ---------------------------------------------------------------- the Hugging Face Trainer's hooks


def hf(step: int, epoch: float, *, epochs: float = 3, max_steps: int = 12, stop: bool = False):
    return (SimpleNamespace(global_step=step, epoch=epoch, num_train_epochs=epochs, max_steps=max_steps),
            SimpleNamespace(should_training_stop=stop))


def test_the_trainers_state_maps_to_positions_as_the_trainer_counts_epochs():
    assert trainer_position(*hf(5, 1.25)) == TrainingPosition(5, 1.25, 1, 3, False)
    assert trainer_position(*hf(8, 2.0)).at_epoch_end
    assert trainer_position(*hf(12, 3.0)).stops  # max_steps reached
    assert trainer_position(*hf(6, 1.5, stop=True)) == TrainingPosition(6, 1.5, 1, 3, True)  # a stop request
    assert trainer_position(*hf(0, None)) == TrainingPosition(0, 0.0, 0, 3, False)  # before the first step
