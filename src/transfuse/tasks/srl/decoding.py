"""From word scores to tags, and from tags to the frame users read.

`viterbi` picks the best tag sequence that is valid BIO for a proposition: no `I-X` at the start, after `O` or
after another role; the predicate word is `B-V` and no other word opens a `V` span (an `I-V` may extend it, for
multi-word predicates). The scores are each word's log-probabilities, so the result maximises their sum over the
valid sequences. `argmax` (`--decoding argmax`) takes each word's best tag alone and may be invalid; both are
scored the conlleval way. `identified_predicates` reads the predicate identifier's output (`B-V` or not per word).

`frame` builds the output of one proposition: the tags, the arguments as word spans (`end` exclusive, as a
Python slice) and an AllenNLP-style bracketed description.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import log_softmax
from seqeval.metrics.sequence_labeling import get_entities

from .data import PREDICATE_ROLE, role_of

DECODINGS = ("viterbi", "argmax")
PREDICATE_TAG = "B-" + PREDICATE_ROLE


def transition_mask(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(start (L,), transitions (L_from, L_to)): True where BIO allows the tag first / after the other."""
    roles = [role_of(label) for label in labels]
    inside = np.array([label.startswith("I-") for label in labels])
    start = ~inside
    same_role = np.array([[a is not None and a == b for b in roles] for a in roles])
    transitions = ~inside[None, :] | same_role
    return start, transitions


def viterbi(scores: np.ndarray, labels: Sequence[str], predicate: int | None) -> list[int]:
    """The best valid tag sequence (label ids) for (n_words, L) log-probabilities."""
    scores = np.asarray(scores, dtype=np.float64)
    start, transitions = transition_mask(labels)
    emissions = scores.copy()
    if PREDICATE_TAG in labels and predicate is not None:
        v = list(labels).index(PREDICATE_TAG)
        emissions[:, v] = -np.inf
        emissions[predicate, :] = -np.inf
        emissions[predicate, v] = scores[predicate, v]
    transition_scores = np.where(transitions, 0.0, -np.inf)
    best = np.where(start, 0.0, -np.inf) + emissions[0]
    back = np.zeros(scores.shape, dtype=np.int64)
    for t in range(1, len(scores)):
        candidates = best[:, None] + transition_scores  # (L_from, L_to)
        back[t] = candidates.argmax(0)
        best = candidates.max(0) + emissions[t]
    path = [int(best.argmax())]
    for t in range(len(scores) - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def decode(logits: np.ndarray, labels: Sequence[str], predicate: int | None, method: str = "viterbi") -> list[str]:
    """(n_words, L) logits -> one tag per word by `method` (viterbi or argmax)."""
    if method == "argmax":
        return [labels[i] for i in np.asarray(logits).argmax(-1)]
    return [labels[i] for i in viterbi(log_softmax(np.asarray(logits, dtype=np.float64), axis=-1), labels, predicate)]


def identified_predicates(logits: np.ndarray, labels: Sequence[str]) -> list[int]:
    """Words the predicate identifier tags `B-V` (its best tag of all), in sentence order."""
    if PREDICATE_TAG not in labels:
        return []
    v = list(labels).index(PREDICATE_TAG)
    return [int(i) for i in np.flatnonzero(np.asarray(logits).argmax(-1) == v)]


def is_valid(tags: Sequence[str], predicate: int | None) -> bool:
    """Valid BIO with the predicate word `B-V` and no other `B-V`."""
    previous = None
    for position, tag in enumerate(tags):
        role = role_of(tag)
        if tag.startswith("I-") and role != previous:
            return False
        if predicate is not None and (tag == PREDICATE_TAG) != (position == predicate):
            return False
        previous = role
    return True


def frame(tokens: Sequence[str], predicate: int, tags: Sequence[str]) -> dict[str, Any]:
    """`{"predicate_index", "predicate", "tags", "arguments": [{"role", "start", "end", "text"}], "description"}`."""
    spans = get_entities(list(tags))
    arguments = [
        {"role": role, "start": start, "end": end + 1, "text": " ".join(tokens[start : end + 1])}
        for role, start, end in spans
        if role != PREDICATE_ROLE
    ]
    pieces, position = [], 0
    for role, start, end in spans:
        pieces.extend(tokens[position:start])
        pieces.append(f"[{role} {' '.join(tokens[start : end + 1])}]")
        position = end + 1
    pieces.extend(tokens[position:])
    return {
        "predicate_index": int(predicate),
        "predicate": tokens[predicate],
        "tags": list(tags),
        "arguments": arguments,
        "description": " ".join(pieces),
    }


__all__ = ["DECODINGS", "decode", "frame", "identified_predicates", "is_valid", "transition_mask", "viterbi"]
