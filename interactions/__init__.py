"""Exact Harsanyi interactions of any torch classifier: the pure-torch core
(no Lightning, no file locks, no knowledge of what uses it).

The method is docs/method.md; the engine (chunking, precision, memory) docs/engine.md. Layouts:
``values[sample, mask]`` and ``dividends[sample, mask]`` are float64 with ``2**n`` masks, bit ``i``
of ``mask`` set when variable ``i`` is kept. Typical use::

    sample_set = build_text_sample_set(sentences, labels, tokenizer, n=10)
    result = harsanyi_interactions(model, sample_set)   # strict fp32, values and dividends float64
    result.dividends[sample, mask]                      # mask: bit i = word i

Modules: :mod:`.sample_set` (the annotated sample set and its pools), :mod:`.image_sample_set`,
:mod:`.text_sample_set`, :mod:`.feature_sample_set`, :mod:`.pool_sample_set` (its builders),
:mod:`.maskers`, :mod:`.outputs`, :mod:`.precision`, :mod:`.values`, :mod:`.transform`,
:mod:`.metrics`, :mod:`.scalars`, :mod:`.attributions`, :mod:`.and_or`, :mod:`.artifacts` and :mod:`.errors`. Past
``2**n``: :mod:`.sparse` estimates the dividends from a budget of masks (:mod:`.sparse_design`,
:mod:`.sparse_recovery`; docs/method.md#sparse-estimation); :mod:`.unanimity_games` builds games with known dividends
to check it on. Both estimators implement one protocol (:mod:`.estimators`) and return one result type
(:mod:`.estimates`), which converts to shapiq's ``InteractionValues`` (:mod:`.shapiq_values`); :mod:`.sharding`
splits a sample set over the ranks of a run.
"""
from .and_or import (
    DEFAULT_NOISE_BOUND,
    MAX_AND_OR_VARIABLES,
    SOLVERS,
    AndOrInteractions,
    and_or_interactions,
    and_or_salient_mask,
    and_or_strength_by_order,
    check_and_or_options,
    check_and_or_variables,
)
from .artifacts import (
    atomic_write_bytes,
    content_hash,
    errno_name,
    load_artifact,
    probe_writable,
    save_artifact,
    write_error,
)
from .attributions import attributions_of_parts, banzhaf_values, shapley_interaction_index, shapley_values
from .errors import (
    AnnotationError,
    ConfigError,
    DataError,
    FolderInUseError,
    HarsanyiError,
    NumericsError,
    OfflineError,
    StorageError,
    WorkerError,
)
from .estimates import (
    AlignedTables,
    InteractionEstimate,
    aligned_tables,
    estimate_jaccard,
    jaccard_to_final,
    reference_scalars,
    strength_of,
)
from .estimators import (
    ESTIMATORS,
    Estimator,
    ExactEstimator,
    SparseEstimator,
    build_estimator,
    estimate_from_record,
    estimator_class,
)
from .feature_sample_set import build_feature_sample_set
from .image_sample_set import (
    build_image_sample_set,
    central_patches,
    check_image_options,
    image_candidates,
    mean_image,
    patch_grid,
)
from .maskers import FeatureMasker, ImagePatchMasker, Masker, WordMasker, keep_units, masker_for
from .metrics import (
    TAU_RATIO,
    jaccard_similarity,
    knowledge_by_order,
    knowledge_split,
    knowledge_totals,
    matching_error,
    mean_by_order,
    mean_jaccard,
    order_means,
    preserved_ratio,
    salient_count,
    salient_mask,
    salient_strength_by_order,
    sparse_jaccard,
    strength_by_order,
)
from .outputs import OutputFn, log_odds_true_class
from .pool_sample_set import build_sample_set
from .precision import PRECISIONS, check_precision, evaluation_precision, tf32_settings
from .sample_set import (
    DEFAULT_MAX_VARIABLES,
    AnnotatedSampleSet,
    ImagePool,
    TextPool,
    check_num_variables,
)
from .scalars import and_or_scalars, interaction_scalars, knowledge_scalars, ratio_scalars, strength_scalars
from .shapiq_values import estimate_from_interaction_values, to_interaction_values
from .sharding import Shards, shard_indices
from .sparse import SparseInteractions, sparse_dividends, sparse_interactions
from .sparse_design import MAX_SPARSE_VARIABLES, check_sparse_options
from .sparse_slots import SlotTables, mask_orders, order_counts, slot_tables
from .text_sample_set import build_text_sample_set, split_words
from .transform import (
    harsanyi_dividends,
    mask_to_variables,
    subset_orders,
    values_from_dividends,
    variables_to_mask,
)
from .unanimity_games import unanimity_game
from .values import (
    ForwardFn,
    Interactions,
    audit_precision,
    check_finite,
    compute_values,
    compute_values_at,
    default_forward,
    harsanyi_interactions,
    nonfinite_samples,
)

