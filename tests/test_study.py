"""The study driver and its report (``python cli.py study`` / ``report``), on a tiny study.

A tiny text task (generated 10-word sentences, a tiny BERT built in code), 2 epochs per
stage, runs end to end through the real command line; the report's numbers are checked
against numbers recomputed here from the stored interaction artifacts.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

import cli
from interactions import knowledge_by_order, knowledge_totals, load_artifact, mean_jaccard, preserved_ratio
from interactions.errors import DataError
from study.layout import STAGES, epoch_files
from study.report import write_report, write_summary

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

BASE = """\
seed_everything: 0
trainer:
  max_epochs: 2
  accelerator: cpu
  devices: 1
  enable_model_summary: false
  enable_progress_bar: false
  log_every_n_steps: 1
model:
  class_path: lightning_modules.FinetuneClassifier
  init_args: {backbone: tiny-bert, optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.001}}}
data:
  class_path: datamodules.TinyTextDataModule
  init_args: {num_train: 32, num_val: 16, num_test: 16, batch_size: 16}
"""


def write_tiny_study(folder: Path, study_dir: Path, *, words: int = 10, interactions: str = "",
                     probe_interactions: str = "") -> Path:
    """Regime files (like configs/<experiment>/<regime>.yaml) and a study config using them; ``words`` words
    per sentence (= n), extra ``interactions`` settings (flow-style YAML items) for the study and the probe."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(BASE)
    for regime in STAGES:
        (folder / f"{regime}.yaml").write_text(
            f"config: base.yaml\nmodel.class_path: lightning_modules.{regime.capitalize()}Classifier\n")
    cfg = folder / "study.yaml"
    cfg.write_text(f"""\
study_dir: {study_dir}
shared:
  data: {{init_args: {{num_train: 32, words: {words}}}}}
probe: {{configs: [{folder / 'probe.yaml'}], overrides: {{model: {{init_args: {{optimizer: {{init_args: {{lr: 0.01}}}}}}}}}},
        interactions: {{{probe_interactions}}}}}
finetune: {{configs: [{folder / 'finetune.yaml'}]}}
scratch: {{configs: [{folder / 'scratch.yaml'}], overrides: {{model: {{init_args: {{optimizer: {{init_args: {{lr: 0.003}}}}}}}}}}}}
sample_set: {{n: {words}, num_samples: 3, seed: 0}}
interactions: {{batch_size: 1024, progress: false, figures: false{', ' + interactions if interactions else ''}}}
""")
    return cfg


def run_study(cfg: Path) -> None:
    cli.main(["study", "--config", str(cfg)])


def stage_files(study: Path, stage: str) -> dict[str, float]:
    """mtime of every checkpoint, interaction artifact, event file and summary of a stage."""
    out = {}
    for p in sorted((study / stage).rglob("*")):
        if p.is_file() and (p.suffix in (".ckpt", ".pt") or p.name == "summary.json" or "tfevents" in p.name):
            out[str(p.relative_to(study))] = p.stat().st_mtime_ns
    return out


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("study")
    study = root / "study"
    cfg = write_tiny_study(root / "configs", study)
    run_study(cfg)
    return cfg, study


def final_dividends(study: Path, stage: str) -> torch.Tensor:
    summary = json.loads((study / stage / "summary.json").read_text())
    content, sha = load_artifact(study / stage / summary["final_artifact"], "interactions")
    assert sha == summary["final_artifact_sha256"]
    return content["dividends"]


