"""A study with ``seeds: [0, 1]`` (docs/study.md#seeds) on the tiny data: every regime once per seed in
``<study>/seed_<k>/<regime>``, on the one ``annotation.pt``, each seed's regimes seeded with it and measured
against that seed's own probe and finetune; killed in the second seed, the same command resumes there
without redoing the first seed, to the result of a run never interrupted; a regime of a seed lost between
regimes is redone. The report is switched off (``report: false``): these tests are about the regime folders."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.study.run import loop
from harsanyi_lightning.study.layout import (
    check_study,
    final_artifact,
    run_dirs,
    regime_dir,
    regime_problems,
    summary_path,
    tb_dir,
)
from tests.reliability.harness import REGIMES, assert_same, run_cli, run_in_process, snapshot, write_tiny_study
from tests.tiny_study import regime_epochs

pytestmark = pytest.mark.slow

SEEDS = [0, 1]


def summary(study: Path, seed: int, regime: str) -> dict:
    return json.loads((study / f"seed_{seed}" / regime / "summary.json").read_text())


def final_dividends(study: Path, seed: int, regime: str) -> torch.Tensor:
    s = summary(study, seed, regime)
    content, sha = load_artifact(study / f"seed_{seed}" / regime / s["final_artifact"], "interactions")
    assert sha == s["final_artifact_sha256"]
    return content["dividends"]


def files_of(folder: Path) -> dict[str, int]:
    """mtime of every file below ``folder``."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> dict:
    """The tiny study with seeds [0, 1], run once to the end by ``cli.py study`` in this process (its kill callback
    present but disarmed, as in the killed run): ``{"config", "study", "out", "snapshot"}``; the snapshot is
    taken right after the run (a later test changes the folder)."""
    root = tmp_path_factory.mktemp("seeded")
    marker = root / "marker"
    marker.write_text("disarmed")
    cfg = write_tiny_study(root / "configs", root / "study", dict(marker=str(marker)), seeds=SEEDS, report=False)
    rc, out, err = run_in_process("study", "--config", str(cfg))
    assert rc == 0, out[-3000:] + err[-3000:]
    return {"config": cfg, "study": root / "study", "out": out,
            "snapshot": snapshot(root / "study", report=False)}


def test_each_seed_runs_every_stage_in_its_own_folder_on_the_one_sample_set(seeded):
    study, out = seeded["study"], seeded["out"]
    # probe -> finetune -> scratch for seed 0, then for seed 1; no report
    started = re.findall(r"^\[study\] seed (\d), regime \d/3: (\w+) -> (\S+)$", out, re.M)
    assert started == [(str(k), s, str(study / f"seed_{k}" / s)) for k in SEEDS for s in REGIMES]
    assert "study finished" in out and not (study / "report").exists()
    assert sorted(p.name for p in study.iterdir() if p.is_dir()) == ["seed_0", "seed_1"]
    anno_hash = load_artifact(study / "annotation.pt", "annotation")[1]
    for k in SEEDS:
        for regime in REGIMES:
            folder = study / f"seed_{k}" / regime
            s = summary(study, k, regime)
            assert s["seed"] == k and s["regime"] == regime and s["final_epoch"] == 2
            assert s["annotation_hash"] == anno_hash  # the study's one sample set, never another
            assert load_artifact(folder / "interactions" / "annotation.pt", "annotation")[1] == anno_hash
            assert sorted(regime_epochs(folder.parent, regime)) == [0, 1, 2]
            assert (folder / "checkpoints" / "last.ckpt").is_file() and list((folder / "tb").glob("events.out.*"))
            # the regime ran seeded with its seed: LightningCLI's own record of the configuration it ran
            assert re.search(rf"^seed_everything: {k}$", (folder / "tb" / "config.yaml").read_text(), re.M)
    manifest = json.loads((study / "study.json").read_text())
    assert manifest["seeds"] == SEEDS and sorted(manifest["args"]) == ["seed_0", "seed_1"]
    assert run_dirs(study) == {0: study / "seed_0", 1: study / "seed_1"}
    assert check_study(study)["seeds"] == SEEDS
    for k, root in run_dirs(study).items():  # the per-regime layout functions, given a run folder
        assert not (root / "annotation.pt").exists()
        for regime in REGIMES:
            assert regime_dir(root, regime) == study / f"seed_{k}" / regime and tb_dir(root, regime).is_dir()
            assert summary_path(root, regime).is_file() and regime_problems(root, regime, anno_hash) == []
            assert final_artifact(root, regime) == regime_dir(root, regime) / "interactions" / "epoch_002.pt"


def test_the_seeds_train_different_models_each_measured_against_its_own_references(seeded):
    study = seeded["study"]
    for regime in REGIMES:  # another seed, another model (and so other interactions)
        assert not torch.equal(final_dividends(study, 0, regime), final_dividends(study, 1, regime)), regime
    for k in SEEDS:
        probe, finetune = (summary(study, k, s)["final_artifact_sha256"] for s in ("probe", "finetune"))
        other = summary(study, 1 - k, "probe")["final_artifact_sha256"]
        assert summary(study, k, "finetune")["references"] == {"pretrain": probe}
        assert summary(study, k, "scratch")["references"] == {"pretrain": probe, "finetune": finetune}
        assert probe != other


