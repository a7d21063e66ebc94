"""The ``seeds`` setting of a study (docs/study.md#seeds): its check, the plan of each seed's run, the run
folders of a study folder (``run_dirs``) and ``check_study`` over them. The seeded study itself runs in
tests/reliability/test_seeded_study.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harsanyi_lightning import cli
from harsanyi_lightning.interactions.errors import ConfigError, DataError
from harsanyi_lightning.study.layout import check_study, run_dirs
from tests.tiny_study import REGIMES
from harsanyi_lightning.study.regimes import RegimeSpec
from harsanyi_lightning.study.run.plan import InteractionSpec, SampleSetSpec, StudyPlan
from tests.reliability.harness import write_tiny_study
from tests.shared_data import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")


def plan_of(tmp_path: Path, seeds=None) -> StudyPlan:
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study")
    return StudyPlan(study_dir=tmp_path / "study", shared={"seed_everything": 7}, sample_set=SampleSetSpec(),
                     interactions=InteractionSpec(), seeds=seeds,
                     regimes={s: RegimeSpec(kind=s, configs=[str(cfg.parent / f"{s}.yaml")]) for s in REGIMES})


@pytest.mark.parametrize("given, words", [
    ("[]", "seeds=[] is not a non-empty list"),
    ("[0, 1, 0]", "repeats [0]"),
    ("[-1, 2]", "holds [-1]"),
    ("[4294967296]", "holds [4294967296]"),
    ("[a]", 'Parser key "seeds"'),
    ("3", 'Parser key "seeds"'),
])
def test_bad_seeds_fail_naming_seeds_and_the_fix_before_any_work(tmp_path, given, words):
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study")
    with pytest.raises(ConfigError) as err:
        cli.main(["study", "--config", str(cfg), "--seeds", given])
    msg = str(cli.user_error(err.value))
    assert words in msg and "seeds" in msg
    assert "give seeds as a non-empty list of unique integers" in msg and "seeds: [0, 1, 2]" in msg
    assert not (tmp_path / "study").exists()


def test_seeds_on_the_command_line_merge_into_the_config_and_print(tmp_path, capsys):
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study")
    for args, expected in (([], None), (["--seeds", "[2, 0]"], [2, 0])):
        with pytest.raises(SystemExit):
            cli.main(["study", "--config", str(cfg), *args, "--print_config"])
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["seeds"] == expected
        assert printed["shared"]["data"] == {"init_args": {"num_train": 32, "words": 5}}  # the rest kept


def test_the_packaged_three_seed_config_is_the_paper_protocol_on_a_gpu(capsys):
    path = ROOT / "configs" / "sst2_minilm" / "study_seeds.yaml"
    with pytest.raises(SystemExit):
        cli.main(["study", "--config", str(path), "--print_config"])
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["seeds"] == [0, 1, 2]
    assert printed["sample_set"]["num_samples"] == 50 and printed["sample_set"]["pool_split"] == "test"
    assert printed["shared"]["data"]["init_args"]["train_subset"] is None
    assert printed["shared"]["trainer"]["accelerator"] == "gpu"


def test_a_single_seed_plan_is_the_plan_of_before(tmp_path):
    plan = plan_of(tmp_path)
    assert plan.runs() == [plan] and plan.run_dir == tmp_path / "study"
    managed = plan.managed("finetune")
    assert "seed_everything" not in managed  # seeded by the configs (shared.seed_everything), as before
    assert managed["trainer"]["default_root_dir"] == str(tmp_path / "study" / "finetune")


def test_each_seed_run_has_its_folder_its_seed_and_its_own_references(tmp_path):
    plan = plan_of(tmp_path, seeds=[3, 1])
    runs = plan.runs()
    assert [r.seed for r in runs] == [3, 1] and [r.run_dir for r in runs] == [tmp_path / "study" / "seed_3",
                                                                              tmp_path / "study" / "seed_1"]
    for run in runs:
        args = run.regime_args("scratch")
        managed = yaml.safe_load(args[-1])
        assert managed["seed_everything"] == run.seed  # the managed layer comes last: it wins over shared's 7
        assert managed["trainer"]["default_root_dir"] == str(run.run_dir / "scratch")
        callback, checkpoint = run.callbacks("probe")  # probe: no reference needed
        assert callback.options.run.output_dir == str(run.run_dir / "probe" / "interactions")
        assert callback.options.run.sample_set == str(tmp_path / "study" / "annotation.pt")  # the one sample set
        assert checkpoint.dirpath == str(run.run_dir / "probe" / "checkpoints")
    for s in REGIMES:
        assert len({run.fingerprint(s) for run in runs} | {plan.fingerprint(s)}) == 3
    # references: each run's finetune is measured against its own probe
    for run in runs:
        probe = run.run_dir / "probe"
        (probe / "interactions").mkdir(parents=True)
        (probe / "summary.json").write_text(json.dumps({"final_artifact": "interactions/epoch_002.pt"}))
        assert run.final_artifact("probe") == probe / "interactions" / "epoch_002.pt"


def write_manifest(study: Path, **fields) -> None:
    study.mkdir(parents=True, exist_ok=True)
    regimes = {name: {"kind": kind} for name, kind in REGIMES.items()}
    (study / "study.json").write_text(json.dumps({"regimes": regimes, **fields}))


def test_run_dirs_of_single_seed_and_seeded_studies(tmp_path):
    assert run_dirs(tmp_path / "none") == {None: tmp_path / "none"}  # no manifest: the layout of before
    write_manifest(tmp_path / "old")  # no seeds: a single-seed study
    assert run_dirs(tmp_path / "old") == {None: tmp_path / "old"}
    write_manifest(tmp_path / "single", seeds=None)
    assert run_dirs(tmp_path / "single") == {None: tmp_path / "single"}
    write_manifest(tmp_path / "seeded", seeds=[2, 0, 1])
    got = run_dirs(tmp_path / "seeded")
    assert list(got) == [2, 0, 1] and got[0] == tmp_path / "seeded" / "seed_0"
    write_manifest(tmp_path / "bad", seeds=[1, 1])
    with pytest.raises(DataError, match=r"study\.json: seeds=\[1, 1\] repeats \[1\]"):
        run_dirs(tmp_path / "bad")


def test_check_study_lists_every_missing_regime_of_every_seed(tmp_path):
    study = tmp_path / "study"
    write_manifest(study, seeds=[0, 1])
    (study / "seed_0").mkdir()
    with pytest.raises(DataError) as err:
        check_study(study)
    msg = str(err.value)
    for k in (0, 1):
        for s in REGIMES:
            assert f"seed {k}, regime {s!r}: {study / f'seed_{k}' / s / 'summary.json'}" in msg
    assert str(study / "annotation.pt") in msg
