"""The study driver and its report (``python cli.py study`` / ``report``), on a tiny study.

A tiny text task (generated 10-word sentences, a tiny BERT built in code), 2 epochs per
regime, runs end to end through the real command line; the report's numbers are checked
against numbers recomputed here from the stored interaction artifacts.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning import cli
from harsanyi_lightning.interactions import knowledge_by_order, knowledge_totals, load_artifact, mean_jaccard, preserved_ratio
from harsanyi_lightning.interactions.errors import DataError
from harsanyi_lightning.study.report.writer import write_report, write_summary
from tests.shared_data import ROOT
from tests.tiny_study import REGIMES, regime_epochs
from tests.tiny_study import write_tiny_study as tiny_study_config

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

def write_tiny_study(folder: Path, study_dir: Path, *, words: int = 10, interactions: str = "",
                     probe_interactions: str = "", figures: bool = False) -> Path:
    """The tiny study (tests/tiny_study.py) of ``words``-word sentences (= n), 3 of them, with test accuracy;
    ``figures``: the report draws its figures."""
    return tiny_study_config(folder, study_dir, n=words, num_samples=3, test=True, batch_size=1024,
                             interactions=interactions, probe_interactions=probe_interactions, figures=figures)


def run_study(cfg: Path, *args: str) -> None:
    cli.main(["study", "--config", str(cfg), *args])


def regime_files(study: Path, regime: str) -> dict[str, float]:
    """mtime of every checkpoint, interaction artifact, event file and summary of a regime."""
    out = {}
    for p in sorted((study / regime).rglob("*")):
        if p.is_file() and (p.suffix in (".ckpt", ".pt") or p.name == "summary.json" or "tfevents" in p.name):
            out[str(p.relative_to(study))] = p.stat().st_mtime_ns
    return out


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("study")
    study = root / "study"
    cfg = write_tiny_study(root / "configs", study, figures=True)
    run_study(cfg)
    return cfg, study


def final_dividends(study: Path, regime: str) -> torch.Tensor:
    summary = json.loads((study / regime / "summary.json").read_text())
    content, sha = load_artifact(study / regime / summary["final_artifact"], "interactions")
    assert sha == summary["final_artifact_sha256"]
    return content["dividends"]


@pytest.mark.slow
def test_study_runs_end_to_end_and_writes_every_report_file(tiny_study):
    _, study = tiny_study
    assert (study / "annotation.pt").is_file()
    for regime in REGIMES:
        summary = json.loads((study / regime / "summary.json").read_text())
        assert (study / regime / "checkpoints" / "last.ckpt").is_file()
        assert sorted(regime_epochs(study, regime)) == [0, 1, 2]
        assert summary["final_epoch"] == 2 and 0.0 <= summary["val_acc"] <= 1.0
        assert summary["val_examples"] > 0  # the validation accuracy's interval is binomial over these
        assert list((study / regime / "tb").glob("events.out.tfevents.*"))
    report = study / "report"
    for name in ("knowledge_by_order.png", "ratio.png", "jaccard.png", "loss.png", "samples.png", "two_phase.png",
                 "trade_off.png", "report.md", "report.json"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    assert (report / "tb").is_dir() and list((report / "tb").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_report_numbers_equal_the_ones_recomputed_from_the_artifacts(tiny_study):
    _, study = tiny_study
    a, b, c = (final_dividends(study, s) for s in REGIMES)
    # every regime measured on the one annotation of the study
    anno_hash = load_artifact(study / "annotation.pt", "annotation")[1]
    for s in REGIMES:
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
    for regime, final in (("finetune", b), ("scratch", c)):
        for e, path in regime_epochs(study, regime).items():
            j = mean_jaccard(load_artifact(path, "interactions")[0]["dividends"], final)
            assert num["jaccard"][regime][str(e)] == pytest.approx(j, rel=1e-12)
        assert num["jaccard"][regime]["2"] == pytest.approx(1.0)

    md = (study / "report" / "report.md").read_text()
    dp = totals["discard"] / totals["preserve"]
    assert f"discarded / preserved = {dp:.2f} [" in md
    assert f"Ratio = {100 * ratio['ratio']:.1f}%" in md
    assert f"Σ K_preserve = {100 * ratio['ratio_weighted']:.1f}%." in md
    total_row = next(line for line in md.splitlines() if line.startswith("| total |"))
    assert f"| {totals['preserve']:.4g} | {totals['discard']:.4g} | {totals['new']:.4g} |" in total_row
    for s in REGIMES:
        acc = json.loads((study / s / "summary.json").read_text())["val_acc"]
        assert re.search(rf"^\| {s} \| 2 \| {100 * acc:.1f}% \|", md, re.M), s
    for e in (0, 1, 2):
        jf = num["jaccard"]["finetune"][str(e)]
        js = num["jaccard"]["scratch"][str(e)]
        assert f"| {e} | {jf:.4f} | {js:.4f} |" in md
    # losses: one value per trained epoch for each regime, read from its TensorBoard events
    for s in REGIMES:
        assert sorted(num["loss"][s]["train"]) == ["1", "2"] and sorted(num["loss"][s]["val"]) == ["1", "2"]
    table = write_summary([study, study])
    rows = table.strip().splitlines()[2:]
    assert len(rows) == 2 and all(r.startswith(f"| {study.name} |") for r in rows)
    assert all(f"| {100 * ratio['ratio']:.1f}% [" in r for r in rows)


@pytest.mark.slow
def test_report_intervals_equal_an_independent_bootstrap_of_the_artifacts(tiny_study):
    """Redo the bootstrap without the report's code: draw the same seeded sample indices, index the stored
    final dividends, recompute with the core metrics, take the percentiles; the report's intervals agree.
    Every interval contains its estimate and every verdict follows the rule from its own interval."""
    _, study = tiny_study
    a, b, c = (final_dividends(study, s) for s in REGIMES)
    num = json.loads((study / "report" / "report.json").read_text())
    resamples, seed = num["bootstrap"]["resamples"], num["bootstrap"]["seed"]
    gen = torch.Generator().manual_seed(seed)
    torch.randint(1, (resamples, 1), generator=gen)  # the draw of the one run
    idx = torch.randint(a.shape[0], (resamples, 1, a.shape[0]), generator=gen)[:, 0]
    dp, ratio = [], []
    for rows in idx:
        totals = knowledge_totals(knowledge_by_order(a[rows], b[rows]))
        dp.append(totals["discard"] / totals["preserve"])
        ratio.append(preserved_ratio(a[rows], b[rows], c[rows])["ratio"])
    for key, draws in (("dense/discard_over_preserve", dp), ("dense/ratio", ratio)):
        low, high = torch.quantile(torch.tensor(draws, dtype=torch.float64),
                                   torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
        iv = num["intervals"][key]
        assert iv["ci"][0] == pytest.approx(min(low, iv["estimate"]), rel=1e-9), key
        assert iv["ci"][1] == pytest.approx(max(high, iv["estimate"]), rel=1e-9), key
    rule = {">": lambda lo, hi, t: "holds" if lo > t else "does not hold" if hi < t else "inconclusive",
            "<": lambda lo, hi, t: "holds" if hi < t else "does not hold" if lo > t else "inconclusive"}
    for f in num["findings"]:
        lo, hi = f["ci"]
        if f["verdict"] != "not measurable":
            assert lo <= f["estimate"] <= hi, f["id"]
            assert f["verdict"] == rule[f["direction"]](lo, hi, f["threshold"]), f["id"]
    assert {f["reading"] for f in num["findings"]} == {"dense", "salient", "outputs"}


@pytest.mark.slow
def test_report_bootstrap_options_reach_report_json(tiny_study, tmp_path):
    _, study = tiny_study
    copy = tmp_path / "study"
    shutil.copytree(study, copy)
    assert cli.run_from_command_line(["report", str(copy), "--bootstrap.resamples", "200",
                                      "--bootstrap.seed", "3", "--figures", "false"]) == 0
    num = json.loads((copy / "report" / "report.json").read_text())
    assert num["bootstrap"] == {"resamples": 200, "seed": 3, "confidence": 0.95}
    default = json.loads((study / "report" / "report.json").read_text())
    assert num["intervals"]["dense/ratio"]["estimate"] == default["intervals"]["dense/ratio"]["estimate"]
    acc = num["intervals"]["accuracy/finetune"]
    assert acc["ci"][0] <= acc["estimate"] <= acc["ci"][1] and acc["ci"][0] < acc["ci"][1]


def test_too_few_resamples_is_refused_before_any_work(tmp_path, capsys):
    assert cli.run_from_command_line(["report", str(tmp_path / "nothing"), "--bootstrap.resamples", "10"]) == 2
    assert "bootstrap.resamples=10: use an integer of at least 100" in capsys.readouterr().err


@pytest.mark.slow
def test_rerunning_a_finished_study_trains_nothing(tiny_study):
    """Rerun with ``--figures false``: the report is rewritten without figures, and no figure of the earlier
    report is left beside it."""
    cfg, study = tiny_study
    before = {s: regime_files(study, s) for s in REGIMES}
    report_before = (study / "report" / "report.md").stat().st_mtime_ns
    assert (study / "report" / "jaccard.png").is_file()
    run_study(cfg, "--figures", "false")
    assert {s: regime_files(study, s) for s in REGIMES} == before
    assert (study / "report" / "report.md").stat().st_mtime_ns > report_before
    assert not list((study / "report").glob("*.png"))
    md = (study / "report" / "report.md").read_text()
    assert "Not drawn (`figures: false`)" in md and "![jaccard](jaccard.png)" not in md


@pytest.mark.slow
def test_deleting_scratch_final_artifacts_redoes_only_scratch_and_the_report(tiny_study):
    cfg, study = tiny_study
    before = {s: regime_files(study, s) for s in REGIMES}
    report_before = (study / "report" / "report.md").stat().st_mtime_ns
    for p in (study / "scratch" / "interactions").glob("epoch_002.pt"):
        p.unlink()
    run_study(cfg, "--figures", "false")
    for s in ("probe", "finetune"):
        assert regime_files(study, s) == before[s], s
    after = regime_files(study, "scratch")
    assert "scratch/interactions/epoch_002.pt" in after
    changed = [k for k in before["scratch"] if k in after and after[k] != before["scratch"][k]]
    assert "scratch/summary.json" in changed and "scratch/checkpoints/last.ckpt" in changed
    assert (study / "report" / "report.md").stat().st_mtime_ns > report_before


@pytest.mark.slow
def test_an_interrupted_stage_resumes_from_its_last_checkpoint(tiny_study):
    cfg, study = tiny_study
    def epochs() -> dict[str, float]:
        return {k: v for k, v in regime_files(study, "scratch").items() if "/epoch_" in k}

    epochs_before = epochs()
    step_before = json.loads((study / "scratch" / "summary.json").read_text())["global_step"]
    (study / "scratch" / "summary.json").unlink()  # as if killed after the last epoch, before the marker
    run_study(cfg, "--figures", "false")
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
    assert "regime 'scratch'" in msg and str(partial / "scratch" / "summary.json") in msg
    assert "regime 'probe'" not in msg and "regime 'finetune'" not in msg
    assert not (partial / "report").exists()


#: every study config of the repository: the embedded default's family, the tiny study, the paper's protocols and
#: the grid cells composed from them
STUDY_CONFIGS = sorted([*ROOT.glob("configs/*/study*.yaml"), *ROOT.glob("configs/protocols/*.yaml"),
                        *ROOT.glob("configs/experiments/*.yaml")])


@pytest.mark.parametrize("path", STUDY_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_study_config_parses_and_names_existing_config_files(path, capsys):
    """Each study config parses with the study subcommand (its includes composed), names the paper's three roles,
    and every config file it stacks exists."""
    import yaml

    from harsanyi_lightning.study.regimes import StudyRegimes
    from harsanyi_lightning.study.run.plan import resolve_config_path

    with pytest.raises(SystemExit) as done:
        cli.main(["study", "--config", str(path), "--print_config"])
    assert done.value.code in (0, None), path
    cfg = yaml.safe_load(capsys.readouterr().out)
    regimes = StudyRegimes.of(cfg["regimes"])
    assert set(regimes.paper) == {"pretrain", "finetune", "scratch"}
    for file in [*(cfg.get("configs") or []), *(f for r in cfg["regimes"].values() for f in r["configs"])]:
        assert resolve_config_path(file).is_file(), (path, file)


def test_the_repository_has_the_paper_grid_and_the_default_study():
    assert ROOT / "configs" / "sst2_minilm" / "study.yaml" in STUDY_CONFIGS
    cells = sorted(p.stem for p in ROOT.glob("configs/experiments/*.yaml"))
    assert cells == sorted([f"{d}_{m}" for d in ("cifar10", "cub200", "cars")
                            for m in ("resnet50", "vgg16", "vit_small", "vit_base")] + ["sst2_bert_base", "sst2_distilbert"])


# ---------------------------------------------------------------- docs/method.md#beyond-the-paper: attributions, AND-OR, two phases


@pytest.fixture(scope="module")
def and_or_study(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny study with AND-OR on (6-word sentences, n = 6: the exact LP takes milliseconds), off for the probe."""
    root = tmp_path_factory.mktemp("and_or_study")
    study = root / "study"
    cfg = write_tiny_study(root / "configs", study, words=6, interactions="and_or: true",
                           probe_interactions="and_or: false", figures=True)
    run_study(cfg)
    return cfg, study


