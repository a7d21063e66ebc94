"""``InteractionTrainerCallback`` where a ``transformers.Trainer`` run is not a plain run to its last epoch: stopped at
``max_steps`` or by a stop request, resumed from a checkpoint, run on two processes. The callback is only put in
``callbacks=[...]``; everything else is what the Trainer hands it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning import InteractionTrainerCallback
from harsanyi_lightning.callbacks.artifact_layout import evaluation_files
from harsanyi_lightning.interactions import TextPool, compute_values, load_artifact
from harsanyi_lightning.lightning_modules.tiny_networks import tiny_bert_config, tiny_tokenizer
from tests.integration.hf_trainer_script import SENTENCES, SentenceDataset

ROOT = Path(__file__).resolve().parents[2]


class StopAt(transformers.TrainerCallback):
    """Asks the Trainer to stop: after global step ``step`` (``on_step_end``), or at its first evaluation."""

    def __init__(self, step: int | None = None, raise_at: int | None = None) -> None:
        self.step, self.raise_at = step, raise_at

    def on_step_end(self, args, state, control, **kwargs):
        if self.raise_at is not None and state.global_step == self.raise_at:
            raise RuntimeError(f"killed at step {state.global_step}")
        if self.step is not None and state.global_step == self.step:
            control.should_training_stop = True

    def on_evaluate(self, args, state, control, **kwargs):
        if self.step is None and self.raise_at is None:
            control.should_training_stop = True


def train(out: Path, *, epochs: int = 3, extra: tuple = (), resume: str | None = None, **args) -> InteractionTrainerCallback:
    """A tiny BERT on 8 sentences, batch 4 (2 steps per epoch), with the callback (n = 4, 3 sentences)."""
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    pool = TextPool([s for s, _ in SENTENCES], [y for _, y in SENTENCES], tokenizer, name="toy-reviews")
    callback = InteractionTrainerCallback(pool=pool, n=4, num_samples=3, batch_size=64, progress=False,
                                          at_steps=[1, 3, 5])
    options = dict(output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=4, learning_rate=5e-3,
                   save_strategy="no", report_to=["tensorboard"], use_cpu=True, disable_tqdm=True, seed=0,
                   logging_strategy="epoch")
    model = transformers.BertForSequenceClassification(tiny_bert_config(num_labels=2))
    dataset = SentenceDataset(tokenizer)
    trainer = transformers.Trainer(model=model, args=transformers.TrainingArguments(**{**options, **args}),
                                   train_dataset=dataset, eval_dataset=dataset, callbacks=[callback, *extra])
    trainer.train(resume_from_checkpoint=resume)
    return callback


def tensorboard(out: Path) -> EventAccumulator:
    (events,) = {p.parent for p in (out / "runs").rglob("events.out.tfevents.*")}
    ea = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    return ea


def steps_of(ea: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in ea.Scalars(tag)]


def test_max_steps_labels_the_epochs_as_the_trainer_counts_them_and_logs_no_extra_epoch(tmp_path):
    """max_steps=3 stops a quarter-epoch run at epoch 1.5: the final evaluation is step 3's, written as a step file
    with epoch fraction 1.5 and tagged 1.5 (not epoch 2); the callback's scalars add no ``train/epoch`` entry."""
    out = tmp_path / "run"
    callback = train(out, max_steps=3)
    folder = out / "interactions"
    assert [p.name for p in evaluation_files(folder).values()] == [
        "epoch_000.pt", "step_0000001.pt", "epoch_001.pt", "step_0000003.pt"]
    content = load_artifact(folder / "step_0000003.pt", "interactions")[0]
    assert (content["epoch"], content["epoch_fraction"], content["global_step"]) == (1, 1.5, 3)
    assert callback.history[3]["epoch_fraction"] == 1.5
    ea = tensorboard(out)
    assert {e.step: e.value for e in ea.Scalars("train/interactions/epoch")} == {0: 0.0, 1: 0.5, 2: 1.0, 3: 1.5}
    # the final evaluation and the Jaccard curve were logged while the integration was open
    assert steps_of(ea, "train/knowledge/jaccard_to_final") == [0, 1, 2, 3]
    assert json.loads((folder / "jaccard.json").read_text())["steps"] == [0, 1, 2, 3]
    # every train/epoch entry is one the Trainer logged itself (its loss once per epoch and its summary)
    assert steps_of(ea, "train/epoch") == steps_of(ea, "train/loss") + [3]


