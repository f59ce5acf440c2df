"""Words <-> sub-words: labels on first sub-words only, predictions back for every word, every marking."""

from __future__ import annotations

import numpy as np
import pytest

from transfuse.tasks.srl.alignment import (
    INDICATED,
    MARKINGS,
    PAIRED,
    PREDICATE_END,
    PREDICATE_START,
    align_labels,
    encode_propositions,
    word_scores,
)
from transfuse.tokenization import train_tokenizer

SENTENCES = [
    ["Unbelievably", ",", "the", "preachers", "rewrote", "everything", "yesterday"],
    ["Shaikh", "Abdullah", "al", "-", "Ani", "reconsidered"],
]
TAGS = [
    ["B-ARGM-ADV", "O", "B-ARG0", "I-ARG0", "B-V", "B-ARG1", "B-ARGM-TMP"],
    ["B-ARG0", "I-ARG0", "I-ARG0", "I-ARG0", "I-ARG0", "B-V"],
]
PREDICATES = [4, 5]
LABELS = sorted({tag for tags in TAGS for tag in tags} | {"O"})


@pytest.fixture(scope="module")
def splitting_tokenizer():
    """A WordPiece vocabulary far too small for these words: each splits into several pieces."""
    texts = ["the a an of to in it is"] * 5 + [" ".join(words) for words in SENTENCES]
    tokenizer = train_tokenizer(texts, kind="wordpiece", vocab_size=90, min_frequency=1, show_progress=False)
    tokenizer.add_special_tokens({"additional_special_tokens": [PREDICATE_START, PREDICATE_END]})
    return tokenizer


@pytest.mark.parametrize("marking", MARKINGS)
def test_round_trip_through_sub_words(splitting_tokenizer, marking: str) -> None:
    tokenizer = splitting_tokenizer
    assert any(len(tokenizer.tokenize(word)) >= 3 for word in SENTENCES[0])  # really several pieces
    features = encode_propositions(tokenizer, SENTENCES, PREDICATES, marking)
    for feature, words, tags, predicate in zip(features, SENTENCES, TAGS, PREDICATES):
        positions = feature["word_positions"]
        assert len(positions) == len(words) and len(set(positions)) == len(words)
        assert positions == sorted(positions)
        ids = [LABELS.index(tag) for tag in tags]
        labels = align_labels(positions, len(feature["input_ids"]), ids)
        assert sum(label != -100 for label in labels) == len(words)  # one label per word, -100 elsewhere
        # logits that say "the label" at each labelled sub-word (and noise elsewhere) decode back to the tags
        logits = np.random.default_rng(0).normal(size=(len(feature["input_ids"]), len(LABELS)))
        for position, label in enumerate(labels):
            if label != -100:
                logits[position, label] = 10.0
        assert [LABELS[i] for i in word_scores(logits, positions).argmax(-1)] == tags
        # each labelled position is the first sub-word of its word
        first_pieces = [tokenizer.tokenize(word)[0] for word in words]
        assert tokenizer.convert_ids_to_tokens([feature["input_ids"][p] for p in positions]) == first_pieces
        types, first_sep = feature.get("token_type_ids"), feature["input_ids"].index(tokenizer.sep_token_id)
        if marking in PAIRED:  # the second segment (token type 1 after the first [SEP]) is the predicate word
            second = [i for i, kind in zip(feature["input_ids"][first_sep:], types[first_sep:]) if kind == 1]
            alone = tokenizer(words[predicate], add_special_tokens=False)["input_ids"]
            assert tokenizer.decode(second, skip_special_tokens=True) == tokenizer.decode(alone)
        if marking == "markers":
            tokens = tokenizer.convert_ids_to_tokens(feature["input_ids"])
            assert tokens.index(PREDICATE_START) < positions[predicate] < tokens.index(PREDICATE_END)
        if marking == "pair":  # the sentence itself is all token type 0
            assert set(types[:first_sep]) == {0}
        if marking in INDICATED:  # token type 1 on the predicate's sub-words in the sentence, and only there
            marked = [i for i, value in enumerate(types[:first_sep]) if value == 1]
            assert marked[0] == positions[predicate] and len(marked) == len(tokenizer.tokenize(words[predicate]))


def test_plain_encoding_for_identification_and_dropped_words(splitting_tokenizer) -> None:
    plain = encode_propositions(splitting_tokenizer, SENTENCES, [None, None], "pair")
    paired = encode_propositions(splitting_tokenizer, SENTENCES, PREDICATES, "pair")
    assert all(len(a["input_ids"]) < len(b["input_ids"]) for a, b in zip(plain, paired))
    assert set(plain[0]["token_type_ids"]) == {0}
    # a word the tokenizer drops entirely (a zero-width space) still gets a position (the unknown token)
    words = ["the", "\u200b", "a"]
    feature = encode_propositions(splitting_tokenizer, [words], [0], "indicator")[0]
    assert -1 not in feature["word_positions"] and len(feature["word_positions"]) == 3


def test_slow_tokenizer_and_unknown_marking_are_refused(splitting_tokenizer) -> None:
    with pytest.raises(ValueError, match="--predicate_marking 'tags'"):
        encode_propositions(splitting_tokenizer, SENTENCES, PREDICATES, "tags")

    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="slow tokenizer"):
        encode_propositions(Slow(), SENTENCES, PREDICATES, "pair")
