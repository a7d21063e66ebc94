"""``InteractionTrainerCallback`` on a ``transformers.Trainer``: a tiny BERT classifier (built from a config,
no download) fine-tuned for two epochs writes an interaction artifact per epoch, and the Trainer's
TensorBoard integration holds the interaction scalars at the Trainer's steps (0 before training, the
global step at each epoch end); with a reference the knowledge curves are logged too."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import transformers
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning import InteractionTrainerCallback
from harsanyi_lightning.interactions import AnnotatedSampleSet, ConfigError, TextPool, load_artifact
from harsanyi_lightning.lightning_modules.tiny_networks import tiny_bert_config, tiny_tokenizer

#: four-word sentences (the sample set's n = 4 words) and longer ones, labelled by a cue word
SENTENCES = [
    ("a truly great film", 1), ("a truly awful film", 0), ("great acting and story", 1),
    ("awful acting and story", 0), ("the plot is great", 1), ("the plot is awful", 0),
    ("what a great cast here", 1), ("what an awful cast here", 0),
]
STEPS_PER_EPOCH = 2  # 8 sentences, batch 4
#: eight-word sentences for the sparse estimator (n = 8: a budget below 2**n that its minimum allows)
LONG_SENTENCES = [
    ("i think this is a truly great film", 1), ("i think this is a truly awful film", 0),
    ("the acting and the story are great here", 1), ("the acting and the story are awful here", 0),
    ("to be honest the plot is great overall", 1), ("to be honest the plot is awful overall", 0),
    ("what a great cast they found for this", 1), ("what an awful cast they found for this", 0),
]


class SentenceDataset(torch.utils.data.Dataset):
    def __init__(self, tokenizer, sentences=SENTENCES) -> None:
        enc = tokenizer([s for s, _ in sentences], padding="max_length", max_length=16, truncation=True,
                        return_tensors="pt")
        self.rows = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                      "labels": torch.tensor(label)} for i, (_, label) in enumerate(sentences)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def fine_tune(tmp: Path, name: str, *, epochs: int = 2, report_to: tuple[str, ...] = ("tensorboard",),
              logging: dict | None = None, sentences=SENTENCES,
              **callback_options) -> tuple[InteractionTrainerCallback, Path]:
    """``epochs`` epochs of a tiny BERT with the callback (the loss logged once per epoch unless ``logging``
    says otherwise); the callback and the run's output folder."""
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    model = transformers.BertForSequenceClassification(tiny_bert_config(num_labels=2))
    pool = TextPool([s for s, _ in sentences], [y for _, y in sentences], tokenizer, name="toy-reviews")
    callback = InteractionTrainerCallback(pool=pool, **{"n": 4, "num_samples": 3, "batch_size": 64, "progress": False,
                                                        **callback_options})
    out = tmp / name
    args = transformers.TrainingArguments(
        output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=4, learning_rate=5e-3,
        save_strategy="no", report_to=list(report_to), use_cpu=True, disable_tqdm=True, seed=0,
        **(logging or {"logging_strategy": "epoch"}),
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=SentenceDataset(tokenizer, sentences),
                                   callbacks=[callback])  # nothing else: the callback finds what it logs through
    trainer.train()
    return callback, out


def tensorboard_scalars(out: Path) -> dict[str, dict[int, float]]:
    (events,) = {p.parent for p in (out / "runs").rglob("events.out.tfevents.*")}
    ea = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return {tag: {e.step: e.value for e in ea.Scalars(tag)} for tag in ea.Tags()["scalars"]}, ea