def test_killed_in_the_second_seed_resumes_there_without_redoing_the_first(seeded, tmp_path):
    marker = tmp_path / "marker"
    kill = dict(marker=str(marker), regime="finetune", run="seed_1", at="train", epoch=1, batch=0)
    study = tmp_path / "study"
    cfg = write_tiny_study(tmp_path / "configs", study, kill, seeds=SEEDS, report=False)
    first = run_cli("study", "--config", str(cfg))
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stdout[-2000:], first.stderr[-2000:])
    assert "training epoch 1" in marker.read_text()
    assert all((study / "seed_0" / s / "summary.json").is_file() for s in REGIMES)
    assert (study / "seed_1" / "probe" / "summary.json").is_file()
    assert (study / "seed_1" / "finetune" / "checkpoints" / "last.ckpt").is_file()
    assert not (study / "seed_1" / "finetune" / "summary.json").exists() and not (study / "seed_1" / "scratch").exists()
    seed0 = files_of(study / "seed_0")

    rc, out, err = run_in_process("study", "--config", str(cfg))  # the same command again (in this process)
    assert rc == 0, err[-3000:]
    for i, regime in enumerate(REGIMES, 1):
        assert f"seed 0, regime {i}/3: {regime}: complete, skipped" in out
    assert "seed 1, regime 1/3: probe: complete, skipped" in out
    ckpt = study / "seed_1" / "finetune" / "checkpoints" / "last.ckpt"
    assert f"seed 1, regime 2/3: finetune -> {study / 'seed_1' / 'finetune'} (resuming from {ckpt})" in out
    assert files_of(study / "seed_0") == seed0  # nothing of seed 0 was written again
    assert_same(snapshot(study, report=False), seeded["snapshot"])


def test_a_stage_of_a_seed_lost_between_stages_is_redone_and_the_first_seed_left_alone(seeded, monkeypatch):
    """Rerun on the finished study; after seed 1's finetune is skipped, seed 1's probe folder is deleted:
    it is redone, seed 0 is left alone. The probe is redone bit for bit (a deterministic run), so the
    seed-1 regimes measured against it still match their reference and are kept."""
    cfg, study = seeded["config"], seeded["study"]
    seed0 = files_of(study / "seed_0")
    real_run_regime, deleted = loop.run_regime, []

    def run_regime(plan, index, regime, make_cli, processes=None):
        result = real_run_regime(plan, index, regime, make_cli, processes)
        if plan.seed == 1 and regime == "finetune" and not deleted:
            import shutil

            shutil.rmtree(study / "seed_1" / "probe")
            deleted.append(True)
        return result

    monkeypatch.setattr(loop, "run_regime", run_regime)
    rc, out, err = run_in_process("study", "--config", str(cfg))
    assert rc == 0, err[-3000:]
    assert deleted and "[study] regime probe of seed 1 is no longer complete" in out
    redone = out.split("no longer complete", 1)[1]
    assert f"seed 1, regime 1/3: probe -> {study / 'seed_1' / 'probe'}" in redone
    assert "seed 1, regime 2/3: finetune: complete, skipped" in redone
    assert "seed 1, regime 3/3: scratch: complete, skipped" in redone
    assert files_of(study / "seed_0") == seed0
    assert_same(snapshot(study, report=False), seeded["snapshot"])  # redone to the same result


def test_the_report_pools_the_seeds_and_shows_each_seeds_value(seeded, tmp_path):
    """The report of a 2-seed study (on a copy): its numbers are those of both seeds' samples pooled, each
    interval contains its estimate and lists each seed's own value, computed from that seed's artifacts."""
    import shutil

    from harsanyi_lightning.interactions import knowledge_by_order, knowledge_totals, preserved_ratio
    from harsanyi_lightning.study.report.writer import write_report

    study = tmp_path / "study"
    shutil.copytree(seeded["study"], study)
    num = json.loads((write_report(study, tensorboard=False, figures=False) / "report.json").read_text())
    assert num["seeds"] == SEEDS
    finals = {k: [final_dividends(study, k, s).to(torch.float64) for s in REGIMES] for k in SEEDS}
    pooled = [torch.cat([finals[k][i] for k in SEEDS]) for i in range(3)]
    totals = knowledge_totals(knowledge_by_order(pooled[0], pooled[1]))
    dp = num["intervals"]["dense/discard_over_preserve"]
    assert dp["estimate"] == pytest.approx(totals["discard"] / totals["preserve"], rel=1e-9)
    assert num["knowledge_totals"]["discard"] == pytest.approx(totals["discard"], rel=1e-12)
    for k, value in zip(SEEDS, dp["per_seed"]):
        own = knowledge_totals(knowledge_by_order(finals[k][0], finals[k][1]))
        assert value == pytest.approx(own["discard"] / own["preserve"], rel=1e-9)
    ratio = num["intervals"]["dense/ratio"]
    assert ratio["per_seed"] == pytest.approx([preserved_ratio(*finals[k])["ratio"] for k in SEEDS], rel=1e-9)
    for key, value in num["intervals"].items():
        for iv in value if isinstance(value, list) else [value]:
            if iv["ci"][0] == iv["ci"][0]:  # not NaN
                assert iv["ci"][0] <= iv["estimate"] <= iv["ci"][1], key
    assert all(len(f["per_seed"]) == 2 for f in num["findings"] if f["reading"] != "outputs")
    assert "within the 2 training seeds [0, 1], seeds resampled first" in (study / "report" / "report.md").read_text()
