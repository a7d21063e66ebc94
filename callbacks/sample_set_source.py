"""Where a recorder's annotated sample set comes from (docs/method.md#the-annotated-sample-set).

In this order: a sample set handed over as an object; the annotation file ``run.sample_set`` when it exists
(loaded, hash-checked, checked against the asked ``n`` and ``grid``); else one built with
:class:`~harsanyi_lightning.callbacks.options.SampleSetOptions` from a pool (the one handed over, else the training
loop's: a Lightning datamodule's ``annotation_pool(pool_split)``) and saved at ``run.sample_set``, so several runs
(a study's regimes) share it. A copy is kept beside the run's artifacts. All ranks must hold the same sample set.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError
from harsanyi_lightning.interactions.pool_sample_set import build_sample_set
from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet, check_num_variables

from .artifact_layout import ANNOTATION_FILE

if TYPE_CHECKING:
    from harsanyi_lightning.interactions.sample_set import ImagePool, TextPool

    from .options import RunOptions, SampleSetOptions
    from .training_loop import TrainingLoop


def load_sample_set(path: str, sampling: SampleSetOptions) -> AnnotatedSampleSet:
    """The annotation file at ``path``; :class:`ConfigError` when its ``n`` or ``grid`` is not the asked one."""
    samples = AnnotatedSampleSet.load(path)
    check_num_variables(samples.n, sampling.max_variables)
    if sampling.n is not None and samples.n != sampling.n:
        raise ConfigError(
            f"sample_set {path} has n={samples.n} variables but n={sampling.n} was asked; "
            "drop n or use another annotation file"
        )
    if sampling.grid is not None and list(samples.grid or []) != sampling.grid:
        found = "no patch grid" if samples.grid is None else "a {}x{} patch grid".format(*samples.grid)
        raise ConfigError(
            f"sample_set {path} has {found} but grid={sampling.grid} was asked; "
            "drop grid or use another annotation file"
        )
    return samples


def build_from_pool(pool: TextPool | ImagePool, sampling: SampleSetOptions) -> AnnotatedSampleSet:
    """A sample set drawn from ``pool`` (a :class:`TextPool` or :class:`ImagePool`) as ``sampling`` says."""
    return build_sample_set(
        pool, n=sampling.n, num_samples=sampling.num_samples, per_class=sampling.per_class, seed=sampling.seed,
        baseline=sampling.baseline, background=sampling.background, max_variables=sampling.max_variables,
        grid=sampling.grid, region=sampling.region, candidates=sampling.candidates,
    )


def obtain_sample_set(run: RunOptions, sampling: SampleSetOptions, folder: Path, loop: TrainingLoop, *,
                      given: Optional[AnnotatedSampleSet] = None,
                      pool: Optional[TextPool | ImagePool] = None) -> AnnotatedSampleSet:
    """The run's sample set by the order of this module's docstring; rank zero saves a copy in ``folder`` (and a
    built one at ``run.sample_set``). :class:`AnnotationError` when the ranks disagree."""
    copy_path = folder / ANNOTATION_FILE
    if given is not None:
        samples, save_to = given, [copy_path]
    elif run.sample_set is not None and Path(run.sample_set).is_file():
        samples = load_sample_set(run.sample_set, sampling)
        save_to = [] if Path(run.sample_set).resolve() == copy_path else [copy_path]
    else:
        source = pool if pool is not None else loop.annotation_pool(sampling.pool_split)
        if source is None:
            where = f"sample_set={run.sample_set!r} is not an existing file and " if run.sample_set else ""
            raise ConfigError(
                f"{where}there is no pool to build the sample set from: pass sample_set=<annotation file> (see "
                "interactions.build_*_sample_set) or pool=TextPool(sentences, labels, tokenizer) (or an ImagePool), "
                "or, with Lightning, fit with a datamodule that has annotation_pool(split)"
            )
        samples = build_from_pool(source, sampling)
        save_to = [copy_path] + ([Path(run.sample_set)] if run.sample_set is not None else [])
    digest = samples.hash
    if loop.broadcast(digest, src=0) != digest:
        raise AnnotationError("the ranks built different sample sets; build it once and pass sample_set=<file>")
    if loop.is_global_zero:
        for path in save_to:
            samples.save(path)
    return samples


__all__ = ["build_from_pool", "load_sample_set", "obtain_sample_set"]