def salient_strength(tables: list[torch.Tensor], n: int) -> tuple[list[float], list[float]]:
    """Mean over samples of Σ max(±I(S), 0) over the salient S of each order 1..n, by loops; the threshold
    0.05·max|I| is taken over all ``tables`` of a sample together (AND and OR) and never over the empty set."""
    samples = tables[0].shape[0]
    pos, neg = [0.0] * n, [0.0] * n
    for i in range(samples):
        rows = [t[i].tolist() for t in tables]
        tau = 0.05 * max(abs(x) for row in rows for x in row[1:])
        for row in rows:
            for mask in range(1, 1 << n):
                if abs(row[mask]) > tau:
                    k = bin(mask).count("1") - 1
                    if row[mask] > 0:
                        pos[k] += row[mask] / samples
                    else:
                        neg[k] -= row[mask] / samples
    return pos, neg


@pytest.mark.slow
def test_study_with_and_or_stores_and_logs_it_and_draws_the_two_phase_view(and_or_study):
    _, study = and_or_study
    for regime in REGIMES:
        for e, path in regime_epochs(study, regime).items():
            content = load_artifact(path, "interactions")[0]
            assert {"shapley", "banzhaf", "sii"} <= set(content), (regime, e)
            assert ("and_or" in content) == (regime != "probe"), (regime, e)
        tags = EventAccumulator(str(study / regime / "tb"), size_guidance={"scalars": 0})
        tags.Reload()
        names = set(tags.Tags()["scalars"])
        if regime == "probe":
            assert not [t for t in names if "and_or" in t]
            continue
        steps = [ev.step for ev in tags.Scalars("interactions/salient_count")]
        for tag in ["interactions/and_or/salient_count"] + [
                f"interactions/and_or/{kind}_strength/order_{k}" for kind in ("and", "or") for k in range(1, 7)]:
            assert [ev.step for ev in tags.Scalars(tag)] == steps, (regime, tag)
    report = study / "report"
    assert (report / "two_phase.png").stat().st_size > 0
    num = json.loads((report / "report.json").read_text())
    assert set(num["two_phase"]) == {"harsanyi", "and_or"}
    for source in ("harsanyi", "and_or"):
        assert set(num["two_phase"][source]) == {"finetune", "scratch"}
    assert "## Two-phase view" in (report / "report.md").read_text() and "![two_phase](two_phase.png)" in (
        report / "report.md").read_text()