@pytest.mark.slow
def test_study_runs_end_to_end_and_writes_every_report_file(tiny_study):
    _, study = tiny_study
    assert (study / "annotation.pt").is_file()
    for stage in STAGES:
        summary = json.loads((study / stage / "summary.json").read_text())
        assert (study / stage / "checkpoints" / "last.ckpt").is_file()
        assert sorted(epoch_files(study, stage)) == [0, 1, 2]
        assert summary["final_epoch"] == 2 and 0.0 <= summary["val_acc"] <= 1.0
        assert list((study / stage / "tb").glob("events.out.tfevents.*"))
    report = study / "report"
    for name in ("knowledge_by_order.png", "ratio.png", "jaccard.png", "loss.png", "samples.png", "report.md",
                 "report.json"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    assert (report / "tb").is_dir() and list((report / "tb").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_report_numbers_equal_the_ones_recomputed_from_the_artifacts(tiny_study):
    _, study = tiny_study
    a, b, c = (final_dividends(study, s) for s in STAGES)
    # every stage measured on the one annotation of the study
    anno_hash = load_artifact(study / "annotation.pt", "annotation")[1]
    for s in STAGES:
        assert json.loads((study / s / "summary.json").read_text())["annotation_hash"] == anno_hash
    by_order = knowledge_by_order(a, b)
    totals = knowledge_totals(by_order)
    ratio = preserved_ratio(a, b, c)
    num = json.loads((study / "report" / "report.json").read_text())
    for key in ("preserve", "discard", "new", "pretrain", "finetune"):
        assert num["knowledge_totals"][key] == pytest.approx(totals[key], rel=1e-12)
        assert num["knowledge_by_order"][key] == pytest.approx(by_order[key][1:].tolist(), rel=1e-12)
    assert num["ratio"]["ratio"] == pytest.approx(ratio["ratio"], rel=1e-12)
    assert num["ratio"]["ratio_weighted"] == pytest.approx(ratio["ratio_weighted"], rel=1e-12)
    for stage, final in (("finetune", b), ("scratch", c)):
        for e, path in epoch_files(study, stage).items():
            j = mean_jaccard(load_artifact(path, "interactions")[0]["dividends"], final)
            assert num["jaccard"][stage][str(e)] == pytest.approx(j, rel=1e-12)
        assert num["jaccard"][stage]["2"] == pytest.approx(1.0)

    md = (study / "report" / "report.md").read_text()
    dp = totals["discard"] / totals["preserve"]
    assert f"discarded / preserved = {dp:.2f} overall" in md
    assert f"Ratio = {100 * ratio['ratio']:.1f}%" in md
    assert f"strength-weighted: {100 * ratio['ratio_weighted']:.1f}%" in md
    total_row = next(line for line in md.splitlines() if line.startswith("| total |"))
    assert f"| {totals['preserve']:.4g} | {totals['discard']:.4g} | {totals['new']:.4g} |" in total_row
    for s in STAGES:
        acc = json.loads((study / s / "summary.json").read_text())["val_acc"]
        assert re.search(rf"^\| {s} \| 2 \| {100 * acc:.1f}% \|", md, re.M), s
    for e in (0, 1, 2):
        jf = num["jaccard"]["finetune"][str(e)]
        js = num["jaccard"]["scratch"][str(e)]
        assert f"| {e} | {jf:.4f} | {js:.4f} |" in md
    # losses: one value per trained epoch for each stage, read from its TensorBoard events
    for s in STAGES:
        assert sorted(num["loss"][s]["train"]) == ["1", "2"] and sorted(num["loss"][s]["val"]) == ["1", "2"]
    table = write_summary([study, study])
    rows = table.strip().splitlines()[2:]
    assert len(rows) == 2 and all(r.startswith(f"| {study.name} |") for r in rows)
    assert all(f"| {100 * ratio['ratio']:.1f}% |" in r for r in rows)


@pytest.mark.slow
def test_rerunning_a_finished_study_trains_nothing(tiny_study):
    cfg, study = tiny_study
    before = {s: stage_files(study, s) for s in STAGES}
    report_before = (study / "report" / "report.md").stat().st_mtime_ns
    run_study(cfg)
    assert {s: stage_files(study, s) for s in STAGES} == before
    assert (study / "report" / "report.md").stat().st_mtime_ns > report_before


@pytest.mark.slow
def test_deleting_scratch_final_artifacts_redoes_only_scratch_and_the_report(tiny_study):
    cfg, study = tiny_study
    before = {s: stage_files(study, s) for s in STAGES}
    report_before = (study / "report" / "report.md").stat().st_mtime_ns
    for p in (study / "scratch" / "interactions").glob("epoch_002.pt"):
        p.unlink()
    run_study(cfg)
    for s in ("probe", "finetune"):
        assert stage_files(study, s) == before[s], s
    after = stage_files(study, "scratch")
    assert "scratch/interactions/epoch_002.pt" in after
    changed = [k for k in before["scratch"] if k in after and after[k] != before["scratch"][k]]
    assert "scratch/summary.json" in changed and "scratch/checkpoints/last.ckpt" in changed
    assert (study / "report" / "report.md").stat().st_mtime_ns > report_before


@pytest.mark.slow
def test_an_interrupted_stage_resumes_from_its_last_checkpoint(tiny_study):
    cfg, study = tiny_study
    def epochs() -> dict[str, float]:
        return {k: v for k, v in stage_files(study, "scratch").items() if "/epoch_" in k}

    epochs_before = epochs()
    step_before = json.loads((study / "scratch" / "summary.json").read_text())["global_step"]
    (study / "scratch" / "summary.json").unlink()  # as if killed after the last epoch, before the marker
    run_study(cfg)
    assert (study / "scratch" / "summary.json").is_file()
    # resumed at its end: no epoch was trained or evaluated again
    assert len(epochs_before) == 3 and epochs() == epochs_before
    assert json.loads((study / "scratch" / "summary.json").read_text())["global_step"] == step_before


def test_report_on_a_folder_that_is_not_a_study_names_what_is_missing(tmp_path):
    (tmp_path / "something.txt").write_text("x")
    with pytest.raises(DataError, match="not a study directory") as err:
        write_report(tmp_path)
    assert str(tmp_path / "study.json") in str(err.value) and str(tmp_path / "annotation.pt") in str(err.value)
    with pytest.raises(DataError, match="not a study directory"):
        cli.main(["report", str(tmp_path)])


@pytest.mark.slow
def test_report_on_a_study_missing_a_stage_names_the_stage(tiny_study, tmp_path):
    _, study = tiny_study
    partial = tmp_path / "partial"
    shutil.copytree(study, partial, ignore=shutil.ignore_patterns("scratch", "report"))
    with pytest.raises(DataError) as err:
        write_report(partial)
    msg = str(err.value)
    assert "stage 'scratch'" in msg and str(partial / "scratch" / "summary.json") in msg
    assert "stage 'probe'" not in msg and "stage 'finetune'" not in msg
    assert not (partial / "report").exists()


def test_every_study_config_parses_and_names_existing_regime_files():
    """Each configs/*/study*.yaml parses with the study subcommand, and its regime files exist."""
    from study.runner import resolve_config_path

    configs = sorted(ROOT.glob("configs/*/study*.yaml"))
    assert ROOT / "configs" / "sst2_minilm" / "study.yaml" in configs and len(configs) >= 16
    for path in configs:
        with pytest.raises(SystemExit) as done:
            cli.main(["study", "--config", str(path), "--print_config"])
        assert done.value.code in (0, None), path
        import yaml

        cfg = yaml.safe_load(path.read_text())
        for stage in STAGES:
            for regime in cfg[stage]["configs"]:
                assert resolve_config_path(regime).is_file(), (path, regime)
