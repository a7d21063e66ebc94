"""``--help`` describes every option of ``study``, ``report`` and ``fit``, and of the classes ``fit`` can be given
(``--data.help <class>``, ``--model.help <class>``, ``--trainer.callbacks.help InteractionCallback``): the
descriptions come from the option objects' docstrings (their ``Args:`` sections), so a field added without one
shows up here as an option with only its type and default."""
from __future__ import annotations

import re

import pytest

from harsanyi_lightning.cli import run_from_command_line

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

#: an option's entry in argparse's help: ``  --name ARG   description (type: ..., default: ...)``
ENTRY = re.compile(r"^  (-\S.*)$")


def options_without_description(text: str) -> tuple[list[str], list[str]]:
    """``(options, undescribed)``: every option of a help text, and those whose entry says nothing but its type
    and default."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if ENTRY.match(line):
            entries.append([line])
        elif entries and entries[-1] and line.startswith("   ") and line.strip():
            entries[-1].append(line)
        else:
            entries.append([]) if line.strip() else None
    options, bare = [], []
    for entry in filter(None, entries):
        head, _, inline = entry[0].strip().partition("  ")  # "--n N  text" -> the option, then its text
        text_of = " ".join([inline, *(line.strip() for line in entry[1:])])
        description = re.sub(r"\(type: .*", "", text_of, flags=re.S).strip()
        name = head.split()[0].rstrip(",")
        options.append(name)
        if not description:
            bare.append(name)
    return options, bare


def help_text(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        run_from_command_line(list(args))
    assert done.value.code in (0, None)
    return capsys.readouterr().out


def test_the_parser_of_help_texts_finds_an_option_without_description():
    text = ("options:\n  --sample_set.n N      (type: Optional[int], default: null)\n"
            "  --sample_set.seed SEED\n                        the seed of the draw. (type: int, default: 0)\n"
            "  --sample_set.pool_split POOL_SPLIT\n                        (type: str, default: val)\n")
    assert options_without_description(text) == (
        ["--sample_set.n", "--sample_set.seed", "--sample_set.pool_split"], ["--sample_set.n", "--sample_set.pool_split"])


@pytest.mark.parametrize("args, some", [
    (("study", "--help"), ["--sample_set.num_samples", "--interactions.at_steps", "--interactions.and_or_noise_bound",
                           "--bootstrap.resamples", "--study_dir", "--regimes"]),
    (("study", "--regimes.help"), ["--regimes.kind", "--regimes.overrides"]),
    (("report", "--help"), ["--summary", "--bootstrap.confidence"]),
    (("fit", "--help"), ["--trainer.default_root_dir", "--model", "--data", "--ckpt_path"]),
    (("fit", "--data.help", "SST2DataModule"), ["--data.data_dir", "--data.subset_seed", "--data.eval_batch_size",
                                                "--data.length_group_batches"]),
    (("fit", "--data.help", "TinyTextDataModule"), ["--data.num_train", "--data.words"]),
    (("fit", "--data.help", "CIFAR10DataModule"), ["--data.data_dir", "--data.augment"]),
    (("fit", "--data.help", "TinyImageDataModule"), ["--data.num_classes"]),
    (("fit", "--model.help", "FinetuneClassifier"), ["--model.backbone", "--model.optimizer"]),
    (("fit", "--trainer.callbacks.help", "InteractionCallback"), ["--trainer.callbacks.n", "--trainer.callbacks.budget"]),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_every_option_has_a_description(capsys, args, some):
    options, bare = options_without_description(help_text(capsys, *args))
    assert set(some) <= set(options), sorted(set(some) - set(options))  # the parse of the help text found them
    assert not bare, f"`cli.py {' '.join(args)}`: options without a description: {bare}"
