"""Synthetic SRL data with a rule a tiny model can learn: the word before the predicate is its ARG0.

Sentences mix nouns, fillers and verbs; every verb is a predicate (so the identifier can learn them too), its
previous word is `ARG0` and the next word, when it is a noun, `ARG1`.
"""

from __future__ import annotations

import random

NOUNS = ["cat", "dog", "bird", "fish", "cow", "fox", "owl", "bee", "ant", "rat"]
VERBS = ["saw", "chased", "bit", "liked", "fed", "hid"]
FILLERS = ["the", "a", "then", "and", "so", "very"]


def propositions(n_sentences: int, seed: int) -> dict[str, list]:
    rng = random.Random(seed)
    rows: dict[str, list] = {"sent_id": [], "tokens": [], "predicate_index": [], "tags": []}
    for s in range(n_sentences):
        length = rng.randint(5, 9)
        words = [rng.choice(NOUNS + FILLERS) for _ in range(length)]
        for position in rng.sample(range(1, length), k=rng.randint(1, 2)):
            words[position] = rng.choice(VERBS)
        for predicate, word in enumerate(words):
            if word not in VERBS:
                continue
            tags = ["O"] * length
            tags[predicate] = "B-V"
            if predicate > 0 and words[predicate - 1] not in VERBS:
                tags[predicate - 1] = "B-ARG0"
            if predicate + 1 < length and words[predicate + 1] in NOUNS:
                tags[predicate + 1] = "B-ARG1"
            rows["sent_id"].append(f"s{seed}-{s}")
            rows["tokens"].append(words)
            rows["predicate_index"].append(predicate)
            rows["tags"].append(tags)
    return rows


def raw_sentences(rows: dict[str, list]) -> list[str]:
    seen: list[str] = []
    for words in rows["tokens"]:
        text = " ".join(words)
        if text not in seen:
            seen.append(text)
    return seen
