"""The training recipe: warm-up + decay schedule, length-grouped batches, mean-pooled probe features."""
from __future__ import annotations

import functools

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from harsanyi_lightning.datamodules import TinyTextDataModule
from harsanyi_lightning.datamodules.samplers import EpochSeededSampler, LengthGroupedSampler
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.lightning_modules import FinetuneClassifier, LinearWarmupDecay, ProbeClassifier
from harsanyi_lightning.lightning_modules import HFPooledFeatures, load_tokenizer

# ------------------------------------------------------------------ schedule


def lrs_of(scheduler: LinearWarmupDecay, steps: int) -> list[float]:
    out = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        out.append(scheduler.get_last_lr()[0])
    return out


def one_param_optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_warmup_then_linear_decay_shape():
    lrs = lrs_of(LinearWarmupDecay(one_param_optimizer(2.0), warmup=4, total_steps=12), 14)
    expected = [0.0, 0.5, 1.0, 1.5, 2.0] + [2.0 * (1 - k / 8) for k in range(1, 9)] + [0.0, 0.0]
    assert lrs == pytest.approx(expected)
    # a fraction of the run, a floor, and no warm-up
    frac = LinearWarmupDecay(one_param_optimizer(), warmup=0.25, total_steps=12, final_factor=0.5)
    assert frac.warmup_steps == 3
    assert lrs_of(frac, 12)[3:] == pytest.approx([1 - 0.5 * k / 9 for k in range(10)])
    assert lrs_of(LinearWarmupDecay(one_param_optimizer(), warmup=0, total_steps=4), 4) == pytest.approx(
        [1.0, 0.75, 0.5, 0.25, 0.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"warmup": -1}, "warmup"), ({"warmup": 2.5}, "whole number"), ({"total_steps": 0}, "total_steps"),
    ({"final_factor": 1.5}, "final_factor"),
])
def test_schedule_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LinearWarmupDecay(one_param_optimizer(), **kwargs)


class LrRecorder(pl.Callback):
    """The learning rate each optimiser step ran with, keyed by global step."""

    def __init__(self):
        self.lr: dict[int, float] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lr[trainer.global_step] = trainer.optimizers[0].param_groups[0]["lr"]


def schedule_model() -> FinetuneClassifier:
    return FinetuneClassifier(backbone="tiny-bert", optimizer=functools.partial(torch.optim.AdamW, lr=1e-3),
                              lr_scheduler=functools.partial(LinearWarmupDecay, warmup=0.25))


def fit(tmp_path, model, epochs: int, ckpt_path=None, callbacks=()):
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=str(tmp_path),
                         callbacks=list(callbacks))
    trainer.fit(model, datamodule=TinyTextDataModule(num_train=40, batch_size=8), ckpt_path=ckpt_path)
    return trainer


class StopAfterFirstEpoch(pl.Callback):
    """Ends a fit planned for several epochs after its first one (as a killed run would)."""

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = True


def test_trainer_fills_total_steps_and_resume_continues_the_schedule(tmp_path):
    pl.seed_everything(0, verbose=False)
    whole = LrRecorder()
    trainer = fit(tmp_path / "whole", schedule_model(), 3, callbacks=[whole])
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert trainer.lr_scheduler_configs[0].interval == "step"
    assert scheduler.total_steps == 15 and scheduler.warmup_steps == 4  # 3 epochs x 5 batches
    assert [whole.lr[s] for s in range(15)] == pytest.approx([1e-3 * scheduler.factor(s) for s in range(15)])
    assert whole.lr[0] == 0.0 and max(whole.lr.values()) == pytest.approx(1e-3)

    # the same 3-epoch run stopped after epoch 1 and resumed from its checkpoint
    pl.seed_everything(0, verbose=False)
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), filename="last", save_top_k=1)
    fit(tmp_path / "first", schedule_model(), 3, callbacks=[ckpt, StopAfterFirstEpoch()])
    pl.seed_everything(0, verbose=False)
    resumed = LrRecorder()
    fit(tmp_path / "resumed", schedule_model(), 3, ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"), callbacks=[resumed])
    assert sorted(resumed.lr) == list(range(5, 15))
    assert [resumed.lr[s] for s in range(5, 15)] == pytest.approx([whole.lr[s] for s in range(5, 15)])


# ------------------------------------------------------------------ length-grouped batches


def grouped(lengths, batch_size=4, seed=3, epoch=0, group_batches=5) -> LengthGroupedSampler:
    return LengthGroupedSampler(lengths, batch_size, seed, epoch_fn=lambda: epoch, group_batches=group_batches,
                                reseed_global=False)


def test_length_groups_cover_every_sample_once_and_depend_on_seed_and_epoch_only():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, 60, (103,), generator=g).tolist()
    order = list(grouped(lengths))
    assert sorted(order) == list(range(103))  # every sentence once per epoch
    assert list(grouped(lengths)) == order  # deterministic: a fresh sampler (a resumed run) repeats it
    assert list(grouped(lengths, epoch=1)) != order and list(grouped(lengths, seed=4)) != order
    batches = grouped(lengths).batches(0)
    assert [len(b) for b in batches] == [4] * 25 + [3]  # the incomplete batch last
    assert [i for b in batches for i in b] == order
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches[:-1])
    plain = list(EpochSeededSampler(103, 3, lambda: 0, reseed_global=False))
    plain_spread = sum(max(lengths[i] for i in plain[k:k + 4]) - min(lengths[i] for i in plain[k:k + 4])
                       for k in range(0, 100, 4))
    assert spread < plain_spread / 2  # batches of similar lengths pad far less


