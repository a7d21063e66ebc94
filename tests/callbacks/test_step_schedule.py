"""Evaluations inside an epoch (``every_n_steps``, ``at_steps``; docs/callback.md#evaluations-inside-an-epoch):
the scheduled global steps are hit exactly once (files, history, logged steps), an epoch end is never evaluated
twice, and a fit resumed inside an epoch keeps the schedule. The toy task has 4 batches per epoch here."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning.callbacks import EvaluationOptions, InteractionCallback
from harsanyi_lightning.callbacks.artifact_layout import evaluation_files, step_of, step_path
from harsanyi_lightning.interactions import ConfigError, load_artifact
from harsanyi_lightning.study import layout
from tests.callback_fixtures import ToyImageDataModule, ToyModule, make_trainer
from tests.callbacks.test_callback import scalars

BATCHES = 4  # 32 training images, batches of 8


class Kill(pl.Callback):
    """Stops the fit (an exception) before the batch after global step ``at``: the checkpoint of step ``at`` is
    written, the rest of the run is not (a killed run)."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.at:
            raise RuntimeError("killed")


def fit(root: Path, *, epochs: int, out: Path, extra=(), ckpt_path=None, accumulate: int = 1, **cb_kwargs):
    pl.seed_everything(0, verbose=False)
    cb = InteractionCallback(n=4, progress=False, output_dir=str(out), **cb_kwargs)
    loggers = [TensorBoardLogger(str(root), name="tb"), CSVLogger(str(root), name="csv")]
    trainer = make_trainer(root, max_epochs=epochs, callbacks=[cb, *extra], logger=loggers,
                           enable_checkpointing=bool(extra), accumulate_grad_batches=accumulate)
    module = ToyModule()
    trainer.fit(module, datamodule=ToyImageDataModule(num_train=8 * BATCHES), ckpt_path=ckpt_path)
    return trainer, module, cb


def tb_steps(trainer: pl.Trainer, tag: str) -> list[int]:
    ea = EventAccumulator(trainer.loggers[0].log_dir, size_guidance={"scalars": 0})
    ea.Reload()
    return [e.step for e in ea.Scalars(tag)]


