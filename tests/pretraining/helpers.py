"""A tiny learnable English-like corpus, a tokenizer trained on it, and the argv of a tiny pretraining run."""

from __future__ import annotations

import json
import random
from pathlib import Path

from transformers import PreTrainedTokenizerFast

from transfuse.tokenization import train_tokenizer

SUBJECTS = ["the cat", "the dog", "a bird", "my friend", "the old man", "a small child", "the teacher"]
VERBS = ["sees", "likes", "finds", "follows", "greets", "paints"]
OBJECTS = ["the red ball", "a green tree", "the big house", "a blue car", "the river", "an open door"]
POSITIVE = ["happy", "bright", "kind", "warm", "glad"]
NEGATIVE = ["sad", "dark", "cruel", "cold", "angry"]
VOCAB_SIZE = 320
BLOCK_SIZE = 32


def sentence(rng: random.Random, positive: bool | None = None) -> str:
    if positive is None:
        positive = rng.random() < 0.5
    mood = rng.choice(POSITIVE if positive else NEGATIVE)
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} and feels {mood} ."


def documents(n_documents: int, seed: int = 0) -> list[str]:
    """Documents of 3-8 lines of 1-2 sentences each."""
    rng = random.Random(seed)
    return [
        "\n".join(" ".join(sentence(rng) for _ in range(rng.randint(1, 2))) for _ in range(rng.randint(3, 8)))
        for _ in range(n_documents)
    ]


def write_corpus(folder: Path, n_documents: int, seed: int = 0, per_file: int = 5) -> list[str]:
    """Write `n_documents` documents, `per_file` per text file (blank-line separated); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = documents(n_documents, seed)
    paths = []
    for index in range(0, n_documents, per_file):
        path = folder / f"part{index // per_file:03d}.txt"
        path.write_text("\n\n".join(docs[index : index + per_file]) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def train_corpus_tokenizer(output_dir: Path) -> PreTrainedTokenizerFast:
    tokenizer = train_tokenizer(
        documents(200, seed=99), kind="bpe", vocab_size=VOCAB_SIZE, show_progress=False, model_max_length=64
    )
    tokenizer.save_pretrained(output_dir)
    return tokenizer


def write_sentiment(path: Path, n_rows: int, seed: int) -> str:
    """A classification file whose label is the mood word of the sentence."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(n_rows):
            positive = rng.random() < 0.5
            row = {"text": sentence(rng, positive), "label": "positive" if positive else "negative"}
            handle.write(json.dumps(row) + "\n")
    return str(path)


def pretrain_argv(
    architecture: str,
    tokenizer_dir: Path,
    train_files: list[str],
    validation_files: list[str],
    output_dir: Path,
    *extra: str,
) -> list[str]:
    """`transfuse pretrain` flags of a tiny, fast run (extra flags come last and override)."""
    return [
        "pretrain",
        "--architecture",
        architecture,
        "--preset",
        "tiny",
        "--tokenizer_name",
        str(tokenizer_dir),
        "--train_files",
        *train_files,
        "--validation_files",
        *validation_files,
        "--block_size",
        str(BLOCK_SIZE),
        "--per_device_train_batch_size",
        "8",
        "--per_device_eval_batch_size",
        "32",
        "--learning_rate",
        "1e-2",
        "--warmup_steps",
        "0",
        "--max_steps",
        "40",
        "--logging_steps",
        "5",
        "--save_strategy",
        "no",
        "--seed",
        "0",
        "--output_dir",
        str(output_dir),
        *extra,
    ]


def logged_losses(log_history: list[dict]) -> list[float]:
    return [entry["loss"] for entry in log_history if "loss" in entry]
