"""Both callbacks on PEFT models, with no extra argument: ``InteractionCallback`` on a ``LoraClassifier`` (a module
holding a ``PeftModel``) in a Lightning fit, and ``InteractionTrainerCallback`` on a ``PeftModel`` trained by a
``transformers.Trainer``. Each evaluation sees the adapted model as it predicts."""
from __future__ import annotations

import functools
from pathlib import Path

import peft
import pytorch_lightning as pl
import torch
import transformers

from harsanyi_lightning import InteractionTrainerCallback
from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.datamodules import TinyTextDataModule
from harsanyi_lightning.interactions import TextPool, compute_values, load_artifact
from harsanyi_lightning.lightning_modules import LoraClassifier
from harsanyi_lightning.lightning_modules.tiny_networks import tiny_bert_config, tiny_tokenizer
from tests.callback_fixtures import make_trainer
from tests.integration.test_hf_trainer import SENTENCES, SentenceDataset

N = 4


def artifacts(folder: Path) -> dict[int, dict]:
    """``{epoch: content}`` of the epoch artifacts in ``folder``."""
    return {int(p.stem.split("_")[1]): load_artifact(p, "interactions")[0] for p in sorted(folder.glob("epoch_*.pt"))}


def assert_evaluates_the_adapted_model(final: dict, network: torch.nn.Module, adapted: "peft.PeftModel",
                                       samples) -> None:
    """The final evaluation's values are ``network``'s as it predicts now, adapters included: they differ from the
    same network's with the adapters switched off."""
    assert torch.allclose(final["values"], compute_values(network, samples), atol=1e-9)
    with adapted.disable_adapter():
        assert not torch.allclose(final["values"], compute_values(network, samples), atol=1e-3)


def test_lightning_callback_evaluates_a_lora_classifier_as_it_predicts(tmp_path):
    pl.seed_everything(0, verbose=False)
    module = LoraClassifier(backbone="tiny-bert", rank=4, optimizer=functools.partial(torch.optim.AdamW, lr=0.01))
    callback = InteractionCallback(n=N, num_samples=2, batch_size=64, progress=False, figures=False)
    trainer = make_trainer(tmp_path, max_epochs=2, callbacks=[callback])
    trainer.fit(module, datamodule=TinyTextDataModule(num_train=32, num_val=8, num_test=8, batch_size=16, words=N))

    found = artifacts(Path(trainer.log_dir) / "interactions")
    assert sorted(found) == [0, 1, 2]
    for content in found.values():
        assert (content["model"], content["regime"], content["n"]) == ("tiny-bert", "lora", N)  # named by its backbone
    # the adapters and the head trained between the evaluations, and the evaluations saw them
    assert not torch.allclose(found[0]["values"], found[1]["values"])
    assert not torch.allclose(found[1]["values"], found[2]["values"])
    assert_evaluates_the_adapted_model(found[2], module, module.net.model, callback.annotated_sample_set)


def test_trainer_callback_evaluates_a_peft_model_as_it_predicts(tmp_path):
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    model = peft.get_peft_model(transformers.BertForSequenceClassification(tiny_bert_config(num_labels=2)),
                                peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"],
                                                modules_to_save=["classifier"]))
    pool = TextPool([s for s, _ in SENTENCES], [y for _, y in SENTENCES], tokenizer, name="toy-reviews")
    callback = InteractionTrainerCallback(pool=pool, n=N, num_samples=2, batch_size=64, progress=False, figures=False)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=2, per_device_train_batch_size=4, learning_rate=1e-2,
        save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=0, logging_strategy="epoch",
    )
    transformers.Trainer(model=model, args=args, train_dataset=SentenceDataset(tokenizer),
                         callbacks=[callback]).train()  # nothing else: the callback finds the PEFT model itself

    found = artifacts(tmp_path / "interactions")
    assert sorted(found) == [0, 1, 2]
    assert {content["model"] for content in found.values()} == {"BertForSequenceClassification"}  # the adapted model
    assert not torch.allclose(found[0]["values"], found[2]["values"])
    assert_evaluates_the_adapted_model(found[2], model, model, callback.annotated_sample_set)
