"""Running an SRL model outside the Trainer: the predicate-identification pass and the pipeline's forward pass.

`transfuse predict srl` on raw sentences needs two passes (which words are predicates, then each predicate's
frame), the Trainer runs one; the identification pass runs here, on the same model, before the features of the
second are built. The `semantic-role-labeling` pipeline uses the same functions, so both give the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from ...data.collators import token_collator
from .alignment import encode_propositions, word_scores
from .decoding import identified_predicates

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# PTB-style words of a raw sentence: clitics (n't, 's, 're, ...) and every punctuation mark apart, hyphens too,
# as the Penn / Web Treebank tokenization of the training data has them.
WORD_PATTERN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+|[^\w\s]", re.IGNORECASE)


def split_words(text: str) -> list[str]:
    """A raw sentence -> words: `"Al-Ani didn't go."` -> `["Al", "-", "Ani", "did", "n't", "go", "."]`."""
    return WORD_PATTERN.findall(text)


def feature_logits(
    model: Any, tokenizer: PreTrainedTokenizerBase, features: Sequence[dict[str, Any]], batch_size: int = 32
) -> list[np.ndarray]:
    """(T_i, L) float32 logits of each encoded feature, in order (eval mode, no gradients, the model's device)."""
    if not features:
        return []
    collate = token_collator(tokenizer)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for start in range(0, len(features), batch_size):
                chunk = features[start : start + batch_size]
                batch = collate([{key: f[key] for key in MODEL_INPUTS if key in f} for f in chunk])
                logits = model(**{key: value.to(device) for key, value in batch.items()}).logits.float().cpu()
                outputs.extend(logits[i, : len(f["input_ids"])].numpy() for i, f in enumerate(chunk))
    finally:
        model.train(was_training)
    return outputs


def find_predicates(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[Sequence[str]],
    marking: str,
    labels: Sequence[str],
    max_length: int,
) -> list[list[int] | None]:
    """The predicate words of each sentence by the model's identifier (the unmarked input); None for a sentence
    longer than `max_length` sub-words."""
    features = encode_propositions(tokenizer, sentences, [None] * len(sentences), marking)
    fits = [i for i, feature in enumerate(features) if len(feature["input_ids"]) <= max_length]
    logits = feature_logits(model, tokenizer, [features[i] for i in fits])
    found: list[list[int] | None] = [None] * len(sentences)
    for i, row_logits in zip(fits, logits):
        found[i] = identified_predicates(word_scores(row_logits, features[i]["word_positions"]), labels)
    return found


__all__ = ["feature_logits", "find_predicates", "split_words"]
