"""A study's report with its figures vs without them (``figures: false``; docs/study.md#report, docs/performance.md).

Runs a finished study's report (``write_report``) ``--repeats`` times each way, interleaved, from numbers computed
once (what ``cli.py report`` does after ``compute_study``), and checks first that both ways write the same
``report.json``. Without ``--study`` it first runs the tiny study of ``configs/tiny/study.yaml`` without a report into
a temporary folder. Last line: ``figures_share_of_report=<1 - median without / median with>``, the share of a
report's time that goes to drawing its figures.

    python benchmarks/report_figures.py                          # the tiny study (about 30 s on 2 CPU cores)
    python benchmarks/report_figures.py --study studies/sst2_minilm --repeats 3

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tiny_study(folder: Path) -> Path:
    """The tiny study trained into ``folder/study`` without its report."""
    from harsanyi_lightning.cli import run_from_command_line

    study = folder / "study"
    rc = run_from_command_line(["study", "--config", str(REPO / "configs" / "tiny" / "study.yaml"),
                                "--study_dir", str(study), "--report", "false"])
    if rc != 0:
        raise SystemExit(f"the tiny study failed (exit status {rc})")
    return study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=None, help="a finished study folder (default: the tiny study)")
    parser.add_argument("--repeats", type=int, default=5, help="reports each way, interleaved")
    args = parser.parse_args()

    from harsanyi_lightning.study.report.numbers import compute_study
    from harsanyi_lightning.study.report.writer import write_report

    with tempfile.TemporaryDirectory() as tmp:
        study = args.study if args.study is not None else tiny_study(Path(tmp))
        numbers = compute_study(study)
        seconds: dict[bool, list[float]] = {True: [], False: []}
        reports: dict[bool, dict] = {}
        for _ in range(args.repeats):
            for figures in (True, False):
                t0 = time.perf_counter()
                out = write_report(study, numbers=numbers, figures=figures)
                seconds[figures].append(time.perf_counter() - t0)
                reports[figures] = json.loads((out / "report.json").read_text())
        if reports[True] != reports[False]:
            raise SystemExit("report.json differs with and without figures")
        with_figures, without = (statistics.median(seconds[f]) for f in (True, False))
        print(f"python {platform.python_version()} on {platform.machine()}, {study}")
        print(f"report with figures: median {with_figures:.2f} s; without: {without:.2f} s "
              f"({args.repeats} each, interleaved)")
        print(f"figures_share_of_report={1 - without / with_figures:.3f}")


if __name__ == "__main__":
    sys.exit(main())
