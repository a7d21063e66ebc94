"""DataLoader worker processes (``num_workers = 2``, persistent): a study interrupted mid-epoch and run
again ends equal to an uninterrupted run; a resumed loader gives the augmentation of the uninterrupted
one (each sample's randomness in a worker depends on (seed, epoch, sample) only); a worker that dies
stops the fit with a clear WorkerError instead of hanging."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from harsanyi_lightning.datamodules import HarsanyiDataModule
from tests.reliability.harness import assert_same, last_line, run_in_process, snapshot, write_tiny_study
from kill_worker import KillWorker
from tests.reliability.test_bad_config import fit_config

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")


class Augmented(Dataset):
    """Item ``i`` is ``i`` plus noise drawn from the global torch RNG, as a random augmentation draws."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int):
        return torch.tensor(float(i)) + torch.rand(()), 0


class AugmentedData(HarsanyiDataModule):
    def __init__(self):
        super().__init__(batch_size=4, num_workers=2)
        self.datasets = {"train": Augmented()}


def epochs(loader, count: int) -> list[torch.Tensor]:
    return [torch.cat([x for x, _ in loader]) for _ in range(count)]


def test_a_resumed_loader_with_workers_augments_like_the_uninterrupted_one(monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")  # a seeded run
    torch.manual_seed(0)
    uninterrupted = epochs(AugmentedData().train_dataloader(), 3)  # persistent workers: started at epoch 0
    torch.manual_seed(1234)  # a resumed process has another RNG history
    resumed = AugmentedData().train_dataloader()
    resumed.sampler.set_epoch(2)  # Lightning sets the epoch from the checkpoint
    (epoch_2,) = epochs(resumed, 1)  # its workers start at epoch 2
    assert torch.equal(epoch_2, uninterrupted[2])
    assert not torch.equal(uninterrupted[1], uninterrupted[2])  # the epochs differ: the comparison is not trivial
    assert sorted(epoch_2.floor().tolist()) == list(map(float, range(16)))  # each sample once


def test_study_with_two_workers_interrupted_mid_epoch_resumes_to_the_same_result(tmp_path, uninterrupted):
    marker = tmp_path / "marker"
    kill = dict(marker=str(marker), regime="finetune", at="train", epoch=1, batch=0, how="raise")
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study", kill, num_workers=2)
    with pytest.raises(RuntimeError, match="injected crash: killed in training epoch 1, batch 0"):
        run_in_process("study", "--config", str(cfg))
    rc, out, err = run_in_process("study", "--config", str(cfg))
    assert rc == 0, err[-3000:]
    assert "probe: complete, skipped" in out and "(resuming from" in out
    assert_same(snapshot(tmp_path / "study"), uninterrupted)


def test_a_worker_that_dies_stops_the_fit_with_a_clear_error(tmp_path):
    KillWorker.killed = None
    # 8 batches: with 2 workers prefetching 2 batches each, batch 6 is asked of the killed worker after the kill at
    # batch 0, so the loader must notice it (with 2 batches the epoch could end on batches already in flight)
    cfg = fit_config(tmp_path, data={"num_workers": 2, "num_train": 64})
    rc, _, err = run_in_process("fit", "--config", str(cfg), "--trainer.callbacks+=kill_worker.KillWorker")
    assert KillWorker.killed is not None
    assert rc == 2 and "Traceback" not in err, err[-3000:]
    msg = last_line(err)
    assert msg.startswith("error (WorkerError): a DataLoader worker process died")
    assert str(KillWorker.killed) in msg and "num_workers" in msg  # torch names the pid, and the signal when it saw it
    assert not list(tmp_path.rglob("*.ckpt"))