def csv_steps(trainer: pl.Trainer, tag: str) -> list[int]:
    with open(Path(trainer.loggers[1].log_dir) / "metrics.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get(tag) not in (None, "")]


@pytest.mark.parametrize("kwargs, match", [
    (dict(every_n_steps=0), "every_n_steps=0 must be an integer >= 1"),
    (dict(every_n_steps=True), "every_n_steps=True"),
    (dict(every_n_steps=2.5), "every_n_steps=2.5"),
    (dict(at_steps=[25, 0]), r"at_steps=\[25, 0\] holds 0, not an integer >= 1"),
    (dict(at_steps=[-3]), "holds -3"),
    (dict(at_steps=[1.5]), "holds 1.5"),
    (dict(at_steps="25"), "at_steps='25' must be a list of integers"),
    (dict(at_steps=25), "at_steps=25 must be a list"),
])
def test_bad_step_options_name_the_option_and_the_fix(kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        EvaluationOptions(**kwargs)
    assert "e.g." in str(err.value)
    with pytest.raises(ConfigError, match=match):
        InteractionCallback(**kwargs)


def test_at_steps_are_kept_sorted_and_unique():
    cb = InteractionCallback(at_steps=[200, 25, 50, 25, 100], every_n_steps=7)
    assert cb.at_steps == cb.options.evaluation.at_steps == [25, 50, 100, 200] and cb.every_n_steps == 7
    assert EvaluationOptions(at_steps=(3, 1)).at_steps == [1, 3]


def test_step_file_names():
    assert step_path("out", 25) == Path("out") / "step_0000025.pt"
    assert step_path("out", 123456789).name == "step_123456789.pt"
    assert step_of("step_0000025.pt") == 25 and step_of("step_123456789.pt") == 123456789
    assert step_of("step_25.pt") is None and step_of("epoch_001.pt") is None and step_of("step_0000025.ckpt") is None


def test_at_steps_are_hit_once_each_with_files_history_and_logged_steps(tmp_path):
    """at_steps 1, 2, 4, 6, 9 over 2 epochs of 4 steps: 1, 2, 6 inside an epoch; 4 is epoch 1's end (one
    evaluation, the epoch file); 9 is past the end of training."""
    out = tmp_path / "out"
    trainer, module, cb = fit(tmp_path, epochs=2, out=out, at_steps=[1, 2, 4, 6, 9])
    assert sorted(cb.history) == [0, 1, 2, 4, 6, 8]
    assert len(module.eval_forward_state) == 6  # one forward pass per evaluation (4 samples x 16 masks)
    names = {s: p.name for s, p in evaluation_files(out).items()}
    assert names == {0: "epoch_000.pt", 1: "step_0000001.pt", 2: "step_0000002.pt", 4: "epoch_001.pt",
                     6: "step_0000006.pt", 8: "epoch_002.pt"}
    assert sorted(p.name for p in out.glob("*.pt")) == sorted([*names.values(), "annotation.pt"])
    expected = {0: (0, 0.0, 0), 1: (0, 0.25, 1), 2: (0, 0.5, 2), 4: (1, 1.0, 3), 6: (1, 1.5, 6), 8: (2, 2.0, 7)}
    for step, (epoch, fraction, log_step) in expected.items():
        content, _ = load_artifact(out / names[step], "interactions")
        assert (content["global_step"], content["epoch"], content["epoch_fraction"], content["log_step"]) == (
            step, epoch, fraction, log_step), step
        assert (cb.history[step]["epoch"], cb.history[step]["epoch_fraction"]) == (epoch, fraction)
    # inside an epoch at the global step; epoch ends as before, at Lightning's epoch-end step
    logged = [expected[s][2] for s in sorted(expected)]
    for tag in ("interactions/salient_count", "knowledge/jaccard_to_final"):
        assert sorted(tb_steps(trainer, tag)) == logged == sorted(csv_steps(trainer, tag)), tag
    ea = EventAccumulator(trainer.loggers[0].log_dir, size_guidance={"scalars": 0})
    ea.Reload()
    assert [e.value for e in ea.Scalars("interactions/epoch")] == [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    # the Jaccard curve covers every evaluation in step order
    jac = json.loads((out / "jaccard.json").read_text())
    assert jac["steps"] == [0, 1, 2, 4, 6, 8] and jac["epochs"] == [0, 0, 0, 1, 1, 2]
    assert jac["epoch_fractions"] == [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    assert len(jac["jaccard"]) == 6 and jac["jaccard"][-1] == 1.0 and (jac["final_step"], jac["final_epoch"]) == (8, 2)
    assert json.loads((out / "final.json").read_text())["file"] == "epoch_002.pt"
    # the study's wrapper reads the same folder
    study = tmp_path / "study"
    (study / "finetune").mkdir(parents=True)
    (study / "finetune" / "interactions").symlink_to(out)
    assert {s: p.name for s, p in layout.evaluation_files(study, "finetune").items()} == names


def test_every_n_steps_leaves_an_epoch_end_to_the_epoch_evaluation(tmp_path):
    """every_n_steps=2 with every epoch evaluated: steps 4 and 8 are epoch ends, evaluated once, as epoch files."""
    out = tmp_path / "out"
    trainer, module, cb = fit(tmp_path, epochs=2, out=out, every_n_steps=2)
    assert sorted(cb.history) == [0, 2, 4, 6, 8] and len(module.eval_forward_state) == 5
    assert [p.name for p in evaluation_files(out).values()] == [
        "epoch_000.pt", "step_0000002.pt", "epoch_001.pt", "step_0000006.pt", "epoch_002.pt"]


def test_a_step_at_an_unscheduled_epoch_end_is_a_step_file(tmp_path):
    """every_n_epochs=2: the end of epoch 1 (step 4) is not an epoch evaluation, so every_n_steps=2 evaluates it
    as a step file (epoch fraction 1.0); the end of training (step 8) is the epoch file."""
    out = tmp_path / "out"
    _, _, cb = fit(tmp_path, epochs=2, out=out, every_n_steps=2, every_n_epochs=2)
    assert [p.name for p in evaluation_files(out).values()] == [
        "epoch_000.pt", "step_0000002.pt", "step_0000004.pt", "step_0000006.pt", "epoch_002.pt"]
    assert (cb.history[4]["epoch"], cb.history[4]["epoch_fraction"]) == (1, 1.0)


def test_gradient_accumulation_evaluates_once_per_optimizer_step(tmp_path):
    """accumulate_grad_batches=2: 2 optimizer steps per epoch; every_n_steps=1 evaluates each step once."""
    out = tmp_path / "out"
    _, module, cb = fit(tmp_path, epochs=2, out=out, every_n_steps=1, accumulate=2)
    assert sorted(cb.history) == [0, 1, 2, 3, 4] and len(module.eval_forward_state) == 5
    assert [cb.history[s]["epoch_fraction"] for s in sorted(cb.history)] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert [p.name for p in evaluation_files(out).values()] == [
        "epoch_000.pt", "step_0000001.pt", "epoch_001.pt", "step_0000003.pt", "epoch_002.pt"]


def test_a_resume_inside_an_epoch_keeps_the_schedule(tmp_path):
    """Killed inside epoch 2 (after step 5); resumed from that step's checkpoint: the steps evaluated before
    are not redone, the later ones are hit, and the history is the uninterrupted run's."""
    at_steps = [2, 5, 6, 9, 10]
    _, _, straight = fit(tmp_path / "a", epochs=3, out=tmp_path / "a_out", at_steps=at_steps)
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), every_n_train_steps=1, save_top_k=-1, filename="{step}")
    out = tmp_path / "b_out"
    with pytest.raises(RuntimeError, match="killed"):
        fit(tmp_path / "b", epochs=3, out=out, at_steps=at_steps, extra=[ckpt, Kill(at=5)])
    assert sorted(p.name for p in out.glob("*_*.pt")) == ["epoch_000.pt", "epoch_001.pt", "step_0000002.pt",
                                                          "step_0000005.pt"]
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*_*.pt")}
    trainer, module, cb = fit(tmp_path / "b", epochs=3, out=out, at_steps=at_steps,
                              ckpt_path=str(tmp_path / "ckpt" / "step=5.ckpt"))
    assert sorted(cb.history) == sorted(straight.history) == [0, 2, 4, 5, 6, 8, 9, 10, 12]
    assert len(module.eval_forward_state) == 5  # 6, 8 (epoch 2), 9, 10, 12 (epoch 3): nothing twice, none missed
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*_*.pt") if p.name in before} == before
    assert sorted(tb_steps(trainer, "interactions/salient_count")) == [6, 7, 9, 10, 11]
    jac = json.loads((out / "jaccard.json").read_text())
    assert jac["steps"] == [0, 2, 4, 5, 6, 8, 9, 10, 12]
    assert jac["epoch_fractions"] == [0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 2.25, 2.5, 3.0]


def test_a_resume_from_the_last_batch_makes_the_epoch_evaluation_it_was_saved_before(tmp_path):
    """A checkpoint written at the last batch of epoch 1 (step 4) comes before that epoch's evaluation: the
    resumed fit makes it first (at step 4), then carries on."""
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), every_n_train_steps=1, save_top_k=-1, filename="{step}")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="killed"):
        fit(tmp_path, epochs=2, out=out, every_n_steps=3, extra=[ckpt, Kill(at=5)])
    _, module, cb = fit(tmp_path, epochs=2, out=out, every_n_steps=3, ckpt_path=str(tmp_path / "ckpt" / "step=4.ckpt"))
    assert sorted(cb.history) == [0, 3, 4, 6, 8] and len(module.eval_forward_state) == 3  # 4, 6, 8
    assert cb.history[4]["path"].endswith("epoch_001.pt")


