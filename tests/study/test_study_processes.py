"""The study's processes (docs/study.md#many-devices-and-machines), in one process: the checks that stop a
study under DDP before any work, rank zero's decisions on a single process, and the error naming the regime
when another rank died. The multi-process runs are in tests/reliability/test_ddp_study.py."""
from __future__ import annotations

import pytest
import torch

from harsanyi_lightning.interactions.errors import ConfigError, FolderInUseError, WorkerError
from harsanyi_lightning.study.run.failures import project_error, regime_failure
from harsanyi_lightning.study.run.processes import StudyProcesses, layout_of, start_study_processes
from tests.reliability.harness import run_in_process, write_tiny_study


def test_one_process_layouts_start_no_processes():
    for layout in ({"accelerator": "cpu", "devices": 1}, {"accelerator": "cpu", "devices": 1, "strategy": "ddp"}, {}):
        processes = start_study_processes(layout)
        assert (processes.world_size, processes.rank, processes.is_zero, processes.strategy) == (1, 0, True, None)
    assert not torch.distributed.is_initialized()


def test_a_strategy_that_starts_processes_for_every_fit_is_refused_before_any_work():
    with pytest.raises(ConfigError, match=r"trainer.strategy='ddp_spawn'.*use strategy: ddp"):
        start_study_processes({"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn"})
    assert not torch.distributed.is_initialized()


def test_regimes_asking_for_different_devices_stop_the_study_before_any_work(tmp_path):
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study")
    rc, out, err = run_in_process("study", "--config", str(cfg), "--regimes.scratch.overrides.trainer.devices", "2")
    assert rc == 2
    assert "error (ConfigError): the regimes ask for different trainer.devices (probe: 1, finetune: 1, scratch: 2)" in err
    assert "shared.trainer.devices" in err
    assert not (tmp_path / "study").exists()  # nothing was written


def test_rank_zero_decisions_on_one_process_run_in_place():
    processes = StudyProcesses()
    assert processes.on_zero(lambda: ("resume", 3)) == ("resume", 3)
    assert processes.share({"a": 1}) == {"a": 1}

    def fails():
        raise FolderInUseError("in use")

    with pytest.raises(FolderInUseError, match="in use"):
        processes.on_zero(fails)


def test_a_dead_rank_during_a_regime_is_named_with_the_regime_and_the_rerun():
    try:
        try:
            raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer "
                               "[127.0.0.1]:41234")
        except RuntimeError as gloo:
            raise ValueError("during backward") from gloo
    except ValueError as err:
        failure = regime_failure(err, "finetune of seed 1")
        assert isinstance(failure, WorkerError)
        assert str(failure).startswith("regime finetune of seed 1 stopped: another DDP process of this study died")
        assert "Connection closed by peer in RuntimeError" in str(failure)
        assert "Rerun the same command to resume the study" in str(failure)
        assert "another DDP process of this run died" in str(project_error(err))  # outside a study: as before
    assert regime_failure(RuntimeError("shape mismatch"), "probe") is None


def test_layout_of_reads_the_process_settings_as_plain_values():
    from jsonargparse import Namespace

    strategy = Namespace(class_path="pytorch_lightning.strategies.DDPStrategy", init_args=Namespace(timeout=None))
    got = layout_of(Namespace(accelerator="cpu", devices=2, strategy=strategy, max_epochs=3))
    assert got == {"accelerator": "cpu", "strategy": {"class_path": "pytorch_lightning.strategies.DDPStrategy",
                                                      "init_args": {"timeout": None}},
                   "devices": 2, "num_nodes": None, "plugins": None}