@pytest.mark.slow
def test_two_phase_numbers_equal_a_recomputation_from_the_artifacts(and_or_study, tiny_study):
    from harsanyi_lightning.study.report.two_phase import MIN_SHIFT, SOURCES

    for study, sources in ((and_or_study[1], ("harsanyi", "and_or")), (tiny_study[1], ("harsanyi",))):
        num = json.loads((study / "report" / "report.json").read_text())
        md = (study / "report" / "report.md").read_text()
        n = num["n"]
        assert sorted(num["two_phase"]) == sorted(sources)
        for source in sources:
            for regime in ("finetune", "scratch"):
                got = num["two_phase"][source][regime]
                assert got["epochs"] == [0, 1, 2]
                means = []
                for i, (e, path) in enumerate(regime_epochs(study, regime).items()):
                    content = load_artifact(path, "interactions")[0]
                    tables = ([content["dividends"]] if source == "harsanyi" else
                              [content["and_or"]["and_dividends"], content["and_or"]["or_dividends"]])
                    pos, neg = salient_strength(tables, n)
                    assert got["positive"][i] == pytest.approx(pos, rel=1e-9, abs=1e-15), (source, regime, e)
                    assert got["negative"][i] == pytest.approx(neg, rel=1e-9, abs=1e-15), (source, regime, e)
                    weights = [p + q for p, q in zip(pos, neg)]
                    means.append(sum((k + 1) * w for k, w in enumerate(weights)) / sum(weights))
                assert got["mean_order"] == pytest.approx(means, rel=1e-9)
                # the verdict follows the stated rule from these numbers
                turn = min(range(3), key=lambda j: (means[j], j))
                phase1 = turn > 0 and means[0] - means[turn] >= MIN_SHIFT * n
                phase2 = turn < 2 and means[2] - means[turn] >= MIN_SHIFT * n
                verdict = got["verdict"]
                if regime in num["weak_models"]:
                    assert verdict["verdict"] == "not measurable"
                    continue
                assert (verdict["phase1"], verdict["phase2"], verdict["turning_epoch"]) == (phase1, phase2, turn)
                expected = {(True, True): "shows both phases", (True, False): "first phase only",
                            (False, True): "second phase only", (False, False): "neither phase"}[phase1, phase2]
                assert verdict["verdict"] == expected
                assert f"{regime}, {SOURCES[source]}: **{expected}**" in md