@pytest.mark.parametrize("every_n_epochs, steps", [(1, [0, 2, 4, 6]), (5, [0, 2, 6])])
def test_a_step_at_max_steps_is_the_final_evaluation(tmp_path, every_n_epochs, steps):
    """max_steps=6 stops inside epoch 2: the scheduled step 6 is the run's final evaluation, made once at the end
    of training, labelled as Lightning counts the epochs trained (1.5, not 2): a step file, its ``epoch_fraction``
    and its ``interactions/epoch`` tag."""
    out = tmp_path / "out"
    pl.seed_everything(0, verbose=False)
    cb = InteractionCallback(n=4, progress=False, output_dir=str(out), at_steps=[2, 6], every_n_epochs=every_n_epochs)
    trainer = make_trainer(tmp_path, max_epochs=3, callbacks=[cb], max_steps=6)
    module = ToyModule()
    trainer.fit(module, datamodule=ToyImageDataModule(num_train=8 * BATCHES))
    assert sorted(cb.history) == steps and len(module.eval_forward_state) == len(steps)
    assert cb.history[6]["path"].endswith("step_0000006.pt") and not (out / "epoch_002.pt").exists()
    assert (cb.history[6]["epoch"], cb.history[6]["epoch_fraction"]) == (1, 1.5)
    assert json.loads((out / "final.json").read_text())["step"] == 6
    assert load_artifact(out / "step_0000006.pt", "interactions")[0]["epoch_fraction"] == 1.5
    assert list(scalars(trainer.log_dir)["interactions/epoch"].values())[-1] == 1.5


def test_a_resume_at_a_scheduled_step_not_yet_evaluated_evaluates_it_first(tmp_path):
    """A checkpoint written inside an epoch at a step the resumed fit schedules but whose run did not evaluate
    (its schedule had no such step): the resumed fit evaluates that step first, logged at that step."""
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), every_n_train_steps=1, save_top_k=-1, filename="{step}")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="killed"):
        fit(tmp_path, epochs=2, out=out, at_steps=[2], extra=[ckpt, Kill(at=5)])
    trainer, module, cb = fit(tmp_path, epochs=2, out=out, at_steps=[2, 5, 6],
                              ckpt_path=str(tmp_path / "ckpt" / "step=5.ckpt"))
    assert sorted(cb.history) == [0, 2, 4, 5, 6, 8] and len(module.eval_forward_state) == 3  # 5, 6, 8
    content, _ = load_artifact(out / "step_0000005.pt", "interactions")
    assert (content["epoch"], content["epoch_fraction"], content["log_step"]) == (1, 1.25, 5)
    assert sorted(tb_steps(trainer, "interactions/salient_count")) == [5, 6, 7]
