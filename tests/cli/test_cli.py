"""cli.py: every config parses offline, the links hold, TensorBoard gets the epoch curves, and the
embedded default trains end to end."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harsanyi_lightning.cli import main
from tests.shared_data import ROOT, require_shared_sst2

#: the paper's grid cells (configs/experiments/) and the embedded default (configs/sst2_minilm/study.yaml)
CELLS = sorted([*ROOT.glob("configs/experiments/*.yaml"), ROOT / "configs" / "sst2_minilm" / "study.yaml"])
REGIME_CLASS = {"probe": "ProbeClassifier", "finetune": "FinetuneClassifier", "scratch": "ScratchClassifier"}
DATA_CLASS = {"sst2": "SST2DataModule", "cifar10": "CIFAR10DataModule", "cub200": "CUB200DataModule",
              "cars": "StanfordCarsDataModule"}
BACKBONE = {"vgg16": "vgg16", "resnet50": "resnet50", "vit_small": "vit_small_patch16_224",
            "vit_base": "vit_base_patch16_224", "minilm": "minilm-l6", "bert_base": "bert-base",
            "distilbert": "distilbert"}


def study_plan(path: Path, capsys):
    """The plan ``cli.py study --config <path>`` runs (parsed and built, nothing run)."""
    from harsanyi_lightning.study.regimes import RegimeSpec
    from harsanyi_lightning.study.run.plan import InteractionSpec, SampleSetSpec, StudyPlan

    with pytest.raises(SystemExit) as info:
        main(["study", "--config", str(path), "--print_config"])
    assert info.value.code in (0, None)
    cfg = yaml.safe_load(capsys.readouterr().out)
    return StudyPlan(study_dir=Path(cfg["study_dir"]), regimes={k: RegimeSpec(**v) for k, v in cfg["regimes"].items()},
                     shared=cfg["shared"] or {}, sample_set=SampleSetSpec(), interactions=InteractionSpec(),
                     configs=cfg.get("configs") or [])


def test_the_config_grid_is_complete():
    cells = {p.stem for p in CELLS}
    expected = {f"{d}_{b}" for d in ("cifar10", "cub200", "cars") for b in ("vgg16", "resnet50", "vit_small", "vit_base")}
    assert expected | {"sst2_bert_base", "sst2_distilbert", "study"} == cells


@pytest.mark.parametrize("path", CELLS, ids=lambda p: p.stem)
def test_every_cell_of_the_grid_parses_offline_for_each_regime(path, capsys, monkeypatch, tmp_path):
    """Each regime of each cell, as the study stacks its configs (the regime's files, the cell's data and model,
    ``shared``, the regime's overrides), parses as a plain ``cli.py fit`` config with the paper's recipe."""
    plan = study_plan(path, capsys)
    cell = "sst2_minilm" if path.stem == "study" else path.stem
    dataset, _, model_key = cell.partition("_")
    monkeypatch.chdir(tmp_path)  # relative includes resolve against the config file, not the cwd
    for regime in plan.regimes:
        with pytest.raises(SystemExit) as info:
            main(["fit", *plan.regime_args(regime)[:-2], "--print_config"])  # without the study's managed layer
        assert info.value.code in (0, None)
        cfg = yaml.safe_load(capsys.readouterr().out)
        assert cfg["model"]["class_path"] == f"harsanyi_lightning.lightning_modules.{REGIME_CLASS[regime]}"
        assert cfg["model"]["init_args"]["backbone"] == BACKBONE[model_key]
        assert cfg["data"]["class_path"] == f"harsanyi_lightning.datamodules.{DATA_CLASS[dataset]}"
        assert cfg["trainer"]["logger"]["class_path"].endswith("TensorBoardLogger")
        args = cfg["model"]["init_args"]
        opt = args["optimizer"]["init_args"]
        if dataset == "sst2" and model_key != "minilm":  # paper D.2 / D.3, text: AdamW, constant lr
            assert cfg["trainer"]["max_epochs"] == 300
            assert args["optimizer"]["class_path"] == "torch.optim.AdamW" and args["lr_scheduler"] is None
            assert opt["lr"] == pytest.approx(2e-4 if regime == "scratch" else 2e-5)
        elif dataset != "sst2":  # paper D.2 / D.3, vision
            assert cfg["trainer"]["max_epochs"] == 90
            assert args["optimizer"]["class_path"] == "torch.optim.SGD" and args["lr_scheduler"] is None
            assert (opt["momentum"], opt["weight_decay"]) == (0.9, 5e-4)
            assert opt["lr"] == pytest.approx(0.1 if regime == "scratch" else 0.01)
        else:  # the embedded default: the recipe of configs/recipes/minilm.yaml
            assert cfg["data"]["init_args"]["group_by_length"] is True
            assert args["lr_scheduler"]["class_path"] == "harsanyi_lightning.lightning_modules.LinearWarmupDecay"
            assert args.get("pooling", "mean") == "mean"  # the probe reads mean-pooled MiniLM features


def tensorboard_scalars(log_dir: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_cli_links_backbone_and_num_classes_and_logs_epoch_curves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main([
        "fit", "--model", "harsanyi_lightning.lightning_modules.ProbeClassifier", "--model.backbone", "tiny-cnn",
        "--model.optimizer", "torch.optim.SGD", "--model.optimizer.lr", "0.05",
        "--data", "harsanyi_lightning.datamodules.TinyImageDataModule", "--data.num_classes", "4",
        "--trainer.max_epochs", "2", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_checkpointing", "false", "--trainer.enable_model_summary", "false",
        "--trainer.logger", "pytorch_lightning.loggers.TensorBoardLogger",
        "--trainer.logger.save_dir", str(tmp_path / "runs"), "--trainer.logger.name", "tiny",
    ])
    assert cli.model.num_classes == 4 and cli.model.net.head.out_features == 4  # linked from the data
    assert cli.datamodule.backbone == "tiny-cnn"  # linked from the model
    logs = list((tmp_path / "runs" / "tiny").glob("version_*"))
    assert len(logs) == 1 and (logs[0] / "config.yaml").is_file()
    scalars = tensorboard_scalars(logs[0])
    for tag in ("train/loss", "train/acc", "val/loss", "val/acc"):
        assert len(scalars[tag]) == 2, tag  # one point per epoch


def test_cli_unknown_backbone_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # jsonargparse re-raises the ConfigError inside a ValueError that keeps its message
    with pytest.raises(ValueError, match="unknown backbone 'nosuch'.*minilm-l6"):
        main(["fit", "--config", str(ROOT / "configs/sst2_minilm/probe.yaml"), "--model.init_args.backbone", "nosuch",
              "--trainer.fast_dev_run=true"])
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_embedded_default_finetune_runs_end_to_end(tmp_path):
    require_shared_sst2()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs/sst2_minilm/finetune.yaml"),
         "--trainer.fast_dev_run=true"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "`Trainer.fit` stopped" in out and "val/acc" in out
