"""Text sample sets: sentences of exactly ``n`` whitespace words, one variable per word
(docs/method.md#the-annotated-sample-set).

Layouts: ``inputs["input_ids"][sample, token]`` and ``inputs["attention_mask"][sample, token]``
(plus ``token_type_ids`` where the tokenizer has them), padded to the longest sentence;
``unit_variable[sample, token]`` is the word a token belongs to (every sub-word token of a word
shares it) and ``-1`` for special tokens and padding; the baseline is the mask token id.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from .errors import ConfigError, DataError
from .sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet, check_num_variables


def split_words(sentence: str) -> list[str]:
    """The input variables of a sentence: its whitespace tokens (docs/method.md#the-annotated-sample-set)."""
    return sentence.split()


def build_text_sample_set(
    sentences: Sequence[str], labels: Sequence[int] | Tensor, tokenizer: Any, *, n: int = 10,
    max_variables: int = DEFAULT_MAX_VARIABLES, meta: dict | None = None,
) -> AnnotatedSampleSet:
    """Sentences of exactly ``n`` whitespace words; each word is one variable (all its
    sub-word tokens); the baseline is the tokenizer's mask token; special tokens and
    padding are never masked. Works with any Hugging Face tokenizer."""
    n = check_num_variables(n, max_variables)
    if tokenizer.mask_token_id is None:
        raise ConfigError(f"tokenizer {type(tokenizer).__name__} has no mask token; word masking needs one")
    rows, word_rows = [], []
    for i, sentence in enumerate(sentences):
        words = split_words(sentence)
        if len(words) != n:
            raise DataError(
                f"sentence {i} has {len(words)} words, expected n={n}: {sentence!r}; "
                "choose sentences with exactly n whitespace-separated words"
            )
        ids, owner = _tokenize_words(tokenizer, words)
        rows.append((ids, owner))
        word_rows.append(words)
    length = max((len(ids) for ids, _ in rows), default=0)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    s = len(rows)
    input_ids = torch.full((s, length), pad, dtype=torch.long)
    attention = torch.zeros((s, length), dtype=torch.long)
    unit = torch.full((s, length), -1, dtype=torch.long)
    for i, (ids, owner) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        unit[i, : len(ids)] = torch.tensor(owner)
    inputs = {"input_ids": input_ids, "attention_mask": attention}
    if "token_type_ids" in getattr(tokenizer, "model_input_names", []):
        inputs["token_type_ids"] = torch.zeros_like(input_ids)
    return AnnotatedSampleSet(
        "text", inputs, torch.as_tensor(labels), unit, torch.tensor(tokenizer.mask_token_id), n,
        {"words": word_rows, "tokenizer": getattr(tokenizer, "name_or_path", type(tokenizer).__name__), **(meta or {})},
    )


def _tokenize_words(tokenizer: Any, words: list[str]) -> tuple[list[int], list[int]]:
    """Token ids of a sentence with special tokens, and ``owner[token]`` = word index or -1.

    Uses the tokenizer's own word alignment (``is_split_into_words`` + ``word_ids()``) where it
    has one (every fast / ``tokenizers``-backed tokenizer, all of them in transformers 5), else
    tokenises word by word and adds the special tokens with ``build_inputs_with_special_tokens``."""
    name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
    owner = None
    try:
        enc = tokenizer(list(words), is_split_into_words=True, add_special_tokens=True)
        word_ids = enc.word_ids()
        full = [int(t) for t in enc["input_ids"]]
        owner = [-1 if w is None else int(w) for w in word_ids]
    except (ValueError, TypeError, AttributeError, NotImplementedError):
        owner = None
    if owner is None:
        word_ids = [tokenizer.encode(w, add_special_tokens=False) for w in words]
        flat = [t for ids in word_ids for t in ids]
        flat_owner = [j for j, ids in enumerate(word_ids) for _ in ids]
        full = tokenizer.build_inputs_with_special_tokens(flat)
        mask = tokenizer.get_special_tokens_mask(full, already_has_special_tokens=True)
        owner, k = [], 0
        for special in mask:
            if special:
                owner.append(-1)
            else:
                owner.append(flat_owner[k])
                k += 1
        if k != len(flat):
            raise DataError("tokenizer added or dropped tokens between words; cannot map words to tokens")
    present = set(owner)
    for j, w in enumerate(words):
        if j not in present:
            raise DataError(f"word {w!r} has no tokens under tokenizer {name}; choose another sentence")
    return full, owner


__all__ = ["build_text_sample_set", "split_words"]
