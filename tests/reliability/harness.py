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


DDP_FIT = """\
seed_everything: 0
trainer:
  max_epochs: 2
  accelerator: cpu
  devices: 2
  strategy: ddp
  deterministic: true
  enable_model_summary: false
  enable_progress_bar: false
  logger: false
  default_root_dir: {out}
  callbacks:
    - class_path: harsanyi_lightning.callbacks.InteractionCallback
      init_args: {{n: 4, num_samples: 3, sample_set: {out}/annotation.pt, output_dir: {out}/interactions,
                  figures: false, progress: false}}
{kills}    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args: {{dirpath: {out}/checkpoints, filename: last, save_top_k: 1, enable_version_counter: false}}
model:
  class_path: harsanyi_lightning.lightning_modules.FinetuneClassifier
  init_args: {{backbone: tiny-bert, optimizer: {{class_path: torch.optim.AdamW, init_args: {{lr: 0.001}}}}}}
data:
  class_path: harsanyi_lightning.datamodules.TinyTextDataModule
  init_args: {{num_train: 32, num_val: 16, num_test: 16, batch_size: 8, words: 4}}
"""


def write_ddp_fit(path: Path, out: Path, kills: list[dict] = ()) -> Path:
    """A 2-process CPU DDP (gloo) ``fit`` config: tiny BERT, 2 epochs, the interaction callback (n = 4,
    3 samples) and ``last.ckpt`` after every epoch, so ``--ckpt_path last`` resumes; ``kills``: init args
    of test-only ``kill_callback.KillOnce`` callbacks."""
    kills_yaml = "".join(f"    - class_path: kill_callback.KillOnce\n      init_args: {json.dumps(k)}\n" for k in kills)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DDP_FIT.format(out=out, kills=kills_yaml))
    return path


def run_ddp_fit(cfg: Path, limit_s: float = 300.0) -> subprocess.CompletedProcess:
    """``cli.py fit --config cfg --ckpt_path last`` (the same command every time: it resumes when a
    ``last.ckpt`` exists). Returns once every process of the run has ended, rank 1 too when rank 0 was
    killed (its output goes to the same pipes, so reading them to the end waits for it); a process still
    running after ``limit_s`` fails the test as a hang."""
    env = cli_env(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "cli.py", "fit", "--config", str(cfg), "--ckpt_path", "last"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"a rank was left hanging:\n{out[-2000:]}\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
