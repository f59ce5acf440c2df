"""Words <-> sub-words for SRL, and the three ways of telling the model which word is the predicate.

The data and the outputs speak in words; the model reads sub-words. `encode_propositions` tokenizes pre-split words
(`is_split_into_words=True`, a fast tokenizer's `word_ids()`), marks the predicate, and records for every word the
position of its first sub-word (`word_positions`): labels go there (-100 on the other sub-words, on special tokens
and on the predicate's second segment), and `word_scores` reads the logits back from there, so every word gets a
prediction however the tokenizer splits it. A word the tokenizer drops entirely (a zero-width or control character)
is encoded as the unknown token, so it still has a position.

Predicate marking (`--predicate_marking`):

* `pair`: the sentence, then the predicate word as a second segment (`[CLS] words [SEP] predicate [SEP]`), as BERT
  SRL does (Shi and Lin 2019);
* `markers`: marker tokens around the predicate (`... <predicate> killed </predicate> ...`), added to the tokenizer
  (`SrlTask.added_tokens`, embeddings resized);
* `indicator`: token type 1 on the predicate's sub-words and 0 elsewhere (AllenNLP's predicate-indicator
  embedding; needs a model with a token-type embedding, e.g. BERT, or a transfuse config with `type_vocab_size`);
* `pair_indicator`: both, `pair`'s second segment and token type 1 on the predicate's sub-words in the sentence,
  so the model is told the predicate's position as well as its word (a word can occur twice in a sentence).

A sentence with no predicate marked (`predicate=None`) is encoded plain: that is the predicate identifier's input
(which words are predicates), trained on the same model with `B-V` on every predicate word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from ...data.collators import LABEL_PAD_ID

MARKINGS = ("pair", "markers", "indicator", "pair_indicator")
PAIRED = ("pair", "pair_indicator")  # the predicate word as a second segment
INDICATED = ("indicator", "pair_indicator")  # token type 1 on the predicate's sub-words: needs token types
FALLBACK_MARKING = "pair"  # the marking every model can read: no token types, no added tokens
PREDICATE_START, PREDICATE_END = "<predicate>", "</predicate>"


def model_marking(config: Any) -> str:
    """The marking a trained model reads, from its config (`srl_predicate_marking`); `FALLBACK_MARKING`, which
    every model can read, for a config that does not say."""
    return getattr(config, "srl_predicate_marking", None) or FALLBACK_MARKING


def _marked_words(words: Sequence[str], predicate: int | None, marking: str) -> tuple[list[str], list[int]]:
    """The words the tokenizer sees and, for each original word, its index among them."""
    if predicate is None or marking != "markers":
        return list(words), list(range(len(words)))
    marked = [*words[:predicate], PREDICATE_START, words[predicate], PREDICATE_END, *words[predicate + 1 :]]
    index = [i if i < predicate else i + 1 if i == predicate else i + 2 for i in range(len(words))]
    return marked, index


def _encode_group(
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[Sequence[str]],
    predicates: Sequence[int | None],
    marking: str,
    paired: bool,
) -> list[dict[str, Any]]:
    """Encode rows that all have (paired=True, a marking in PAIRED) or all lack a second segment."""
    marked = [_marked_words(words, predicate, marking) for words, predicate in zip(sentences, predicates)]
    texts = [words for words, _ in marked]
    seconds = [[sentence[predicate]] for sentence, predicate in zip(sentences, predicates)] if paired else None
    encoding = tokenizer(
        texts, seconds, is_split_into_words=True, truncation=False, return_token_type_ids=marking != "markers"
    )
    rows = []
    for row, ((_, index), predicate) in enumerate(zip(marked, predicates)):
        word_ids, sequence_ids = encoding.word_ids(row), encoding.sequence_ids(row)
        first: dict[int, int] = {}
        for position, (word, sequence) in enumerate(zip(word_ids, sequence_ids)):
            if word is not None and sequence == 0 and word not in first:
                first[word] = position
        features = {key: list(values[row]) for key, values in encoding.items()}
        features["word_positions"] = [first.get(i, -1) for i in index]
        if marking in INDICATED:
            mark = -1 if predicate is None else index[predicate]
            features["token_type_ids"] = [  # the second segment, if any, keeps its type 1
                int((word == mark and sequence == 0) or sequence == 1)
                for word, sequence in zip(word_ids, sequence_ids)
            ]
        rows.append(features)
    return rows


def encode_propositions(
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[Sequence[str]],
    predicates: Sequence[int | None],
    marking: str,
) -> list[dict[str, Any]]:
    """One feature dict per (sentence, predicate): `input_ids`, `attention_mask`, `token_type_ids` (pair,
    indicator), `word_positions` (the first sub-word of each word). `predicate=None` encodes the plain sentence."""
    if marking not in MARKINGS:
        raise ValueError(f"--predicate_marking {marking!r} is not supported; choose one of {', '.join(MARKINGS)}.")
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{type(tokenizer).__name__} is a slow tokenizer: SRL maps sub-words to words with a fast tokenizer's "
            "word_ids(); use the model's fast tokenizer (tokenizer.json)."
        )
    features: list[dict[str, Any] | None] = [None] * len(sentences)
    for paired in (True, False):
        rows = [i for i, p in enumerate(predicates) if (p is not None and marking in PAIRED) == paired]
        if not rows:
            continue
        group = [sentences[i] for i in rows], [predicates[i] for i in rows]
        encoded = _encode_group(tokenizer, *group, marking, paired)
        for i, feature in zip(rows, encoded):
            features[i] = feature
    for i, feature in enumerate(features):
        if -1 in feature["word_positions"]:  # words the tokenizer dropped: encode them as the unknown token
            unknown = tokenizer.unk_token or "?"
            words = [
                unknown if position == -1 else word for word, position in zip(sentences[i], feature["word_positions"])
            ]
            paired = predicates[i] is not None and marking in PAIRED
            features[i] = _encode_group(tokenizer, [words], [predicates[i]], marking, paired)[0]
    return features  # type: ignore[return-value]


def align_labels(word_positions: Sequence[int], length: int, label_ids: Sequence[int]) -> list[int]:
    """Word label ids -> one label per sub-word: the id on each word's first sub-word, -100 everywhere else."""
    labels = [LABEL_PAD_ID] * length
    for position, label in zip(word_positions, label_ids):
        labels[position] = label
    return labels


def word_scores(token_logits: np.ndarray, word_positions: Sequence[int]) -> np.ndarray:
    """(T, L) logits of one feature -> (n_words, L): each word's first sub-word."""
    return np.asarray(token_logits)[np.asarray(word_positions, dtype=np.int64)]


__all__ = [
    "FALLBACK_MARKING",
    "INDICATED",
    "MARKINGS",
    "PAIRED",
    "PREDICATE_END",
    "PREDICATE_START",
    "align_labels",
    "encode_propositions",
    "model_marking",
    "word_scores",
]
