"""At the command line, user errors are one clean message (type, what is wrong, the fix) and exit
status 2, with no traceback from deep inside torch, transformers or jsonargparse; the fix it gives works in
the command that failed (a study's own flags, not ``fit``'s), and no work has started."""
from __future__ import annotations

from pathlib import Path

import pytest

from harsanyi_lightning.cli import run_from_command_line
from tests.reliability.harness import run_in_process
from tests.reliability.test_bad_config import fit_config
from tests.shared_data import ROOT
from tests.tiny_study import regime_files

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: a download is refused at once


def last_error(capsys) -> str:
    """The one-line error ``run_from_command_line`` printed (the last line of stderr)."""
    return capsys.readouterr().err.strip().splitlines()[-1]


def sst2_study(tmp_path: Path) -> tuple[Path, Path]:
    """A study of the tiny regimes on SST-2 (``shared.data`` names the data module): ``(config, study dir)``."""
    files = regime_files(tmp_path / "configs")
    study = tmp_path / "study"
    cfg = tmp_path / "study.yaml"
    cfg.write_text(f"""\
study_dir: {study}
shared:
  data: {{class_path: harsanyi_lightning.datamodules.SST2DataModule, init_args: {{batch_size: 16}}}}
regimes:
  probe: {{kind: probe, configs: [{files['probe']}]}}
  finetune: {{kind: finetune, configs: [{files['finetune']}]}}
  scratch: {{kind: scratch, configs: [{files['scratch']}]}}
sample_set: {{n: 5, num_samples: 2}}
interactions: {{progress: false, figures: false}}
""")
    return cfg, study


def no_work_in(study: Path) -> None:
    """Nothing was trained or evaluated in ``study``: no checkpoint, no sample set, no artifact, no summary."""
    assert not [p for p in study.rglob("*") if p.suffix in (".ckpt", ".pt") or p.name == "summary.json"]


def test_harsanyi_data_wins_over_the_shared_folder_and_a_study_names_its_own_flag(tmp_path, monkeypatch, capsys):
    """With ``HARSANYI_DATA`` pointing to an empty folder, a study beside ``../shared/data`` does not train on the
    shared copy: it stops with the missing-data error naming that folder and ``--shared.data.init_args.data_dir``."""
    empty = tmp_path / "my_data"
    empty.mkdir()
    monkeypatch.setenv("HARSANYI_DATA", str(empty))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, DEAD_PROXY)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    cfg, study = sst2_study(tmp_path)
    assert run_from_command_line(["study", "--config", str(cfg)]) == 2
    err = last_error(capsys)
    assert err.startswith("error (OfflineError): SST-2 not found"), err
    assert f"missing in {empty / 'sst2'}" in err and "shared/data" not in err
    assert "--shared.data.init_args.data_dir <folder with train.tsv and dev.tsv>" in err
    assert " --data.init_args" not in err  # fit's flag fails in a study
    no_work_in(study)


