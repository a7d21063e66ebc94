"""Numerics: NaN/inf model outputs are stopped with sample and mask named, or skipped and recorded;
logit margins of +-1000 stay finite."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from harsanyi_lightning.interactions import build_feature_sample_set, harsanyi_interactions
from harsanyi_lightning.interactions.errors import NumericsError


class Poisoned(nn.Module):
    """Two-class logits ``[0, sum(x)]``; NaN (or inf) for sample rows whose feature 0 is masked to the
    baseline -1 while features 1 and 2 are kept and feature 2 equals ``bad`` (mask 6 = bits 1, 2)."""

    def __init__(self, bad: float, poison: float = float("nan")):
        super().__init__()
        self.bad, self.poison = bad, poison

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.sum(1)
        hit = (x[:, 0] == -1.0) & (x[:, 1] != -1.0) & (x[:, 2] == self.bad)
        z = torch.where(hit, torch.full_like(z, self.poison), z)
        return torch.stack([torch.zeros_like(z), z], 1)


def sample_set():
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, 1.5, 7.0], [2.0, 1.0, 3.5]])
    return build_feature_sample_set(x, [1, 1, 0], baseline=torch.full((3,), -1.0))


@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_nonfinite_output_stops_with_sample_and_mask_named(poison):
    with pytest.raises(NumericsError) as err:
        harsanyi_interactions(Poisoned(bad=7.0, poison=poison), sample_set())
    msg = str(err.value)
    assert "sample 1" in msg and "mask 6" in msg and "kept variables [1, 2]" in msg and "on_nonfinite='skip'" in msg


def test_skip_leaves_the_sample_out_and_records_it():
    res = harsanyi_interactions(Poisoned(bad=7.0), sample_set(), on_nonfinite="skip")
    assert res.skipped == [1]
    assert torch.isnan(res.values[1]).all() and torch.isnan(res.dividends[1]).all()
    clean = harsanyi_interactions(Poisoned(bad=-5.0), sample_set())  # never poisoned
    assert torch.equal(res.values[[0, 2]], clean.values[[0, 2]])


def test_skip_through_the_callback_is_recorded_in_the_artifact(tmp_path, quick_trainer):
    """InteractionCallback(on_nonfinite='skip') on a model whose outputs are NaN for one sample: the fit
    goes on and every epoch's artifact lists the sample in ``skipped``."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    from harsanyi_lightning.callbacks import InteractionCallback
    from harsanyi_lightning.interactions.artifacts import load_artifact

    ss = sample_set()
    ss.save(tmp_path / "annotation.pt")

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))
            self.net = Poisoned(bad=7.0)

        def forward(self, x):
            return self.net(x * self.w)

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)  # weights stay: the poison stays

    data = DataLoader(TensorDataset(torch.randn(4, 3), torch.tensor([0, 1, 0, 1])), batch_size=2)
    cb = InteractionCallback(sample_set=str(tmp_path / "annotation.pt"), output_dir=str(tmp_path / "out"),
                             on_nonfinite="skip", figures=False, progress=False)
    quick_trainer(max_epochs=1, callbacks=[cb]).fit(Module(), data)
    for epoch in (0, 1):
        content, _ = load_artifact(tmp_path / "out" / f"epoch_{epoch:03d}.pt", "interactions")
        assert content["skipped"] == [1]
    with pytest.raises(NumericsError, match="sample 1"):
        cb2 = InteractionCallback(sample_set=str(tmp_path / "annotation.pt"), output_dir=str(tmp_path / "out2"),
                                  figures=False, progress=False)
        quick_trainer(max_epochs=1, callbacks=[cb2]).fit(Module(), data)


@pytest.mark.parametrize("margin", [1000.0, -1000.0])
def test_logit_margins_of_1000_stay_finite(margin):
    class Huge(nn.Module):
        def forward(self, x):
            z = margin * torch.tanh(x.sum(1)).sign().clamp_min(0.5)  # +-1000 or +-500 by mask
            return torch.stack([torch.zeros_like(z), z], 1)

    res = harsanyi_interactions(Huge(), sample_set())
    assert torch.isfinite(res.values).all() and torch.isfinite(res.dividends).all()
    assert res.values.abs().max() >= 499.0 and res.skipped == []
