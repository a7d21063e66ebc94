"""``cli.py study`` overrides merge into the study config (typed, siblings kept), with or without
``--config``, and ``--print_config`` prints what will run (docs/study.md)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from harsanyi_lightning.cli import main
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.study.run.plan import DEFAULT_STUDY_CONFIG

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_YAML = ROOT / "configs" / "sst2_minilm" / "study.yaml"


def printed_config(capsys, args: list[str]) -> dict:
    """The config ``cli.py study <args> --print_config`` prints."""
    with pytest.raises(SystemExit) as info:
        main(["study", *args, "--print_config"])
    assert info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def default_config() -> dict:
    return yaml.safe_load(DEFAULT_YAML.read_text())


def assert_contains(printed: dict, expected: dict, where: str = "") -> None:
    """Every setting of ``expected`` is in ``printed`` with the same value (and type)."""
    for key, value in expected.items():
        assert key in printed, f"{where}{key} is missing"
        if isinstance(value, dict):
            assert isinstance(printed[key], dict), f"{where}{key}"
            assert_contains(printed[key], value, f"{where}{key}.")
        else:
            assert printed[key] == value and type(printed[key]) is type(value), (f"{where}{key}", printed[key], value)


def test_the_embedded_default_is_the_packaged_yaml():
    assert Path(DEFAULT_STUDY_CONFIG).resolve() == DEFAULT_YAML.resolve()


def test_print_config_without_config_prints_the_embedded_default(capsys):
    assert_contains(printed_config(capsys, []), default_config())


@pytest.mark.parametrize("config", [[], ["--config", str(DEFAULT_YAML)]], ids=["embedded", "--config"])
def test_max_epochs_override_keeps_every_other_setting(capsys, config):
    printed = printed_config(capsys, [*config, "--shared.trainer.max_epochs", "1"])
    expected = default_config()
    expected["shared"]["trainer"]["max_epochs"] = 1
    assert_contains(printed, expected)
    assert type(printed["shared"]["trainer"]["max_epochs"]) is int
    # the default's own settings are all there: the 8,000-sentence subset and the seed
    assert printed["shared"]["data"]["init_args"]["train_subset"] == 8000
    assert printed["shared"]["seed_everything"] == 0
    assert printed["shared"]["trainer"] == {**default_config()["shared"]["trainer"], "max_epochs": 1}


@pytest.mark.parametrize("form", ["two", "equals"])
def test_devices_override_keeps_its_siblings(capsys, form):
    override = ["--shared.trainer.devices", "2"] if form == "two" else ["--shared.trainer.devices=2"]
    printed = printed_config(capsys, ["--config", "configs/sst2_minilm/study.yaml", *override])
    trainer = default_config()["shared"]["trainer"]
    assert printed["shared"]["trainer"] == {**trainer, "devices": 2}
    assert set(trainer) == {"max_epochs", "accelerator", "devices", "log_every_n_steps"}


def test_overrides_of_every_section_merge(capsys):
    printed = printed_config(capsys, [
        "--sample_set.num_samples", "4",
        "--interactions.batch_size", "64",
        "--regimes.finetune.overrides.model.init_args.lr", "1e-3",
        "--regimes.finetune.overrides.trainer.max_epochs", "2",
        "--regimes.probe.interactions.batch_size", "32",
        "--regimes.scratch.interactions.every_n_epochs", "2",
        "--shared.data.init_args.num_workers", "0",
        "--study_dir", "studies/elsewhere",
    ])
    expected = default_config()
    expected["study_dir"] = "studies/elsewhere"
    expected["sample_set"]["num_samples"] = 4
    expected["interactions"]["batch_size"] = 64
    regimes = expected["regimes"]
    regimes["finetune"]["overrides"] = {"model": {"init_args": {"lr": 0.001}}, "trainer": {"max_epochs": 2}}
    regimes["probe"]["interactions"] = {"every_n_epochs": 1, "at_steps": None, "batch_size": 32}
    regimes["scratch"]["interactions"] = {"every_n_epochs": 2}
    expected["shared"]["data"]["init_args"]["num_workers"] = 0
    assert_contains(printed, expected)
    assert printed["regimes"]["probe"]["interactions"] == {"every_n_epochs": 1, "at_steps": None, "batch_size": 32}
    assert printed["regimes"]["probe"]["kind"] == "probe"  # an override keeps every sibling
    assert printed["sample_set"]["n"] == 9 and printed["sample_set"]["pool_split"] == "val"
    assert printed["interactions"]["precision"] == "fp32"


def test_a_dict_value_merges_and_later_overrides_win(capsys):
    printed = printed_config(capsys, [
        "--shared.trainer", "{max_epochs: 2, precision: 32}",
        "--shared.trainer.max_epochs", "5",
        "--shared.trainer.accelerator", "null",
    ])
    trainer = copy.deepcopy(default_config()["shared"]["trainer"])
    trainer.update(max_epochs=5, precision=32, accelerator=None)
    assert printed["shared"]["trainer"] == trainer
    assert printed["shared"]["seed_everything"] == 0


def test_yaml_typed_values(capsys):
    printed = printed_config(capsys, [
        "--shared.trainer.gradient_clip_val", "0.5",
        "--shared.trainer.enable_progress_bar", "false",
        "--shared.trainer.accelerator", "cpu",
        "--shared.data.init_args.labels", "[0, 1]",
    ])
    t = printed["shared"]["trainer"]
    assert t["gradient_clip_val"] == 0.5 and t["enable_progress_bar"] is False and t["accelerator"] == "cpu"
    assert printed["shared"]["data"]["init_args"] == {"train_subset": 8000, "labels": [0, 1]}


def test_a_study_config_without_shared_takes_the_overrides(capsys, tmp_path):
    cfg = default_config()
    del cfg["shared"]
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    printed = printed_config(capsys, ["--config", str(path), "--shared.trainer.max_epochs", "1"])
    assert printed["shared"] == {"trainer": {"max_epochs": 1}}  # nothing leaks in from the embedded default
    assert printed["sample_set"]["num_samples"] == 12


def test_an_override_without_a_value_is_a_config_error():
    with pytest.raises(ConfigError, match="shared.trainer.max_epochs needs a value"):
        main(["study", "--print_config", "--shared.trainer.max_epochs"])


def test_a_mistyped_override_is_a_config_error():
    with pytest.raises(ConfigError, match="num_samples"):
        main(["study", "--sample_set.num_samples", "many", "--print_config"])


def test_split_and_merge_dict_overrides_without_the_cli():
    from jsonargparse import get_loader

    from harsanyi_lightning.study.overrides import merge_dict_overrides, split_dict_overrides

    settings = ["shared", "probe.overrides"]
    rest, found = split_dict_overrides(
        ["--config", "x.yaml", "--shared.trainer.devices=2", "--probe.overrides.model.init_args.lr", "1e-3",
         "--shared", "{a: 1}", "--sample_set.n", "10", "--shared.trainer", "{precision: 16}"],
        settings, get_loader("yaml"))
    assert rest == ["--config", "x.yaml", "--shared", "{a: 1}", "--sample_set.n", "10"]
    assert [(o.setting, o.keys, o.value) for o in found] == [
        ("shared", ("trainer", "devices"), 2), ("probe.overrides", ("model", "init_args", "lr"), 0.001),
        ("shared", ("trainer",), {"precision": 16})]
    parsed = {"shared": {"seed_everything": 0, "trainer": {"max_epochs": 3, "devices": 1}}, "probe.overrides": None}
    merged = merge_dict_overrides(parsed, found)
    assert merged == {"shared": {"seed_everything": 0, "trainer": {"max_epochs": 3, "devices": 2, "precision": 16}},
                      "probe.overrides": {"model": {"init_args": {"lr": 0.001}}}}
    assert parsed["shared"]["trainer"] == {"max_epochs": 3, "devices": 1}  # the parsed config is not changed