@pytest.mark.parametrize("case, override, words", [
    ("unknown backbone", ["--model.init_args.backbone", "resnet-9000"], ["ConfigError", "unknown backbone 'resnet-9000'", "known:"]),
    ("bad batch size", ["--data.init_args.batch_size", "0"], ["ConfigError", "batch_size=0"]),
    ("missing SST-2", ["--data", "harsanyi_lightning.datamodules.SST2DataModule", "--data.init_args.data_dir", "{tmp}/nowhere",
                       "--data.init_args.download", "false"], ["DataError", "train.tsv", "nowhere",
                                                        "Pass --data.init_args.data_dir <folder with train.tsv"]),
])
@pytest.mark.slow
def test_fit_with_bad_input_prints_one_clean_error(tmp_path, case, override, words):
    args = [a.replace("{tmp}", str(tmp_path)) for a in override]
    rc, _, err = run_in_process("fit", "--config", str(fit_config(tmp_path)), *args)
    assert rc == 2, (case, err[-3000:])
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error (")
    for w in words:
        assert w in last, (w, last)
    assert not list(tmp_path.rglob("*.ckpt"))


def test_a_mistyped_study_option_names_the_closest_one(tmp_path, capsys):
    study = tmp_path / "study"
    rc = run_from_command_line(["study", "--sample_set.num_sampels", "3", "--study_dir", str(study)])
    assert rc == 2
    err = last_error(capsys)
    assert err.startswith("error (ConfigError): unknown option --sample_set.num_sampels "
                          "(did you mean --sample_set.num_samples?)"), err
    assert "`python cli.py study --help` lists every option" in err
    assert not study.exists() and "[study]" not in capsys.readouterr().out


def test_a_mistyped_fit_option_names_the_closest_one(tmp_path, capsys):
    cfg = fit_config(tmp_path)
    assert run_from_command_line(["fit", "--config", str(cfg), "--trainer.max_epohcs", "1"]) == 2
    err = last_error(capsys)
    assert "unknown option --trainer.max_epohcs (did you mean --trainer.max_epochs?)" in err, err
    assert "`python cli.py fit --help`" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.yaml"]  # nothing trained, logged or saved


def test_a_mistyped_setting_below_shared_names_the_closest_one(tmp_path, capsys):
    cfg, study = sst2_study(tmp_path)
    assert run_from_command_line(["study", "--config", str(cfg), "--shared.trainer.max_epohcs", "1"]) == 2
    err = last_error(capsys)
    assert "does not accept option 'max_epohcs'; did you mean trainer.max_epochs?" in err, err
    assert not study.exists()


@pytest.mark.parametrize("command, given, nearest", [
    ("study", "configs/tiny/studdy.yaml", "configs/tiny/study.yaml"),
    ("study", "configs/cifar10_resnet50/study.yaml", "configs/experiments/cifar10_resnet50.yaml"),
    ("fit", "configs/sst2_minilm/prob.yaml", "configs/sst2_minilm/probe.yaml"),
])
def test_a_missing_config_lists_the_nearest_existing_ones(tmp_path, monkeypatch, capsys, command, given, nearest):
    monkeypatch.chdir(ROOT)
    args = [command, "--config", given]
    args += ["--study_dir", str(tmp_path / "study")] if command == "study" else [
        "--trainer.default_root_dir", str(tmp_path / "fit")]
    assert run_from_command_line(args) == 2
    err = last_error(capsys)
    assert err.startswith(f"error (ConfigError): config file {given} does not exist; the nearest existing ones: "
                          f"{nearest}, "), err
    assert (ROOT / nearest).is_file()
    assert not list(tmp_path.iterdir())


def test_a_missing_regime_config_lists_the_nearest_existing_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    study = tmp_path / "study"
    rc = run_from_command_line(["study", "--config", "configs/tiny/study.yaml", "--study_dir", str(study),
                                "--regimes.probe.configs", "[configs/tiny/regimes/prob.yaml]"])
    assert rc == 2
    err = last_error(capsys)
    assert "regime config configs/tiny/regimes/prob.yaml not found" in err, err
    assert "the nearest existing ones: configs/tiny/regimes/probe.yaml" in err
    assert not study.exists()


@pytest.mark.parametrize("inside", [False, True])
def test_a_study_dir_that_is_a_file_says_so(tmp_path, capsys, inside):
    cfg, _ = sst2_study(tmp_path)
    file = tmp_path / "results.txt"
    file.write_text("my notes\n")
    study = file / "study" if inside else file
    assert run_from_command_line(["study", "--config", str(cfg), "--study_dir", str(study)]) == 2
    err = last_error(capsys)
    said = f"cannot be created: {file} is a file" if inside else f"study_dir {file} is a file"
    assert err.startswith("error (ConfigError): study_dir") and said in err and "not a folder" in err, err
    assert "chmod" not in err and "writable" not in err  # not a permission problem
    assert file.read_text() == "my notes\n"
    assert "[study]" not in capsys.readouterr().out


def test_an_error_inside_a_study_names_the_studys_own_settings():
    from harsanyi_lightning.interactions.errors import OfflineError, StorageError, WorkerError
    from harsanyi_lightning.study.run.failures import in_study_terms

    err = in_study_terms(OfflineError("... pass --data.init_args.data_dir <folder>, or model.init_args.backbone=/p; "
                                      "see configs/data/sst2.yaml and shared.data.init_args.x"))
    assert isinstance(err, OfflineError) and str(err) == (
        "... pass --shared.data.init_args.data_dir <folder>, or shared.model.init_args.backbone=/p; "
        "see configs/data/sst2.yaml and shared.data.init_args.x")  # a path or a study setting is left as it is
    worker = in_study_terms(RuntimeError("DataLoader worker (pid 42) is killed by signal: Killed."))
    assert isinstance(worker, WorkerError) and "lower shared.data.init_args.num_workers" in str(worker)
    assert in_study_terms(StorageError("could not write x: ENOSPC", 28, "x")) is None  # no setting to rename
    assert in_study_terms(ValueError("a bug")) is None
