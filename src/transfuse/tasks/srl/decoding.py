"""From word scores to tags, and from tags to the frame users read.

`viterbi` picks the best tag sequence that is valid BIO for a proposition: no `I-X` at the start, after `O` or
after another role; the predicate word is `B-V` and no other word opens a `V` span (an `I-V` may extend it, for
multi-word predicates); and each core argument (`ARG0`-`ARG5`, `ARGA`: PropBank's numbered roles, `CORE_ROLE`)
fills at most one span, a role split in two going on as `C-ARGn` (He et al. 2017's unique-core-roles rule; none of
the 45,340 EWT propositions repeats one, a model decoded with BIO alone in 3 % of validation propositions). The
scores are each word's log-probabilities, so the result maximises their sum over the valid sequences. The
core-role rule is met lazily and exactly: decode with BIO alone, and while the best path repeats a core role,
decode again tracking which of those roles are used (a Viterbi over (roles used, tag) states; the path found
satisfies every rule, so it is the best that does). `viterbi_bio` keeps only the BIO rules; `argmax` takes each
word's best tag alone and may be invalid; all are scored the conlleval way. `identified_predicates` reads the
predicate identifier's output (`B-V` or not per word).

`frame` builds the output of one proposition: the tags, the arguments as word spans (`end` exclusive, as a
Python slice) and an AllenNLP-style bracketed description.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import log_softmax
from seqeval.metrics.sequence_labeling import get_entities

from .data import PREDICATE_ROLE, role_of

DECODINGS = ("viterbi", "viterbi_bio", "argmax")
PREDICATE_TAG = "B-" + PREDICATE_ROLE
CORE_ROLE = re.compile(r"ARG[0-9A](-[A-Z]+)?")  # ARG0-ARG5, ARGA and their function tags (ARG1-DSP); not ARGM-*


def transition_mask(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(start (L,), transitions (L_from, L_to)): True where BIO allows the tag first / after the other."""
    roles = [role_of(label) for label in labels]
    inside = np.array([label.startswith("I-") for label in labels])
    start = ~inside
    same_role = np.array([[a is not None and a == b for b in roles] for a in roles])
    transitions = ~inside[None, :] | same_role
    return start, transitions


def repeated_core_roles(tags: Sequence[str]) -> set[str]:
    """Core roles (`CORE_ROLE`) that open more than one span in `tags`."""
    opened = [role_of(tag) for tag in tags if tag.startswith("B-") and CORE_ROLE.fullmatch(role_of(tag))]
    return {role for role in opened if opened.count(role) > 1}


def viterbi(
    scores: np.ndarray, labels: Sequence[str], predicate: int | None, unique_core_roles: bool = True
) -> list[int]:
    """The best valid tag sequence (label ids) for (n_words, L) log-probabilities; with `unique_core_roles`, also
    no core role twice (see the module docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    start, transitions = transition_mask(labels)
    emissions = scores.copy()
    if PREDICATE_TAG in labels and predicate is not None:
        v = list(labels).index(PREDICATE_TAG)
        emissions[:, v] = -np.inf
        emissions[predicate, :] = -np.inf
        emissions[predicate, v] = scores[predicate, v]
    transition_scores = np.where(transitions, 0.0, -np.inf)
    tracked: list[str] = []  # the core roles the last path repeated, and those before it
    while True:
        bits = {role: 1 << k for k, role in enumerate(tracked)}
        opens = np.array([bits.get(role_of(tag), 0) if tag.startswith("B-") else 0 for tag in labels])
        path = _viterbi(emissions, start, transition_scores, opens)
        repeated = repeated_core_roles([labels[i] for i in path]) if unique_core_roles else set()
        if not repeated:
            return path
        tracked.extend(sorted(repeated))


def _viterbi(emissions: np.ndarray, start: np.ndarray, transitions: np.ndarray, opens: np.ndarray) -> list[int]:
    """Viterbi over (set of tracked roles used, tag) states: `opens[j]` is the bit of the tracked role that tag `j`
    opens (0 for every other tag); a tag may open a role only in a state that has not used it. With nothing
    tracked there is one set, and this is plain Viterbi."""
    n_words, n_labels = emissions.shape
    used = np.arange(1 << int(opens.max()).bit_length())[:, None]  # (S, 1): the sets of used roles
    allowed = (used & opens) == 0  # (S, L): tag j may follow a state of set s
    after = used | opens  # (S, L): the set after tag j
    best = np.full((len(used), n_labels), -np.inf)  # (S, L)
    best[opens, np.arange(n_labels)] = np.where(start, 0.0, -np.inf) + emissions[0]
    back_set = np.zeros((n_words, len(used), n_labels), dtype=np.int64)
    back_tag = np.zeros((n_words, len(used), n_labels), dtype=np.int64)
    # each allowed (set, tag) leads to its own (set after, tag): no two collide, so one scatter moves them all
    rows, columns = np.nonzero(allowed)
    targets = after[rows, columns]
    for t in range(1, n_words):
        candidates = best[:, :, None] + transitions  # (S, L_from, L_to)
        previous, score = candidates.argmax(1), candidates.max(1) + emissions[t]  # (S, L_to) each
        best = np.full_like(best, -np.inf)
        best[targets, columns] = score[rows, columns]
        back_set[t, targets, columns] = rows
        back_tag[t, targets, columns] = previous[rows, columns]
    s, tag = np.unravel_index(int(best.argmax()), best.shape)
    path = [int(tag)]
    for t in range(n_words - 1, 0, -1):
        s, tag = back_set[t, s, tag], back_tag[t, s, tag]
        path.append(int(tag))
    return path[::-1]


def decode(logits: np.ndarray, labels: Sequence[str], predicate: int | None, method: str = "viterbi") -> list[str]:
    """(n_words, L) logits -> one tag per word by `method` (`DECODINGS`)."""
    if method == "argmax":
        return [labels[i] for i in np.asarray(logits).argmax(-1)]
    log_probs = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return [labels[i] for i in viterbi(log_probs, labels, predicate, unique_core_roles=method == "viterbi")]


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


__all__ = [
    "CORE_ROLE",
    "DECODINGS",
    "decode",
    "frame",
    "identified_predicates",
    "is_valid",
    "repeated_core_roles",
    "transition_mask",
    "viterbi",
]
