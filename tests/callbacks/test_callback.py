"""InteractionCallback in real (tiny) Lightning fits: artifacts, logged tags, references,
resume, precision and train/eval flags. The toy task is in ``callback_fixtures``."""
from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.callbacks.dashboard import DASHBOARD_ORDERS, dashboard_layout
from harsanyi_lightning.interactions.scalars import and_or_scalars
from harsanyi_lightning.callbacks.model_forward import resolve_forward
from harsanyi_lightning.interactions import (
    AndOrInteractions,
    AnnotatedSampleSet,
    AnnotationError,
    ConfigError,
    and_or_interactions,
    banzhaf_values,
    build_feature_sample_set,
    harsanyi_interactions,
    load_artifact,
    save_artifact,
    shapley_interaction_index,
    shapley_values,
    strength_by_order,
    tf32_settings,
)
from harsanyi_lightning.interactions.values import default_forward
from tests.callback_fixtures import ToyImageDataModule, ToyModule, make_trainer

N = 4


def fit(root: Path, *, epochs: int = 2, lr: float = 0.05, module=None, dm=None, trainer_kwargs=None, ckpt_path=None,
        **cb_kwargs) -> tuple[pl.Trainer, ToyModule, InteractionCallback]:
    pl.seed_everything(0, verbose=False)
    cb_kwargs.setdefault("n", N)
    cb_kwargs.setdefault("progress", False)
    cb = InteractionCallback(**cb_kwargs)
    extra = list((trainer_kwargs or {}).pop("extra_callbacks", [])) if trainer_kwargs else []
    trainer = make_trainer(root, max_epochs=epochs, callbacks=[cb, *extra], **(trainer_kwargs or {}))
    module = module if module is not None else ToyModule(lr=lr)
    trainer.fit(module, datamodule=dm if dm is not None else ToyImageDataModule(), ckpt_path=ckpt_path)
    return trainer, module, cb


def epoch_content(folder: Path, epoch: int) -> dict:
    return load_artifact(folder / f"epoch_{epoch:03d}.pt", "interactions")[0]