__all__ = [
    "AlignedTables",
    "AndOrInteractions",
    "AnnotatedSampleSet",
    "AnnotationError",
    "ConfigError",
    "DEFAULT_MAX_VARIABLES",
    "DEFAULT_NOISE_BOUND",
    "DataError",
    "ESTIMATORS",
    "Estimator",
    "ExactEstimator",
    "FeatureMasker",
    "FolderInUseError",
    "ForwardFn",
    "HarsanyiError",
    "ImagePatchMasker",
    "ImagePool",
    "InteractionEstimate",
    "Interactions",
    "MAX_AND_OR_VARIABLES",
    "MAX_SPARSE_VARIABLES",
    "Masker",
    "NumericsError",
    "OfflineError",
    "OutputFn",
    "PRECISIONS",
    "SOLVERS",
    "Shards",
    "SlotTables",
    "SparseEstimator",
    "SparseInteractions",
    "StorageError",
    "TAU_RATIO",
    "TextPool",
    "WordMasker",
    "WorkerError",
    "aligned_tables",
    "and_or_interactions",
    "and_or_salient_mask",
    "and_or_scalars",
    "and_or_strength_by_order",
    "atomic_write_bytes",
    "attributions_of_parts",
    "audit_precision",
    "banzhaf_values",
    "build_estimator",
    "build_feature_sample_set",
    "build_image_sample_set",
    "build_sample_set",
    "build_text_sample_set",
    "central_patches",
    "check_and_or_options",
    "check_and_or_variables",
    "check_finite",
    "check_image_options",
    "check_num_variables",
    "check_precision",
    "check_sparse_options",
    "compute_values",
    "compute_values_at",
    "content_hash",
    "default_forward",
    "errno_name",
    "estimate_from_interaction_values",
    "estimate_from_record",
    "estimate_jaccard",
    "estimator_class",
    "evaluation_precision",
    "harsanyi_dividends",
    "harsanyi_interactions",
    "image_candidates",
    "interaction_scalars",
    "jaccard_similarity",
    "jaccard_to_final",
    "keep_units",
    "knowledge_by_order",
    "knowledge_scalars",
    "knowledge_split",
    "knowledge_totals",
    "load_artifact",
    "log_odds_true_class",
    "mask_orders",
    "mask_to_variables",
    "masker_for",
    "matching_error",
    "mean_by_order",
    "mean_image",
    "mean_jaccard",
    "nonfinite_samples",
    "order_counts",
    "order_means",
    "patch_grid",
    "preserved_ratio",
    "probe_writable",
    "ratio_scalars",
    "reference_scalars",
    "salient_count",
    "salient_mask",
    "salient_strength_by_order",
    "save_artifact",
    "shapley_interaction_index",
    "shapley_values",
    "shard_indices",
    "slot_tables",
    "sparse_dividends",
    "sparse_interactions",
    "sparse_jaccard",
    "split_words",
    "strength_by_order",
    "strength_of",
    "strength_scalars",
    "subset_orders",
    "tf32_settings",
    "to_interaction_values",
    "unanimity_game",
    "values_from_dividends",
    "variables_to_mask",
    "write_error",
]