def test_a_stop_requested_at_an_evaluation_still_logs_the_final_files(tmp_path):
    """A callback stops training at the Trainer's first evaluation (the end of epoch 1, as early stopping does):
    the final evaluation is epoch 1's, and ``knowledge/jaccard_to_final`` reaches TensorBoard after the run."""
    out = tmp_path / "run"
    callback = train(out, extra=(StopAt(),), eval_strategy="epoch")
    assert sorted(callback.history) == [0, 1, 2]
    assert json.loads((out / "interactions" / "final.json").read_text())["file"] == "epoch_001.pt"
    ea = tensorboard(out)
    assert steps_of(ea, "train/knowledge/jaccard_to_final") == [0, 1, 2]
    assert steps_of(ea, "train/interactions/salient_count") == [0, 1, 2]


def test_a_resumed_run_gives_the_history_files_and_curve_of_an_uninterrupted_one(tmp_path):
    """Killed at step 4 and resumed from checkpoint-2 (saved before the end of epoch 1 was evaluated): the same
    evaluations, the same artifact names and the same Jaccard curve as the run that was never stopped."""
    whole = train(tmp_path / "whole", save_strategy="steps", save_steps=2)
    out = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="killed at step 4"):
        train(out, save_strategy="steps", save_steps=2, extra=(StopAt(raise_at=4),))
    resumed = train(out, save_strategy="steps", save_steps=2, resume=str(out / "checkpoint-2"))
    assert sorted(resumed.history) == sorted(whole.history) == [0, 1, 2, 3, 4, 5, 6]
    for step, entry in whole.history.items():
        mine = resumed.history[step]
        assert Path(mine["path"]).name == Path(entry["path"]).name
        assert (mine["epoch"], mine["epoch_fraction"]) == (entry["epoch"], entry["epoch_fraction"])
        a = load_artifact(mine["path"], "interactions")[0]["dividends"]
        b = load_artifact(entry["path"], "interactions")[0]["dividends"]
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
    def artifacts(folder: Path) -> list[str]:  # not the lock's files: the killed run held the lock in this process
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))

    assert artifacts(out / "interactions") == artifacts(tmp_path / "whole" / "interactions")
    ours, theirs = (json.loads((d / "interactions" / "jaccard.json").read_text()) for d in (out, tmp_path / "whole"))
    assert ours["steps"] == theirs["steps"] and ours["epoch_fractions"] == theirs["epoch_fractions"]
    assert ours["jaccard"] == pytest.approx(theirs["jaccard"], rel=1e-6)
    # the Trainer saves checkpoint-6 before its epoch ends: the history up to step 5 (a resume from it evaluates
    # the end of epoch 3 first, as checkpoint-2 above did for epoch 1)
    saved = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())["stateful_callbacks"]
    history = saved["InteractionTrainerCallback"]["attributes"]["recorder_state"]["history"]
    assert sorted(int(s) for s in history) == [0, 1, 2, 3, 4, 5]


def test_two_processes_evaluate_each_sample_once_and_rank_zero_writes(tmp_path):
    """``torchrun --nproc_per_node 2`` on the CPU (gloo): each process puts half of every evaluation's masked inputs
    through the model, and the artifacts hold the values of every sample, equal to one process's before training."""
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    str(ROOT / "tests" / "integration" / "hf_trainer_script.py"), str(out)],
                   check=True, env=env, cwd=str(tmp_path), capture_output=True, timeout=300)
    ranks = [json.loads((out / f"forwards_rank{r}.json").read_text()) for r in (0, 1)]
    evaluations = len(ranks[0]["history"])
    assert ranks[0]["history"] == ranks[1]["history"] == [0, 2, 4]
    per_evaluation = 4 * 2 ** 4  # 4 sentences of 4 words
    assert [r["forwards"] for r in ranks] == [evaluations * per_evaluation // 2] * 2
    first = load_artifact(out / "interactions" / "epoch_000.pt", "interactions")[0]
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(tiny_bert_config(num_labels=2))
    from harsanyi_lightning.interactions import AnnotatedSampleSet

    samples = AnnotatedSampleSet.load(out / "interactions" / "annotation.pt")
    torch.testing.assert_close(first["values"], compute_values(model, samples).cpu(), rtol=1e-5, atol=1e-6)
