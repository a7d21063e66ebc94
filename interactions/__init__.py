"""Exact Harsanyi interactions of any torch classifier (pure torch, no Lightning).

See ``SPEC.md`` sections 1, 2, 4 and 6 of the project for the method. Typical use::

    sample_set = build_text_sample_set(sentences, labels, tokenizer, n=10)
    result = harsanyi_interactions(model, sample_set)   # strict fp32, values and dividends float64
    result.dividends[sample, mask]                      # mask: bit i = word i
"""
from .artifacts import atomic_write_bytes, content_hash, load_artifact, save_artifact
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
from .maskers import FeatureMasker, ImagePatchMasker, WordMasker, keep_units, masker_for
from .metrics import (
    jaccard_similarity,
    knowledge_by_order,
    knowledge_split,
    knowledge_totals,
    matching_error,
    mean_by_order,
    mean_jaccard,
    preserved_ratio,
    salient_count,
    salient_mask,
    salient_strength_by_order,
    strength_by_order,
)
from .outputs import log_odds_true_class
from .precision import PRECISIONS, evaluation_precision, tf32_settings
from .sample_set import (
    AnnotatedSampleSet,
    ImagePool,
    TextPool,
    build_feature_sample_set,
    build_image_sample_set,
    build_sample_set,
    build_text_sample_set,
    central_patches,
    check_num_variables,
    image_candidates,
    mean_image,
    patch_grid,
    split_words,
)
from .transform import harsanyi_dividends, mask_to_variables, subset_orders, values_from_dividends, variables_to_mask
from .values import Interactions, audit_precision, compute_values, default_forward, harsanyi_interactions
from .attributions import banzhaf_values, shapley_interaction_index, shapley_values
from .and_or import (
    DEFAULT_NOISE_BOUND,
    MAX_AND_OR_VARIABLES,
    AndOrInteractions,
    and_or_interactions,
    and_or_salient_mask,
    and_or_strength_by_order,
    check_and_or_options,
)

__all__ = [name for name in dir() if not name.startswith("_")]