def test_every_option_and_the_kind_change_a_regimes_fingerprint(tmp_path):
    """A regime's fingerprint covers its kind, its stacked configs and every sample-set and interactions option: a
    change to any of them redoes the regime."""
    from dataclasses import replace

    from harsanyi_lightning.study.regimes import RegimeSpec
    from harsanyi_lightning.study.run.plan import InteractionSpec, SampleSetSpec, StudyPlan

    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study")
    kinds = {"probe": "probe", "finetune": "finetune", "scratch": "scratch"}
    plan = StudyPlan(study_dir=tmp_path / "study", shared={}, sample_set=SampleSetSpec(), interactions=InteractionSpec(),
                     regimes={s: RegimeSpec(kind=k, configs=[str(cfg.parent / f"{s}.yaml")]) for s, k in kinds.items()})
    changed = {plan.fingerprint("finetune")}
    for options in (dict(attributions=False), dict(and_or=True), dict(and_or=True, and_or_solver="gradient"),
                    dict(and_or=True, and_or_noise_bound=0.1), dict(every_n_steps=3)):
        changed.add(replace(plan, interactions=InteractionSpec(**options)).fingerprint("finetune"))
    changed.add(replace(plan, sample_set=SampleSetSpec(seed=1)).fingerprint("finetune"))
    other = dict(plan.regimes, finetune=replace(plan.regimes["finetune"], kind="scratch"))
    changed.add(replace(plan, regimes=other).fingerprint("finetune"))
    assert len(changed) == 8