def test_each_chunk_is_sorted_into_batches_of_neighbouring_lengths():
    lengths = list(range(40))
    sampler = grouped(lengths, batch_size=5, group_batches=4)  # chunks of 20 sentences
    perm = torch.randperm(40, generator=sampler._generator(0)).tolist()
    for chunk in (perm[:20], perm[20:]):
        ranked = sorted(chunk, key=lambda i: -lengths[i])
        expected = {tuple(ranked[k:k + 5]) for k in range(0, 20, 5)}
        assert expected <= {tuple(b) for b in sampler.batches(0)}


def test_seeded_text_loader_forms_the_sampler_batches_and_plain_shuffle_stays(monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    dm = TinyTextDataModule(num_train=30, batch_size=8, backbone="tiny-bert", words=5)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, LengthGroupedSampler)
    tokenizer = dm.load_tokenizer()
    ds = dm.datasets["train"]
    lengths = [len(ids) for ids in tokenizer(ds.sentences)["input_ids"]]
    assert dm.token_lengths(ds) == lengths
    got = []
    for inputs, labels in loader:
        got.append(int(inputs["input_ids"].shape[0]))
    expected = loader.sampler.batches(loader.sampler.current_epoch())
    assert got == [len(b) for b in expected]
    dm_plain = TinyTextDataModule(num_train=30, batch_size=8, backbone="tiny-bert", words=5, group_by_length=False)
    dm_plain.setup("fit")
    sampler = dm_plain.train_dataloader().sampler
    assert type(sampler) is EpochSeededSampler
    with pytest.raises(ConfigError, match="length_group_batches"):
        TinyTextDataModule(length_group_batches=0)


def test_unseeded_run_groups_by_length_without_touching_the_global_rng(monkeypatch):
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    dm = TinyTextDataModule(num_train=30, batch_size=8, backbone="tiny-bert", words=5)
    dm.setup("fit")
    sampler = dm.train_dataloader().sampler
    assert isinstance(sampler, LengthGroupedSampler) and not sampler.reseed_global
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    assert sorted(sampler) == list(range(30))
    assert torch.equal(torch.rand(1), expected)


# ------------------------------------------------------------------ mean pooling


def test_mean_pooling_ignores_padding_and_the_probe_stays_linear_on_frozen_features():
    tokenizer = load_tokenizer("tiny-bert")
    probe = ProbeClassifier(backbone="tiny-bert", pooling="mean")
    features = probe.net.features.module
    assert isinstance(features, HFPooledFeatures) and features.pooling == "mean"
    assert isinstance(probe.net.head, torch.nn.Linear)
    assert all(not p.requires_grad for p in probe.net.features.parameters())
    short, long = "a fine film", "the plot was really very boring and the actors were dull too"
    alone = tokenizer([short], return_tensors="pt")
    padded = tokenizer([short, long], return_tensors="pt", padding=True)
    assert padded["input_ids"].shape[1] > alone["input_ids"].shape[1]
    with torch.no_grad():
        f_alone = probe.net.features(dict(alone))
        f_padded = probe.net.features(dict(padded))
        states = features.encoder(**{k: v for k, v in alone.items() if k != "token_type_ids"}).last_hidden_state
    assert torch.allclose(f_padded[0], f_alone[0], atol=1e-6)  # padding ignored
    assert torch.allclose(f_alone[0], states[0].mean(dim=0), atol=1e-6)  # the mean over the real tokens
    cls = ProbeClassifier(backbone="tiny-bert").net.features
    with torch.no_grad():
        assert not torch.allclose(cls(dict(alone)), f_alone)  # the default stays [CLS]
    with pytest.raises(ConfigError, match="pooling"):
        ProbeClassifier(backbone="tiny-cnn", pooling="mean")
