"""Helpers of the reliability catalogue (tests/reliability): tiny study configs and runners.

A module of its own (not conftest) so test files can import it (``from tests.reliability.harness import``).
The test-only callbacks and fault injectors in ``inject/`` are importable in-process through pytest's
``pythonpath`` setting (pyproject.toml), and in subprocesses through ``PYTHONPATH`` (:func:`cli_env`)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.tiny_study import REGIMES, regime_epochs, write_tiny_study  # noqa: F401 - the catalogue's study config

ROOT = Path(__file__).resolve().parents[2]
INJECT = Path(__file__).resolve().parent / "inject"
REGIMES = tuple(REGIMES)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join([str(INJECT), str(ROOT)]))
    env.update(extra)
    return env


def run_cli(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """``python cli.py <args>`` in a subprocess from the repository root; output captured."""
    proc = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, env=env or cli_env(),
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"cli.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def snapshot(study: Path, report: bool = True) -> dict:
    """Everything a study's result consists of: every epoch's artifact of every regime the manifest names, each
    regime's jaccard.json (of each
    seed's run folder, ``seed_<k>/`` in front of the key, for a study with seeds) and (``report``) the report
    (paths made relative to the study folder)."""
    import torch  # noqa: F401  (artifacts hold tensors)

    from harsanyi_lightning.interactions.artifacts import load_artifact
    from harsanyi_lightning.study.layout import MANIFEST, manifest_regimes, run_dirs

    snap: dict = {}
    regimes = manifest_regimes(json.loads((study / MANIFEST).read_text())).names
    for seed, root in run_dirs(study).items():
        run = "" if seed is None else f"{root.name}/"
        for regime in regimes:
            for epoch, path in regime_epochs(root, regime).items():
                content, _ = load_artifact(path, "interactions")
                snap[f"{run}{regime}/epoch_{epoch:03d}"] = {
                    "values": content["values"], "dividends": content["dividends"], "epoch": content["epoch"],
                    "global_step": content["global_step"], "annotation_hash": content["annotation_hash"],
                    "skipped": content["skipped"],
                }
            snap[f"{run}{regime}/jaccard.json"] = json.loads((root / regime / "interactions" / "jaccard.json").read_text())
    if not report:
        return snap
    snap["report.md"] = (study / "report" / "report.md").read_text().replace(str(study), "<study>")
    report = json.loads((study / "report" / "report.json").read_text())
    snap["report.json"] = json.loads(json.dumps(report).replace(str(study), "<study>"))
    return snap


def assert_same(got: dict, want: dict) -> None:
    """Two snapshots are identical: tensors bit for bit (NaN where NaN), everything else equal."""
    import torch

    assert sorted(got) == sorted(want)
    for key, w in want.items():
        g = got[key]
        if isinstance(w, dict) and "values" in w:
            for k in w:
                if isinstance(w[k], torch.Tensor):
                    assert torch.equal(g[k].nan_to_num(7.0), w[k].nan_to_num(7.0)), f"{key}: {k} differs"
                else:
                    assert g[k] == w[k], f"{key}: {k} differs"
        else:
            assert g == w, f"{key} differs"


def wait_for(path: Path, proc: subprocess.Popen, what: str, limit_s: float = 300.0) -> None:
    """Wait until ``path`` exists while ``proc`` runs (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended ({proc.returncode}) before {path} appeared:\n"
                                 f"{proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what}: {path} did not appear")
        time.sleep(0.05)


#: ``cli.py`` (its ``__main__`` is this call) started ahead of time: it imports everything, then waits for a
#: line on stdin before it runs the command
READY_CLI = "import sys, cli; sys.stdin.readline(); sys.exit(cli.run_from_command_line(sys.argv[1:]))"


def run_study_with_a_second_attempt(cfg: Path, study: Path) -> tuple[subprocess.CompletedProcess,
                                                                     subprocess.CompletedProcess]:
    """``cli.py study --config cfg`` run to the end while the same command is run a second time on the
    same folder. The second process starts (imports) beside the first and runs the command once the first
    holds the folder's lock; the first is paused (SIGSTOP) meanwhile, so the second surely meets a study in
    progress, and goes on (SIGCONT) when the second has ended. Returns both results (``.pid`` on the first)."""
    second = subprocess.Popen([sys.executable, "-c", READY_CLI, "study", "--config", str(cfg)], cwd=ROOT,
                              env=cli_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    first = subprocess.Popen([sys.executable, "cli.py", "study", "--config", str(cfg)], cwd=ROOT, env=cli_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(study / ".harsanyi.lock.json", first, "the first study")
        first.send_signal(signal.SIGSTOP)
        try:
            out2, err2 = second.communicate("go\n", timeout=300)
        finally:
            first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=600)
    except BaseException:
        first.kill()
        second.kill()
        raise
    done = subprocess.CompletedProcess(first.args, first.returncode, out, err)
    done.pid = first.pid
    return done, subprocess.CompletedProcess(second.args, second.returncode, out2, err2)


def run_in_process(*args: str) -> tuple[int, str, str]:
    """``cli.run_from_command_line(args)`` in this process (no interpreter start-up: much cheaper than
    :func:`run_cli`); ``(exit status, stdout, stderr)``, the output captured."""
    import contextlib
    import io
    import warnings

    from harsanyi_lightning import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = cli.run_from_command_line(list(args))
    return rc, out.getvalue(), err.getvalue()


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""