def test_a_bad_and_or_option_fails_before_any_stage_runs(tmp_path):
    from harsanyi_lightning.interactions.errors import ConfigError

    study = tmp_path / "study"
    cfg = write_tiny_study(tmp_path / "configs", study, interactions="and_or: true, and_or_solver: adam")
    with pytest.raises(ConfigError, match="and_or_solver='adam'"):
        run_study(cfg)
    assert not (study / "probe").exists()


@pytest.mark.slow
def test_a_study_with_evaluations_inside_epochs_reports_them_on_the_step_axis(tmp_path):
    """The tiny data has 2 training steps per epoch: ``at_steps: [1, 3]`` adds an evaluation in the middle of each
    epoch. report.json lists every evaluation with its step and fractional epoch, the Jaccard curves and their
    intervals cover them, and the first-epoch findings read the evaluation at the end of epoch 1."""
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study", interactions="at_steps: [1, 3]",
                           probe_interactions="at_steps: null")
    run_study(cfg)
    num = json.loads((tmp_path / "study" / "report" / "report.json").read_text())
    for regime in ("finetune", "scratch"):
        rows = num["evaluations"][regime]
        assert [(r["step"], r["epoch"]) for r in rows] == [(0, 0), (1, 0.5), (2, 1), (3, 1.5), (4, 2)]
        assert sorted(num["jaccard"][regime], key=float) == ["0", "0.5", "1", "1.5", "2"]
        for r in rows:
            assert r["jaccard"] == pytest.approx(num["jaccard"][regime][str(r["epoch"])], rel=1e-12)
            assert r["jaccard_ci"][0] <= r["jaccard"] <= r["jaccard_ci"][1]
        assert rows[-1]["jaccard"] == pytest.approx(1.0)
    assert [(r["step"], r["epoch"]) for r in num["evaluations"]["probe"]] == [(0, 0), (2, 1), (4, 2)]
    first = num["intervals"]["dense/jaccard/finetune_first_epoch"]["estimate"]
    assert first == pytest.approx(num["jaccard"]["finetune"]["1"], rel=1e-12)
    gap = num["intervals"]["dense/jaccard/finetune_minus_scratch_inside"]["estimate"]
    inside = [num["jaccard"]["finetune"][e] - num["jaccard"]["scratch"][e] for e in ("0.5", "1", "1.5")]
    assert gap == pytest.approx(sum(inside) / 3, rel=1e-9)
    md = (tmp_path / "study" / "report" / "report.md").read_text()
    assert re.search(r"^\| 0\.5 \| [0-9.]+ \| [0-9.]+ \| \[", md, re.M)