def test_trainer_run_writes_every_epoch_and_logs_at_the_trainer_steps(tmp_path):
    callback, out = fine_tune(tmp_path, "first")
    folder = out / "interactions"
    assert sorted(p.name for p in folder.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    anno = AnnotatedSampleSet.load(folder / "annotation.pt")
    assert anno.n == 4 and len(anno) == 3 and anno.meta["pool"] == "toy-reviews"
    steps = [0, STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    for epoch, step in enumerate(steps):
        content = load_artifact(folder / f"epoch_{epoch:03d}.pt", "interactions")[0]
        assert content["values"].shape == (3, 16) and content["annotation_hash"] == anno.hash
        assert (content["epoch"], content["global_step"], content["log_step"]) == (epoch, step, step)
        assert content["model"] == "BertForSequenceClassification" and content["dataset"] == "toy-reviews"
        assert "shapley" in content  # the extras of the shared evaluation
    first = load_artifact(folder / "epoch_000.pt", "interactions")[0]["values"]
    last = load_artifact(folder / "epoch_002.pt", "interactions")[0]["values"]
    assert not torch.allclose(first, last)  # the model trained between the evaluations
    jac = json.loads((folder / "jaccard.json").read_text())
    assert jac["epochs"] == [0, 1, 2] and jac["jaccard"][-1] == 1.0
    assert json.loads((folder / "final.json").read_text())["file"] == "epoch_002.pt"
    assert sorted(callback.history) == steps  # keyed by global step
    assert [callback.history[s]["epoch"] for s in steps] == [0, 1, 2]

    scalars, ea = tensorboard_scalars(out)
    assert sorted(scalars["train/loss"]) == steps[1:]
    for tag in ("interactions/salient_count", "interactions/strength/order_1", "interactions/strength/order_4",
                "interactions/matching_error", "interactions/epoch", "knowledge/jaccard_to_final"):
        assert sorted(scalars[f"train/{tag}"]) == steps, tag
    assert [scalars["train/interactions/epoch"][s] for s in steps] == [0.0, 1.0, 2.0]
    assert [scalars["train/knowledge/jaccard_to_final"][s] for s in steps] == pytest.approx(jac["jaccard"], rel=1e-6)
    assert [img.step for img in ea.Images("interactions/strength_by_order")] == steps
    assert "custom_scalars__config__" in ea.Tags()["tensors"]
    assert not any(tag.startswith("train/knowledge/preserve") for tag in scalars)  # no reference, no knowledge/*


def test_trainer_evaluates_at_steps_inside_an_epoch(tmp_path):
    """every_n_steps=1 with every second epoch: steps 1, 2 (the unscheduled end of epoch 1) and 3 inside an
    epoch; at_steps=[4] is the last step, left to the final epoch's evaluation (one per global step)."""
    from harsanyi_lightning.callbacks.artifact_layout import evaluation_files

    callback, out = fine_tune(tmp_path, "steps", every_n_steps=1, every_n_epochs=2, at_steps=[4])
    folder = out / "interactions"
    assert [p.name for p in evaluation_files(folder).values()] == [
        "epoch_000.pt", "step_0000001.pt", "step_0000002.pt", "step_0000003.pt", "epoch_002.pt"]
    assert [callback.history[s]["epoch_fraction"] for s in sorted(callback.history)] == [0.0, 0.5, 1.0, 1.5, 2.0]
    content = load_artifact(folder / "step_0000003.pt", "interactions")[0]
    assert (content["epoch"], content["global_step"], content["log_step"], content["epoch_fraction"]) == (1, 3, 3, 1.5)
    scalars, _ = tensorboard_scalars(out)
    assert scalars["train/interactions/epoch"] == {0: 0.0, 1: 0.5, 2: 1.0, 3: 1.5, 4: 2.0}
    assert json.loads((folder / "jaccard.json").read_text())["steps"] == [0, 1, 2, 3, 4]


def test_trainer_run_with_a_reference_logs_the_knowledge_curves(tmp_path):
    _, probe = fine_tune(tmp_path, "probe")
    folder = probe / "interactions"
    callback, out = fine_tune(tmp_path, "finetune", sample_set=str(folder / "annotation.pt"),
                              references={"pretrain": str(folder)})
    assert callback.annotated_sample_set.hash == AnnotatedSampleSet.load(folder / "annotation.pt").hash
    scalars, _ = tensorboard_scalars(out)
    for part in ("preserve", "discard", "new"):
        assert sorted(scalars[f"train/knowledge/{part}/total"]) == [0, STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    # the same seed and data: the second run's final interactions are the reference's, all preserved
    discard = scalars["train/knowledge/discard/total"]
    assert discard[2 * STEPS_PER_EPOCH] == pytest.approx(0.0, abs=1e-6)
    assert discard[0] > 1e-6  # before training the model lacks some of the reference's knowledge


def test_a_sparse_trainer_run_stores_estimates_and_logs_their_heldout_r2(tmp_path):
    """estimator="sparse" on the Trainer: the artifacts hold the recovered subsets marked as estimated (no 2**n
    table), the held-out R^2 and the estimated flag are logged at every evaluation, the Jaccard curve ends at 1."""
    with pytest.raises(ConfigError, match="needs a budget"):
        InteractionTrainerCallback(estimator="sparse")
    with pytest.raises(ConfigError, match="raise budget to >= 144"):
        InteractionTrainerCallback(estimator="sparse", budget=100, n=8, max_order=4)
    _, out = fine_tune(tmp_path, "sparse", sentences=LONG_SENTENCES, n=8, estimator="sparse", budget=128,
                       max_order=2, attributions=False)
    folder = out / "interactions"
    steps = [0, STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    for epoch in range(3):
        content = load_artifact(folder / f"epoch_{epoch:03d}.pt", "interactions")[0]
        assert content["estimator"] == "sparse" and content["estimated"] is True and "values" not in content
        assert content["budget"] == 128 and len(content["sparse_masks"]) == 3 and content["r2_heldout"].shape == (3,)
        assert all(bin(int(m)).count("1") <= 2 for masks in content["sparse_masks"] for m in masks)
    assert json.loads((folder / "jaccard.json").read_text())["jaccard"][-1] == 1.0
    given = AnnotatedSampleSet.load(folder / "annotation.pt")  # handed over as an object: the same checks
    with pytest.raises(ConfigError, match="and_or with estimator='sparse' is not supported"):
        InteractionTrainerCallback(sample_set=given, estimator="sparse", budget=128, and_or=True)
    scalars, _ = tensorboard_scalars(out)
    assert scalars["train/interactions/estimated"] == {s: 1.0 for s in steps}
    assert sorted(scalars["train/interactions/r2_heldout"]) == steps
    assert all(math.isfinite(v) and v <= 1.0 for v in scalars["train/interactions/r2_heldout"].values())


def test_every_n_epochs_on_the_trainer_steps_in_mlflow(tmp_path, monkeypatch):
    import mlflow  # mlflow-skinny, in the dev extras

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local file store (MLflow 3 asks to opt in)
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "interactions")
    # MLflow keeps a process-wide tracking URI and active experiment (an earlier MLFlowLogger in this
    # process sets them); the Trainer's MLflowCallback must start from this test's store
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("interactions")
    _, out = fine_tune(tmp_path, "every2", epochs=3, every_n_epochs=2, report_to=("mlflow",),
                       logging={"logging_strategy": "steps", "logging_steps": 1}, figures=False)
    folder = out / "interactions"
    # epoch 0, every second epoch, and the last
    assert sorted(p.name for p in folder.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_002.pt", "epoch_003.pt"]
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("interactions").experiment_id])
    steps = {key: sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
             for key in ("loss", "interactions/salient_count", "knowledge/jaccard_to_final")}
    assert steps["loss"] == list(range(1, 3 * STEPS_PER_EPOCH + 1))  # logging_steps=1: every step
    assert steps["interactions/salient_count"] == [0, 2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH]
    assert steps["knowledge/jaccard_to_final"] == [0, 2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH]
