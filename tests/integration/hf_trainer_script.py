"""A tiny BERT fine-tuned by a ``transformers.Trainer`` with ``InteractionTrainerCallback`` in ``callbacks=[...]`` and
nothing else, for the tests that need a process of their own (``torchrun --nproc_per_node 2`` on the CPU, gloo).

Each process counts the masked inputs its evaluations put through the model (the ``forward`` option) and writes
``forwards_rank<r>.json``: under two processes each evaluates its share of the samples. Rank zero writes the
artifacts into ``<out>/interactions``.

    python -m torch.distributed.run --nproc_per_node 2 tests/integration/hf_trainer_script.py <out>
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import transformers

from harsanyi_lightning import InteractionTrainerCallback
from harsanyi_lightning.interactions import TextPool
from harsanyi_lightning.lightning_modules.tiny_networks import tiny_bert_config, tiny_tokenizer

#: four-word sentences (n = 4 words), labelled by a cue word
SENTENCES = [
    ("a truly great film", 1), ("a truly awful film", 0), ("great acting and story", 1),
    ("awful acting and story", 0), ("the plot is great", 1), ("the plot is awful", 0),
    ("what a great cast here", 1), ("what an awful cast here", 0),
]
#: masked inputs each evaluation of this process put through the model
FORWARDS: list[int] = []


def counting_forward(model: torch.nn.Module, inputs: dict) -> torch.Tensor:
    """The model's logits on a batch of masked inputs, counted."""
    FORWARDS.append(int(inputs["input_ids"].shape[0]))
    return model(**inputs).logits


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


def main(out: Path) -> None:
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    pool = TextPool([s for s, _ in SENTENCES], [y for _, y in SENTENCES], tokenizer, name="toy-reviews")
    callback = InteractionTrainerCallback(pool=pool, n=4, num_samples=4, batch_size=64, progress=False,
                                          forward=counting_forward)
    args = transformers.TrainingArguments(
        output_dir=str(out), num_train_epochs=2, per_device_train_batch_size=2, learning_rate=5e-3,
        save_strategy="no", report_to=["tensorboard"], use_cpu=True, disable_tqdm=True, seed=0,
        logging_strategy="epoch")
    model = transformers.BertForSequenceClassification(tiny_bert_config(num_labels=2))
    trainer = transformers.Trainer(model=model, args=args, train_dataset=SentenceDataset(tokenizer),
                                   callbacks=[callback])
    trainer.train()
    rank = int(os.environ.get("RANK", "0"))
    (out / f"forwards_rank{rank}.json").write_text(json.dumps({"forwards": sum(FORWARDS),
                                                                "history": sorted(callback.history)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
