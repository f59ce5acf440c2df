"""Regenerate the small sentiment set that ships inside the package for `transfuse demo`.

    python scripts/make_demo_dataset.py   # writes src/transfuse/data/demo_sentiment_{train,validation}.jsonl

Templated English reviews whose sentiment is carried by clear positive / negative words, so that a small model
trained from scratch (tokenizer included) learns it in about a minute on two CPU cores; validation sentences
pair subjects and templates differently from training, so the score measures more than memorisation. Seeded:
the output is identical on every run. Columns: `text`, `label` (`positive` / `negative`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "transfuse" / "data"
SEED = 13
N_TRAIN, N_VALIDATION = 800, 200

SUBJECTS = [
    "movie",
    "film",
    "plot",
    "acting",
    "soundtrack",
    "ending",
    "script",
    "cast",
    "restaurant",
    "meal",
    "service",
    "dessert",
    "hotel",
    "room",
    "staff",
    "book",
    "story",
    "novel",
    "phone",
    "battery",
    "screen",
    "laptop",
    "keyboard",
    "concert",
    "show",
    "album",
    "game",
    "trip",
    "tour",
    "coffee",
]
POSITIVE = [
    "wonderful",
    "brilliant",
    "delightful",
    "excellent",
    "superb",
    "charming",
    "moving",
    "fantastic",
    "enjoyable",
    "great",
    "lovely",
    "impressive",
    "fresh",
    "memorable",
    "gripping",
    "beautiful",
    "perfect",
    "amazing",
]
NEGATIVE = [
    "terrible",
    "awful",
    "boring",
    "dull",
    "disappointing",
    "painful",
    "mediocre",
    "bland",
    "clumsy",
    "tedious",
    "horrible",
    "forgettable",
    "messy",
    "weak",
    "annoying",
    "ugly",
    "broken",
    "pointless",
]
POSITIVE_VERDICTS = [
    "I would recommend it to everyone",
    "I loved every minute",
    "I will happily come back",
    "it made my day",
    "worth every penny",
    "I enjoyed it a lot",
]
NEGATIVE_VERDICTS = [
    "I would not recommend it to anyone",
    "I hated every minute",
    "I will never come back",
    "it ruined my day",
    "a complete waste of money",
    "I regret it",
]
TEMPLATES = [
    "The {subject} was {adjective}.",
    "I found the {subject} {adjective}.",
    "What a {adjective} {subject}!",
    "Honestly, the {subject} felt {adjective} from start to finish.",
    "My friends thought the {subject} was {adjective}, and {verdict}.",
    "{Adjective} {subject}; {verdict}.",
    "The {subject} is {adjective} and {other_adjective}.",
    "Everything about the {subject} was {adjective}.",
    "Such a {adjective} {subject}, {verdict}.",
    "We all agreed the {subject} was {adjective}.",
]


def make_example(rng: random.Random, subjects: list[str], templates: list[str]) -> dict[str, str]:
    positive = rng.random() < 0.5
    adjectives, verdicts = (POSITIVE, POSITIVE_VERDICTS) if positive else (NEGATIVE, NEGATIVE_VERDICTS)
    adjective, other_adjective = rng.sample(adjectives, 2)
    text = rng.choice(templates).format(
        subject=rng.choice(subjects),
        adjective=adjective,
        Adjective=adjective.capitalize(),
        other_adjective=other_adjective,
        verdict=rng.choice(verdicts),
    )
    return {"text": text, "label": "positive" if positive else "negative"}


def main() -> None:
    rng = random.Random(SEED)
    subjects = SUBJECTS[:]
    rng.shuffle(subjects)
    held_out_subjects = subjects[:6]  # validation also sees subjects never seen in training
    train = [make_example(rng, subjects[6:], TEMPLATES) for _ in range(N_TRAIN)]
    validation = [
        make_example(rng, held_out_subjects + subjects[6:12], TEMPLATES) for _ in range(N_VALIDATION)
    ]
    train_texts = {row["text"] for row in train}
    validation = [row for row in validation if row["text"] not in train_texts]
    for name, rows in (("train", train), ("validation", validation)):
        path = OUT_DIR / f"demo_sentiment_{name}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
