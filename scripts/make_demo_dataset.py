"""Regenerate the small sentiment set that ships inside the package for `transfuse demo`.

    python scripts/make_demo_dataset.py   # writes src/transfuse/data/demo_sentiment_{train,validation}.jsonl

Short English reviews in the many shapes real ones take: one-word verdicts ("Awful."), exclamations, superlatives
("the best ... I have ever ..."), first-person feelings, recommendations and warnings, complaints about what broke
or went wrong, praise of several aspects at once, and negated praise ("not worth it"). They are composed from
general review vocabulary (about 60 positive and 60 negative words and phrases over 60 subjects), so that a small
model trained from scratch (tokenizer included) in about a minute on two CPU cores learns sentiment words and
constructions rather than a handful of templates. Validation uses subjects and templates that training never
shows, so its score measures more than memorisation. Seeded: the output is identical on every run. Columns:
`text`, `label` (`positive` / `negative`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "transfuse" / "data"
SEED = 13
N_TRAIN, N_VALIDATION = 2400, 300

SUBJECTS = (
    "movie film plot acting soundtrack ending script cast series episode restaurant meal food service dessert "
    "pizza coffee breakfast menu waiter hotel room bed staff view pool book story novel author chapter phone "
    "battery screen camera laptop keyboard charger headphones speaker app update printer concert show album "
    "song game trip tour flight driver car bike shoes jacket dress chair mattress delivery package seller price "
    "product purchase"
).split()
# words for things that are had, used or visited (the superlatives' verbs)
EVER = "seen watched read had tried used bought owned visited eaten heard played ordered stayed at".split(" ")

POSITIVE = (
    "great good nice wonderful brilliant delightful excellent superb charming moving fantastic enjoyable lovely "
    "impressive fresh memorable gripping beautiful perfect amazing awesome outstanding pleasant friendly "
    "comfortable clean fast reliable solid cozy tasty delicious fun funny helpful useful sturdy smooth stunning "
    "terrific marvelous gorgeous satisfying incredible"
).split()
NEGATIVE = (
    "terrible awful bad boring dull disappointing painful mediocre bland clumsy tedious horrible forgettable messy "
    "weak annoying ugly broken pointless poor rude dirty slow noisy cheap flimsy useless stale cold greasy "
    "overpriced uncomfortable confusing buggy unreliable lousy dreadful pathetic frustrating unpleasant "
    "disgusting lame"
).split()
POSITIVE_FEELINGS = "happy pleased thrilled satisfied delighted impressed glad".split()
NEGATIVE_FEELINGS = "disappointed unhappy frustrated annoyed upset dissatisfied angry".split()
POSITIVE_VERBS = "love loved adore enjoyed liked recommend".split()
NEGATIVE_VERBS = "hate hated regret disliked returned".split()
INTENSIFIERS = ["", "", "really ", "very ", "so ", "truly ", "absolutely ", "quite ", "incredibly "]

POSITIVE_PHRASES = [
    "I would recommend it to everyone",
    "I loved every minute",
    "I will happily come back",
    "it made my day",
    "worth every penny",
    "I enjoyed it a lot",
    "highly recommended",
    "five stars",
    "would buy again",
    "works like a charm",
    "exceeded my expectations",
    "a real pleasure",
    "thank you so much",
    "can't wait to go back",
    "money well spent",
    "does exactly what it should",
    "arrived quickly",
    "fits perfectly",
    "a must have",
    "better than I hoped",
    "I'm very happy with it",
    "best decision I made",
]
NEGATIVE_PHRASES = [
    "I would not recommend it to anyone",
    "I hated every minute",
    "I will never come back",
    "it ruined my day",
    "a complete waste of money",
    "I regret it",
    "one star",
    "never again",
    "save your money",
    "avoid it",
    "don't bother",
    "I asked for a refund",
    "stopped working after a week",
    "it fell apart",
    "it arrived damaged",
    "not worth the price",
    "nothing worked",
    "a total disappointment",
    "I returned it",
    "what a mess",
    "worse than I feared",
    "I want a refund",
]
POSITIVE_SHORT = [
    "Love it!",
    "Perfect.",
    "Highly recommend!",
    "Wow!",
    "Five stars!",
    "So good!",
    "Just perfect.",
    "Brilliant!",
    "Nice!",
    "Awesome!",
    "Loved it.",
    "Great buy.",
]
NEGATIVE_SHORT = [
    "Hate it.",
    "Avoid.",
    "Never again.",
    "What a waste.",
    "One star.",
    "So bad.",
    "Useless.",
    "Awful!",
    "Disappointing.",
    "Rubbish.",
    "Not good.",
    "Poor.",
]

TEMPLATES = [
    "The {subject} was {adj}.",
    "The {subject} is {int}{adj}.",
    "I found the {subject} {int}{adj}.",
    "What a {adj} {subject}!",
    "{Adj}!",
    "{Adj}.",
    "{Int_adj}.",
    "{Adj} {subject}.",
    "{Adj} {subject}, {phrase}.",
    "{Phrase}.",
    "{Phrase}!",
    "{short}",
    "Honestly, the {subject} felt {adj} from start to finish.",
    "The {subject} was {adj} and the {subject2} was {adj2}.",
    "The {subject} is {adj} and {adj2}.",
    "{Adj} {subject} and {adj2} {subject2}.",
    "This is the {sup} {subject} I have ever {ever}.",
    "The {sup} {subject} ever.",
    "{Sup} {subject} ever!",
    "I am {int}{feeling} with this {subject}.",
    "{Int_feeling} with the {subject}.",
    "I {verb} this {subject}.",
    "I {int}{verb} the {subject}; {phrase}.",
    "We all agreed the {subject} was {adj}.",
    "My friends thought the {subject} was {adj}, and {phrase}.",
    "Everything about the {subject} was {adj}.",
    "Such a {adj} {subject}, {phrase}.",
    "The {subject} was {int}{adj}, {phrase}.",
    "Really {adj} {subject}!",
    "The {subject} was not {opposite}.",
    "Not {opposite} at all.",
    "It was {int}{adj}.",
    "{Adj} experience with the {subject}.",
    "Our {subject} was {adj}; {phrase}.",
]
VALIDATION_ONLY = {
    "I found the {subject} {int}{adj}.",
    "{Adj} {subject}, {phrase}.",
    "The {sup} {subject} ever.",
    "{Int_feeling} with the {subject}.",
    "Our {subject} was {adj}; {phrase}.",
    "It was {int}{adj}.",
}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def make_example(rng: random.Random, subjects: list[str], templates: list[str]) -> dict[str, str]:
    positive = rng.random() < 0.5
    words, opposite = (POSITIVE, NEGATIVE) if positive else (NEGATIVE, POSITIVE)
    adj, adj2 = rng.sample(words, 2)
    subject, subject2 = rng.sample(subjects, 2)
    phrase = rng.choice(POSITIVE_PHRASES if positive else NEGATIVE_PHRASES)
    feeling = rng.choice(POSITIVE_FEELINGS if positive else NEGATIVE_FEELINGS)
    intensifier = rng.choice(INTENSIFIERS)
    template = rng.choice(templates)
    # "not <negative word>" is only faint praise: negation is generated for the negative class only
    if "{opposite}" in template and positive:
        template = "The {subject} was {int}{adj}."
    values = {
        "subject": subject,
        "subject2": subject2,
        "adj": adj,
        "adj2": adj2,
        "int": intensifier,
        "phrase": phrase,
        "feeling": feeling,
        "verb": rng.choice(POSITIVE_VERBS if positive else NEGATIVE_VERBS),
        "sup": "best" if positive else "worst",
        "ever": rng.choice(EVER),
        "short": rng.choice(POSITIVE_SHORT if positive else NEGATIVE_SHORT),
        "opposite": rng.choice(opposite),
        "int_adj": intensifier + adj,
        "int_feeling": intensifier + feeling,
    }
    values.update({_capital(key): _capital(value) for key, value in list(values.items())})
    return {"text": template.format(**values), "label": "positive" if positive else "negative"}


def main() -> None:
    rng = random.Random(SEED)
    subjects = list(SUBJECTS)
    rng.shuffle(subjects)
    held_out_subjects = subjects[:8]  # validation also sees subjects never seen in training
    train_templates = [t for t in TEMPLATES if t not in VALIDATION_ONLY]
    train, seen = [], set()
    while len(train) < N_TRAIN:
        row = make_example(rng, subjects[8:], train_templates)
        if row["text"] not in seen:  # short verdicts repeat: keep each text once
            seen.add(row["text"])
            train.append(row)
    validation = []
    while len(validation) < N_VALIDATION:
        row = make_example(rng, held_out_subjects + subjects[8:16], list(VALIDATION_ONLY) + TEMPLATES[:6])
        if row["text"] not in seen:
            seen.add(row["text"])
            validation.append(row)
    for name, rows in (("train", train), ("validation", validation)):
        path = OUT_DIR / f"demo_sentiment_{name}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
