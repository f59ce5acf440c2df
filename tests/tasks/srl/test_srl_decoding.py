"""Constrained Viterbi (BIO; each core role at most once): never an invalid sequence, equal to brute force on short
inputs; frames."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from transfuse.tasks.srl.decoding import (
    decode,
    frame,
    identified_predicates,
    is_valid,
    repeated_core_roles,
    viterbi,
)

LABELS = ["O", "B-A0", "I-A0", "B-A1", "I-A1", "B-V", "I-V"]  # no core roles: BIO rules only
# ARG0/ARG1/ARG2 are core (at most one span each), C-ARG1 continues ARG1, ARGM-TMP may repeat
CORE_LABELS = ["O", "B-ARG0", "I-ARG0", "B-ARG1", "B-ARG2", "I-ARG2", "B-C-ARG1", "B-ARGM-TMP", "B-V"]


def brute_force(
    scores: np.ndarray, predicate: int, labels: list[str] = LABELS, unique_core: bool = False
) -> tuple[float, list[str]]:
    best = (-np.inf, [])
    for ids in itertools.product(range(len(labels)), repeat=len(scores)):
        tags = [labels[i] for i in ids]
        if is_valid(tags, predicate) and not (unique_core and repeated_core_roles(tags)):
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


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("unique_core", [True, False])
def test_viterbi_with_core_roles_equals_brute_force(seed: int, unique_core: bool) -> None:
    rng = np.random.default_rng(seed)
    length = int(rng.integers(2, 6))
    scores = rng.normal(size=(length, len(CORE_LABELS))) * 3
    scores[:, [CORE_LABELS.index("B-ARG0"), CORE_LABELS.index("B-ARG1")]] += 3  # core roles often best twice
    predicate = int(rng.integers(0, length))
    path = [CORE_LABELS[i] for i in viterbi(scores, CORE_LABELS, predicate, unique_core_roles=unique_core)]
    best_score, best_tags = brute_force(scores, predicate, CORE_LABELS, unique_core)
    assert is_valid(path, predicate) and not (unique_core and repeated_core_roles(path))
    assert sum(scores[t, CORE_LABELS.index(tag)] for t, tag in enumerate(path)) == pytest.approx(best_score)


def hand_built(length: int, best: dict[tuple[int, str], float]) -> np.ndarray:
    """Scores of -6 everywhere but the (word, tag) entries given."""
    scores = np.full((length, len(CORE_LABELS)), -6.0)
    for (word, tag), score in best.items():
        scores[word, CORE_LABELS.index(tag)] = score
    return scores


def test_each_core_role_once_on_hand_built_scores() -> None:
    # BIO alone gives ARG0 twice and ARG1 twice; the rule keeps each where it scores best and gives the other word
    # its next best: ARGM-TMP (a modifier may repeat) and C-ARG1 (a continuation)
    scores = hand_built(
        5,
        {
            (0, "B-ARG0"): 0.0,
            (0, "B-ARGM-TMP"): -1.0,
            (1, "B-ARG0"): -0.1,
            (1, "B-ARGM-TMP"): -0.5,
            (3, "B-ARG1"): 0.0,
            (3, "B-ARG2"): -1.0,
            (4, "B-ARG1"): -0.1,
            (4, "B-C-ARG1"): -0.3,
        },
    )
    bio_only = decode(scores, CORE_LABELS, 2, method="viterbi_bio")
    assert bio_only == ["B-ARG0", "B-ARG0", "B-V", "B-ARG1", "B-ARG1"]
    assert repeated_core_roles(bio_only) == {"ARG0", "ARG1"}
    assert decode(scores, CORE_LABELS, 2) == ["B-ARG0", "B-ARGM-TMP", "B-V", "B-ARG1", "B-C-ARG1"]


def test_a_role_repeated_only_after_another_is_fixed() -> None:
    # BIO alone repeats ARG1 only; moving word 1 off ARG1 puts it on ARG0, which word 0 holds: decoded again
    scores = hand_built(
        4, {(0, "B-ARG0"): 0.0, (1, "B-ARG1"): 0.0, (1, "B-ARG0"): -0.2, (1, "B-ARGM-TMP"): -0.4, (3, "B-ARG1"): 0.0}
    )
    assert decode(scores, CORE_LABELS, 2, method="viterbi_bio") == ["B-ARG0", "B-ARG1", "B-V", "B-ARG1"]
    assert decode(scores, CORE_LABELS, 2) == ["B-ARG0", "B-ARGM-TMP", "B-V", "B-ARG1"]


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


@pytest.mark.parametrize("labels", [LABELS, CORE_LABELS])
def test_viterbi_never_invalid_on_random_scores(labels: list[str]) -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        length = int(rng.integers(1, 30))
        predicate = int(rng.integers(0, length))
        tags = decode(rng.normal(size=(length, len(labels))) * 4, labels, predicate)
        assert is_valid(tags, predicate) and not repeated_core_roles(tags)


def test_repeated_core_roles() -> None:
    tags = ["B-ARG0", "B-ARG1", "I-ARG1", "B-ARG1", "B-C-ARG1", "B-R-ARG0", "B-ARGM-TMP", "B-ARGM-TMP", "B-ARG1-DSP"]
    assert repeated_core_roles(tags) == {"ARG1"}  # C-/R- roles, modifiers and ARG1-DSP are counted apart
    assert repeated_core_roles(["B-ARGA", "O", "B-ARGA", "B-ARG5", "B-ARG5"]) == {"ARGA", "ARG5"}


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
