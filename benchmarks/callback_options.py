"""Cost of the callback's options beyond the paper (attributions, AND-OR) relative to one evaluation.

The options are those of docs/method.md#beyond-the-paper.

The embedded default finetune setup (``configs/sst2_minilm/finetune.yaml``: the packaged MiniLM-L6)
is fitted for one training step (``limit_train_batches=1``, no validation) once per configuration
of ``InteractionCallback``, so each fit runs two evaluations (epoch 0 and epoch 1) of the
``--num-sentences`` ten-word dev sentences (n = 10, strict fp32):

- ``plain``: ``attributions=False`` (what the callback computed before these options);
- ``attributions``: the default (exact Shapley, Banzhaf and pairwise SII from the dividends);
- ``and_or_lp``: ``and_or=True`` (exact LP, HiGHS, one sample at a time on the CPU);
- ``and_or_gradient``: ``and_or=True, and_or_solver="gradient"`` (batched, on ``--device``).

For each evaluation it records the whole evaluation (the recorder's
``InteractionRecorder._evaluate``: forward passes, transform, options, artifact, logging, figures)
and, inside it, the time of the options alone: the attributions (the estimate's ``attributions()``,
which ``callbacks/evaluation.py``'s ``evaluation_content`` calls) plus the AND-OR interactions
(``callbacks/evaluation.py``'s ``sharded_and_or``), so the share ``options / evaluation`` comes
from the same evaluation and is not biased by load changes between fits. Both are timed by
wrapping the callback's recorder instance and the functions it calls, during the evaluation only.
Last lines, machine-readable: ``option_share_of_evaluation_<config>=<float>`` (mean over the two
evaluations).

    python benchmarks/callback_options.py                  # 8 sentences, CPU
    python benchmarks/callback_options.py --configs plain and_or_gradient --device cuda

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from contextlib import ExitStack
from unittest import mock

import torch

from callback_overhead import build  # the sibling script (its folder is on sys.path when run)
from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.callbacks import recorder as recorder_module

CONFIGS = {
    "plain": dict(attributions=False),
    "attributions": dict(),
    "and_or_lp": dict(and_or=True),
    "and_or_gradient": dict(and_or=True, and_or_solver="gradient"),
}


class TimedCallback(InteractionCallback):
    """The callback, with each evaluation's wall time and the time of its options beyond the paper recorded.

    The evaluation is the recorder's ``_evaluate`` (wrapped on this callback's recorder instance); while it runs,
    the options are timed through the two calls that compute them: the estimate's ``attributions()`` (patched on
    the estimator's result type) and the recorder module's ``sharded_and_or`` (the AND-OR interactions)."""

    def __init__(self, *args, device: str = "cpu", **kwargs):
        super().__init__(*args, **kwargs)
        self.evaluations: list[float] = []
        self.option_seconds: list[float] = []  # not ``options``: the callback's options (``RecorderHolder``)
        self._cuda = device.startswith("cuda")
        self._current = 0.0
        recorder = self.recorder
        evaluate = recorder._evaluate
        result_type = recorder.estimator.result
        attributions, and_or = result_type.attributions, recorder_module.sharded_and_or

        def timed_attributions(estimate):
            return self._timed_option(attributions, estimate)

        def timed_and_or(*a, **k):
            return self._timed_option(and_or, *a, **k)

        def timed_evaluate(*a, **k):
            self._current = 0.0
            with ExitStack() as patches:
                patches.enter_context(mock.patch.object(result_type, "attributions", timed_attributions))
                patches.enter_context(mock.patch.object(recorder_module, "sharded_and_or", timed_and_or))
                self._sync()
                t0 = time.perf_counter()
                evaluate(*a, **k)
                self._sync()
                self.evaluations.append(time.perf_counter() - t0)
            self.option_seconds.append(self._current)

        recorder._evaluate = timed_evaluate  # the instance's method: ``_evaluate_due`` calls ``self._evaluate``

    def _sync(self) -> None:
        if self._cuda:
            torch.cuda.synchronize()

    def _timed_option(self, fn, *args, **kwargs):
        self._sync()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self._sync()
        self._current += time.perf_counter() - t0
        return out


def fit(args, root: Path, callback: TimedCallback) -> None:
    """One training step of the embedded default finetune config (built as ``callback_overhead.py`` builds it),
    with ``callback``."""
    trainer, model, datamodule = build(args, root, [callback], limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model, datamodule=datamodule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-sentences", type=int, default=8, help="ten-word dev sentences in the sample set")
    parser.add_argument("--n", type=int, default=10, help="words per sentence = input variables")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256, help="masked sentences per forward pass")
    parser.add_argument("--pool-split", default="val", help="split the sentences come from")
    parser.add_argument("--train-subset", type=int, default=256, help="training sentences (one step is trained)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            cb = TimedCallback(n=args.n, num_samples=args.num_sentences, batch_size=args.batch_size,
                               pool_split=args.pool_split, progress=False, figures=True, device=args.device,
                               **CONFIGS[name])
            fit(args, Path(tmp) / name, cb)
            results[name] = cb

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print(f"device: {args.device} ({device}); torch {torch.__version__}")
    print(f"sample set: {args.num_sentences} sentences, n={args.n} -> {args.num_sentences << args.n} masked sentences "
          "per evaluation; two evaluations per configuration (epoch 0, epoch 1)")
    summary = []
    for name, cb in results.items():
        shares = [o / e for o, e in zip(cb.option_seconds, cb.evaluations)]
        print(f"{name:>16}: evaluation {', '.join(f'{e:.2f}' for e in cb.evaluations)} s; options "
              f"{', '.join(f'{o:.3f}' for o in cb.option_seconds)} s "
              f"({', '.join(f'{100 * s:.1f}%' for s in shares)} of the evaluation; "
              f"{1000 * sum(cb.option_seconds) / len(cb.option_seconds) / args.num_sentences:.1f} ms per sentence)")
        summary.append(f"option_share_of_evaluation_{name}={sum(shares) / len(shares):.4f}")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
