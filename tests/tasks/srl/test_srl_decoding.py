"""BIO-constrained Viterbi: never an invalid sequence, equal to brute force on short inputs; frames."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from transfuse.tasks.srl.decoding import decode, frame, identified_predicates, is_valid, viterbi

LABELS = ["O", "B-A0", "I-A0", "B-A1", "I-A1", "B-V", "I-V"]


def brute_force(scores: np.ndarray, predicate: int) -> tuple[float, list[str]]:
    best = (-np.inf, [])
    for ids in itertools.product(range(len(LABELS)), repeat=len(scores)):
        tags = [LABELS[i] for i in ids]
        if is_valid(tags, predicate):
            total = float(sum(scores[t, i] for t, i in enumerate(ids)))
            if total > best[0]:
                best = (total, tags)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_viterbi_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = int(rng.integers(1, 6))
    scores = rng.normal(size=(length, len(LABELS))) * 3
    predicate = int(rng.integers(0, length))
    path = [LABELS[i] for i in viterbi(scores, LABELS, predicate)]
    best_score, best_tags = brute_force(scores, predicate)
    assert is_valid(path, predicate)
    assert sum(scores[t, LABELS.index(tag)] for t, tag in enumerate(path)) == pytest.approx(best_score)
    assert path == best_tags


def test_constraints_on_hand_built_scores() -> None:
    # argmax would say: I-A0 at the start, B-V on the wrong word, I-A1 after A0
    scores = np.full((4, len(LABELS)), -5.0)
    for t, tag in enumerate(["I-A0", "B-V", "I-A1", "O"]):
        scores[t, LABELS.index(tag)] = 0.0
    scores[0, LABELS.index("B-A0")] = -1.0
    scores[2, LABELS.index("B-A1")] = -1.0
    argmax = decode(scores, LABELS, 2, method="argmax")
    assert argmax == ["I-A0", "B-V", "I-A1", "O"] and not is_valid(argmax, 2)
    assert decode(scores, LABELS, 2) == ["B-A0", "O", "B-V", "O"]  # the predicate word is forced to B-V
    assert decode(scores, LABELS, 1) == ["B-A0", "B-V", "B-A1", "O"]
    # a multi-word predicate may continue with I-V
    multi = np.full((2, len(LABELS)), -5.0)
    multi[1, LABELS.index("I-V")] = 0.0
    assert decode(multi, LABELS, 0) == ["B-V", "I-V"]


def test_viterbi_never_invalid_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        length = int(rng.integers(1, 30))
        predicate = int(rng.integers(0, length))
        tags = decode(rng.normal(size=(length, len(LABELS))) * 4, LABELS, predicate)
        assert is_valid(tags, predicate)


def test_identified_predicates_and_frame() -> None:
    logits = np.zeros((4, len(LABELS)))
    logits[[1, 3], LABELS.index("B-V")] = 1.0
    assert identified_predicates(logits, LABELS) == [1, 3]
    tokens = ["American", "forces", "killed", "him", "yesterday"]
    out = frame(tokens, 2, ["B-A0", "I-A0", "B-V", "B-A1", "O"])
    assert out == {
        "predicate_index": 2,
        "predicate": "killed",
        "tags": ["B-A0", "I-A0", "B-V", "B-A1", "O"],
        "arguments": [
            {"role": "A0", "start": 0, "end": 2, "text": "American forces"},
            {"role": "A1", "start": 3, "end": 4, "text": "him"},
        ],
        "description": "[A0 American forces] [V killed] [A1 him] yesterday",
    }