def scalars(log_dir: str) -> dict[str, dict[int, float]]:
    ea = EventAccumulator(log_dir, size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    out = {tag: {e.step: e.value for e in ea.Scalars(tag)} for tag in ea.Tags()["scalars"]}
    out["__images__"] = ea.Tags()["images"]
    return out


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    """A run whose weights do not change (lr=0): every epoch equals the initial model."""
    root = tmp_path_factory.mktemp("probe")
    trainer, module, cb = fit(root, epochs=1, lr=0.0, regime="probe")
    return Path(trainer.log_dir) / "interactions", cb


def test_fit_writes_every_epoch_and_logs_tags(tmp_path, probe_run):
    probe_dir, _ = probe_run
    trainer, module, cb = fit(tmp_path, epochs=2, references={"pretrain": str(probe_dir)})
    out = Path(trainer.log_dir) / "interactions"
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    for epoch in range(3):
        c = epoch_content(out, epoch)
        assert c["epoch"] == epoch and c["n"] == N and c["regime"] == "finetune" and c["model"] == "toy-cnn"
        assert c["dataset"] == "ToyImageDataModule" and c["precision"] == "fp32" and c["skipped"] == []
        assert c["values"].dtype == torch.float64 and c["values"].shape == c["dividends"].shape == (4, 2**N)
        assert c["annotation_hash"] == cb.annotated_sample_set.hash
    assert epoch_content(out, 0)["global_step"] == 0 and epoch_content(out, 2)["global_step"] == 4
    # the weights moved, so the interactions did
    assert not torch.equal(epoch_content(out, 0)["values"], epoch_content(out, 2)["values"])
    assert AnnotatedSampleSet.load(out / "annotation.pt").hash == cb.annotated_sample_set.hash

    tags = scalars(trainer.log_dir)
    # logged at Lightning's step: epoch 0 at 0, epoch e at the epoch-end step (2 batches per epoch)
    step = {e: epoch_content(out, e)["log_step"] for e in range(3)}
    assert step == {0: 0, 1: 1, 2: 3}
    expected = [f"interactions/strength/order_{k}" for k in range(1, N + 1)]
    expected += ["interactions/salient_count", "interactions/matching_error", "knowledge/jaccard_to_final"]
    expected += [f"knowledge/{p}/order_{k}" for p in ("preserve", "discard", "new") for k in range(1, N + 1)]
    expected += [f"knowledge/{p}/total" for p in ("preserve", "discard", "new")]
    for tag in expected:
        assert sorted(tags[tag]) == [0, 1, 3], tag
        assert all(math.isfinite(v) for v in tags[tag].values()), tag
    assert "train/loss" in tags
    assert {"interactions/strength_by_order", "knowledge/by_order"} <= set(tags["__images__"])
    # logged numbers are the artifact's numbers; preserve + discard = pretrain, preserve + new = current (eq. 7)
    ref = epoch_content(probe_dir, 1)["dividends"]
    for epoch in range(3):
        strength = strength_by_order(epoch_content(out, epoch)["dividends"])
        ref_strength = strength_by_order(ref)
        for k in range(1, N + 1):
            assert tags[f"interactions/strength/order_{k}"][step[epoch]] == pytest.approx(float(strength[k]), rel=1e-6)
            p, d, nw = (tags[f"knowledge/{x}/order_{k}"][step[epoch]] for x in ("preserve", "discard", "new"))
            assert p + d == pytest.approx(float(ref_strength[k]), rel=1e-5)
            assert p + nw == pytest.approx(float(strength[k]), rel=1e-5)
    jac = json.loads((out / "jaccard.json").read_text())
    assert jac["epochs"] == [0, 1, 2] and jac["final_epoch"] == 2 and jac["jaccard"][-1] == 1.0
    assert all(0 < j <= 1 for j in jac["jaccard"])
    assert [tags["knowledge/jaccard_to_final"][step[e]] for e in (0, 1, 2)] == pytest.approx(jac["jaccard"], rel=1e-6)
    assert json.loads((out / "final.json").read_text())["file"] == "epoch_002.pt"


def test_reference_equal_to_the_model_gives_full_preservation(tmp_path, probe_run):
    probe_dir, _ = probe_run
    refs = {"pretrain": str(probe_dir), "finetune": str(probe_dir / "epoch_000.pt")}
    trainer, _, _ = fit(tmp_path, epochs=2, lr=0.0, references=refs)
    tags = scalars(trainer.log_dir)
    for epoch in range(3):
        step = epoch_content(Path(trainer.log_dir) / "interactions", epoch)["log_step"]
        for k in range(1, N + 1):
            strength = tags[f"interactions/strength/order_{k}"][step]
            assert strength > 0
            assert tags[f"knowledge/preserve/order_{k}"][step] == pytest.approx(strength, rel=1e-6)
            assert tags[f"knowledge/discard/order_{k}"][step] == 0.0
            assert tags[f"knowledge/new/order_{k}"][step] == 0.0
        assert tags["knowledge/discard/total"][step] == 0.0 and tags["knowledge/new/total"][step] == 0.0
        assert tags["knowledge/ratio"][step] == 1.0 and tags["knowledge/ratio_weighted"][step] == 1.0
        assert tags["knowledge/jaccard_to_final"][step] == 1.0
    jac = json.loads((Path(trainer.log_dir) / "interactions" / "jaccard.json").read_text())
    assert jac["jaccard"] == [1.0, 1.0, 1.0]


def test_reference_on_another_annotation_fails_at_setup(tmp_path, probe_run):
    probe_dir, _ = probe_run
    module = ToyModule()
    with pytest.raises(AnnotationError, match="another annotation") as err:
        fit(tmp_path / "a", module=module, seed=1, references={"pretrain": str(probe_dir)})
    assert str(probe_dir / "epoch_001.pt") in str(err.value)
    assert module.train_steps == 0 and module.eval_forward_state == []
    with pytest.raises(AnnotationError, match="does not exist"):
        fit(tmp_path / "b", module=module, references={"pretrain": str(tmp_path / "missing")})
    # same annotation, other architecture: refused too
    content = epoch_content(probe_dir, 0)
    save_artifact(tmp_path / "other.pt", "interactions", {**content, "model": "other-net"})
    with pytest.raises(ConfigError, match="other-net"):
        fit(tmp_path / "c", module=module, references={"pretrain": str(tmp_path / "other.pt")})
    assert module.train_steps == 0


def test_missing_reference_can_be_a_warning_but_a_bad_one_never_is(tmp_path, probe_run):
    """``missing_references="warn"`` (the plain fit configs): an absent reference only turns the
    knowledge curves off; a present reference from another annotation still fails at setup."""
    probe_dir, _ = probe_run
    with pytest.warns(UserWarning, match="does not exist yet"):
        trainer, module, _ = fit(tmp_path / "a", epochs=1, missing_references="warn",
                                 references={"pretrain": str(tmp_path / "missing")})
    assert module.train_steps > 0
    tags = scalars(trainer.log_dir)
    assert "interactions/salient_count" in tags
    assert not [t for t in tags if t.startswith("knowledge/") and t != "knowledge/jaccard_to_final"]
    with pytest.raises(AnnotationError, match="another annotation"):
        fit(tmp_path / "b", seed=1, missing_references="warn", references={"pretrain": str(probe_dir)})


def test_resume_continues_the_same_history(tmp_path):
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last=True)
    opts = dict(enable_checkpointing=True, extra_callbacks=[ckpt])
    fit(tmp_path / "r", epochs=3, output_dir=str(tmp_path / "resumed"), trainer_kwargs=opts)
    assert sorted(p.name for p in (tmp_path / "resumed").glob("epoch_*.pt"))[-1] == "epoch_003.pt"
    trainer2, module2, cb2 = fit(tmp_path / "r", epochs=5, output_dir=str(tmp_path / "resumed"),
                                 ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    fit(tmp_path / "u", epochs=5, output_dir=str(tmp_path / "straight"))
    # the history is keyed by global step (2 batches per epoch), each entry naming its epoch
    assert sorted(cb2.history) == [0, 2, 4, 6, 8, 10]
    assert [cb2.history[s]["epoch"] for s in sorted(cb2.history)] == [0, 1, 2, 3, 4, 5]
    # the resumed fit evaluated epochs 4 and 5 only (no second epoch 0 or 3)
    assert len(module2.eval_forward_state) == 2
    # at the steps of the uninterrupted run: epoch e ends at step 2e - 1 (2 batches per epoch)
    assert sorted(scalars(trainer2.log_dir)["interactions/salient_count"]) == [7, 9]
    for epoch in range(6):
        a, b = epoch_content(tmp_path / "resumed", epoch), epoch_content(tmp_path / "straight", epoch)
        assert a["global_step"] == b["global_step"] and a["log_step"] == b["log_step"] == max(2 * epoch - 1, 0)
        torch.testing.assert_close(a["values"], b["values"], rtol=1e-12, atol=1e-12)
    ja = json.loads((tmp_path / "resumed" / "jaccard.json").read_text())
    jb = json.loads((tmp_path / "straight" / "jaccard.json").read_text())
    assert ja["epochs"] == jb["epochs"] == [0, 1, 2, 3, 4, 5] and ja["final_epoch"] == 5
    assert ja["jaccard"] == pytest.approx(jb["jaccard"], rel=1e-12)


def test_resume_refuses_a_changed_artifact(tmp_path):
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last=True)
    fit(tmp_path, epochs=1, output_dir=str(tmp_path / "out"),
        trainer_kwargs=dict(enable_checkpointing=True, extra_callbacks=[ckpt]))
    content = epoch_content(tmp_path / "out", 0)
    save_artifact(tmp_path / "out" / "epoch_000.pt", "interactions", {**content, "global_step": 7})
    module = ToyModule()
    with pytest.raises(AnnotationError, match="epoch_000.pt"):
        fit(tmp_path, epochs=2, module=module, output_dir=str(tmp_path / "out"),
            ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert module.train_steps == 0


class FlagRecorder(pl.Callback):
    """Placed after the InteractionCallback: compares state after each evaluation with state during training."""

    def __init__(self):
        self.during, self.after = [], []

    @staticmethod
    def snapshot(module):
        return {name: m.training for name, m in module.named_modules()}, tf32_settings()

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.during.append(self.snapshot(module))

    def on_train_epoch_end(self, trainer, module):
        self.after.append(self.snapshot(module))


def test_train_eval_flags_and_tf32_are_restored(tmp_path):
    saved = tf32_settings()
    torch.set_float32_matmul_precision("high")
    try:
        rec = FlagRecorder()
        _, module, _ = fit(tmp_path, epochs=2, trainer_kwargs=dict(extra_callbacks=[rec]))
        flags_during, tf32_during = rec.during[-1]
        assert flags_during["frozen"] is False and flags_during["head"] is True
        assert tf32_during["float32_matmul_precision"] == "high"
        assert len(rec.after) == 2
        for flags, tf32 in rec.after:
            assert flags == flags_during and tf32 == tf32_during
        # during every evaluation forward: TF32 off, no autocast, frozen part in eval
        assert module.eval_forward_state and set(module.eval_forward_state) == {("highest", False, False)}
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(saved["float32_matmul_precision"])


def test_bf16_mixed_fit_gives_the_fp32_interactions(tmp_path):
    fit(tmp_path / "a", epochs=1, lr=0.0, output_dir=str(tmp_path / "fp32"))
    fit(tmp_path / "b", epochs=1, lr=0.0, output_dir=str(tmp_path / "bf16"),
        trainer_kwargs=dict(precision="bf16-mixed"))
    for epoch in (0, 1):
        a, b = epoch_content(tmp_path / "fp32", epoch), epoch_content(tmp_path / "bf16", epoch)
        assert torch.equal(a["values"], b["values"]) and torch.equal(a["dividends"], b["dividends"])


def test_bf16_true_fit_evaluates_a_float32_copy(tmp_path):
    _, module, cb = fit(tmp_path, epochs=1, lr=0.0, output_dir=str(tmp_path / "out"),
                        trainer_kwargs=dict(precision="bf16-true"))
    assert next(module.head.parameters()).dtype == torch.bfloat16  # the trained module was not cast
    expected = harsanyi_interactions(copy.deepcopy(module).float(), cb.annotated_sample_set)
    got = epoch_content(tmp_path / "out", 1)
    torch.testing.assert_close(got["dividends"], expected.dividends, rtol=0, atol=0)


def test_audited_precision_logs_its_error(tmp_path):
    trainer, _, _ = fit(tmp_path, epochs=1, precision="bf16")
    tags = scalars(trainer.log_dir)
    assert sorted(tags["interactions/audit_rel_l1"]) == [0, 1]
    assert all(v > 0 and math.isfinite(v) for v in tags["interactions/audit_rel_l1"].values())
    assert epoch_content(Path(trainer.log_dir) / "interactions", 0)["precision"] == "bf16"


def test_every_n_epochs_fast_dev_run_and_shared_sample_set(tmp_path):
    shared = tmp_path / "study" / "annotation.pt"
    trainer, _, cb = fit(tmp_path / "a", epochs=5, every_n_epochs=2, sample_set=str(shared))
    assert [e["epoch"] for _, e in sorted(cb.history.items())] == [0, 2, 4, 5]
    assert sorted(cb.history) == [0, 4, 8, 10]  # keyed by global step
    assert AnnotatedSampleSet.load(shared).hash == cb.annotated_sample_set.hash
    # a second run loads the shared file (n is read from it), even with another seed argument
    _, _, cb2 = fit(tmp_path / "b", epochs=1, sample_set=str(shared), seed=5, n=None)
    assert cb2.annotated_sample_set.hash == cb.annotated_sample_set.hash
    module = ToyModule()
    with pytest.warns(UserWarning, match="fast_dev_run"):
        fit(tmp_path / "c", module=module, output_dir=str(tmp_path / "c" / "out"),
            trainer_kwargs=dict(fast_dev_run=True))
    assert module.train_steps == 1 and not (tmp_path / "c" / "out").exists()


@pytest.mark.parametrize("kwargs, match", [
    (dict(every_n_epochs=0), "every_n_epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(precision="fp8"), "precision"),
    (dict(n=20), "max_variables"),
    (dict(references={"probe": "x"}), "unknown key"),
    (dict(references={"finetune": "x"}), "references.pretrain"),
    (dict(on_nonfinite="ignore"), "on_nonfinite"),
    (dict(baseline="blur"), "baseline"),
    (dict(and_or=True, and_or_solver="adam"), "and_or_solver"),
    (dict(and_or_noise_bound=-0.1), "and_or_noise_bound"),
    (dict(and_or=True, n=13), "n <= 12"),
    (dict(attributions="yes"), "attributions"),
])
def test_bad_arguments_are_refused_at_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        InteractionCallback(**kwargs)


#: what an exact evaluation artifact holds with the extras off (docs/callback.md#artifacts)
CORE_KEYS = {"estimator", "estimated", "values", "dividends", "epoch", "global_step", "epoch_fraction", "log_step",
             "annotation_hash", "regime", "n", "precision", "skipped", "model", "dataset", "audit"}


def test_extras_off_write_the_core_keys_and_the_default_adds_the_attributions(tmp_path):
    trainer, _, cb = fit(tmp_path / "off", epochs=1, attributions=False)
    out = Path(trainer.log_dir) / "interactions"
    for epoch in (0, 1):
        content = epoch_content(out, epoch)
        assert set(content) == CORE_KEYS
        assert (content["estimator"], content["estimated"], content["epoch_fraction"]) == ("exact", False, float(epoch))
    tags = scalars(trainer.log_dir)
    assert not [t for t in tags if "and_or" in t] and tags["__images__"] == ["interactions/strength_by_order"]
    # the state key names the callback by the few options that tell two of them apart, not by every option
    assert cb.state_key == "InteractionCallback{'sample_set': None, 'output_dir': None, 'regime': None}"
    # the default adds the exact attributions only
    trainer, _, cb = fit(tmp_path / "default", epochs=1)
    content = epoch_content(Path(trainer.log_dir) / "interactions", 1)
    assert set(content) == CORE_KEYS | {"shapley", "banzhaf", "sii"}
    assert not [t for t in scalars(trainer.log_dir) if "and_or" in t]
    d = content["dividends"]
    assert torch.equal(content["shapley"], shapley_values(d)) and torch.equal(content["banzhaf"], banzhaf_values(d))
    assert torch.equal(content["sii"], shapley_interaction_index(d)) and content["sii"].shape == (4, N, N)
    # efficiency: the Shapley values add up to v(x_N) - v(x_∅)
    torch.testing.assert_close(content["shapley"].sum(1), content["values"][:, -1] - content["values"][:, 0])


@pytest.mark.parametrize("solver", ["lp", "gradient"])
def test_and_or_option_stores_and_logs_the_and_or_interactions(tmp_path, solver):
    trainer, _, cb = fit(tmp_path, epochs=2, and_or=True, and_or_solver=solver, and_or_noise_bound=0.1)
    out = Path(trainer.log_dir) / "interactions"
    tags = scalars(trainer.log_dir)
    assert "interactions/and_or_by_order" in tags["__images__"]
    for epoch in (0, 1, 2):
        content = epoch_content(out, epoch)
        assert set(content) == CORE_KEYS | {"shapley", "banzhaf", "sii", "and_or"}
        stored = AndOrInteractions.from_dict(content["and_or"])
        assert stored.solver == solver and stored.noise_bound == 0.1 and stored.n == N
        if solver == "lp":  # the exact LP from the stored values gives the stored result
            again = and_or_interactions(content["values"], noise_bound=0.1)
            for key in ("and_dividends", "or_dividends", "gamma", "noise", "objective"):
                torch.testing.assert_close(getattr(stored, key), getattr(again, key), rtol=0, atol=1e-9)
        # the AND-OR identity (docs/method.md#beyond-the-paper) holds for what was stored: v'(x_N) = Σ I_and + Σ I_or
        noisy = content["values"] + stored.noise
        rebuilt = noisy[:, 0] + stored.and_dividends[:, 1:].sum(1) + stored.or_dividends[:, 1:].sum(1)
        torch.testing.assert_close(rebuilt, noisy[:, -1], rtol=0, atol=1e-9)
        # logged at the step of the other scalars, with the numbers of the stored result
        step = content["log_step"]
        assert step in tags["interactions/salient_count"]
        for tag, value in and_or_scalars(stored).items():
            assert tags[tag][step] == pytest.approx(value, rel=1e-6, abs=1e-12), tag
    expected = {"interactions/and_or/salient_count"} | {
        f"interactions/and_or/{kind}_strength/order_{k}" for kind in ("and", "or") for k in range(1, N + 1)}
    if solver == "gradient":
        expected.add("interactions/and_or/gap")
    assert {t for t in tags if t.startswith("interactions/and_or/")} == expected
    # the dashboard's AND-OR charts draw tags this run logged
    charts = dashboard_layout(knowledge=False, ratio=False, and_or=True)[DASHBOARD_ORDERS]
    regexes = [rx for _, rxs in charts.values() for rx in rxs if "and_or" in rx]
    assert len(regexes) == 3 and all(any(re.match(rx, t) for t in tags) for rx in regexes)


def test_unwritable_output_dir_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    module = ToyModule()
    with pytest.raises(ConfigError, match="not writable"):
        fit(tmp_path, module=module, output_dir=str(tmp_path / "file" / "sub"))
    assert module.train_steps == 0


def test_callback_is_configurable_from_yaml_like_config():
    from jsonargparse import ArgumentParser
    from pytorch_lightning import Callback

    parser = ArgumentParser()
    parser.add_argument("--callbacks", type=list[Callback])
    cfg = parser.parse_object({"callbacks": [{"class_path": "harsanyi_lightning.callbacks.InteractionCallback", "init_args": {
        "every_n_epochs": 3, "n": 8, "precision": "tf32", "references": {"pretrain": "runs/probe/interactions"},
        "forward": "harsanyi_lightning.interactions.values.default_forward"}}]})
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    (cb,) = instantiate(cfg).callbacks
    assert isinstance(cb, InteractionCallback)
    assert (cb.every_n_epochs, cb.n, cb.precision) == (3, 8, "tf32")
    assert cb.references == {"pretrain": "runs/probe/interactions"}
    # a name stays as written and is resolved at setup (an import path here: docs/callback.md#forward)
    assert cb.forward == "harsanyi_lightning.interactions.values.default_forward"
    assert resolve_forward(ToyModule(), cb.forward) is default_forward


# ---------------------------------------------------------------- use in another project (README example)


class TabularClassifier(pl.LightningModule):
    """A plain LightningModule of 'another project': nothing of this project's modules."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def test_use_in_another_project(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(64, 6)
    y = (x[:, 0] * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    # --- README snippet ---------------------------------------------------------
    sample_set = build_feature_sample_set(x[:5], y[:5], baseline=x.mean(0))  # 6 features = 6 variables
    sample_set.save(tmp_path / "annotation.pt")

    def logits(model, inputs):  # forward(model, masked inputs) -> logits[batch, classes]
        return model.net(inputs)

    callback = InteractionCallback(sample_set=str(tmp_path / "annotation.pt"), forward=logits, every_n_epochs=1)
    trainer = pl.Trainer(max_epochs=2, callbacks=[callback], default_root_dir=str(tmp_path), accelerator="cpu",
                         enable_progress_bar=False, enable_checkpointing=False)
    model = TabularClassifier()
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16))
    # -----------------------------------------------------------------------------
    out = Path(trainer.log_dir) / "interactions"
    final = epoch_content(out, 2)
    assert final["model"] == "TabularClassifier" and final["n"] == 6 and final["dataset"] == "features"
    expected = harsanyi_interactions(model.net, sample_set)
    torch.testing.assert_close(final["dividends"], expected.dividends, rtol=0, atol=0)
    assert sorted(json.loads((out / "jaccard.json").read_text())["epochs"]) == [0, 1, 2]
    assert os.path.exists(out / "annotation.pt")
