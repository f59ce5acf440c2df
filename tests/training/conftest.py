"""Fixtures of the training tests: small labelled splits written as files, and the flags of a tiny, short
run."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from datasets import Dataset

POSITIVE = ["good", "great", "fine", "lovely", "superb", "nice"]
NEGATIVE = ["bad", "awful", "poor", "dull", "weak", "ugly"]
SUBJECTS = ["film", "plot", "meal", "room", "book", "show", "game", "song"]


def make_sentiment_rows(n: int, seed: int) -> dict[str, list]:
    """`n` rows "the <subject> was <adjective>" labelled by the adjective's polarity (learnable from one
    word)."""
    rng = random.Random(seed)
    rows: dict[str, list] = {"text": [], "label": []}
    for _ in range(n):
        positive = rng.random() < 0.5
        adjective = rng.choice(POSITIVE if positive else NEGATIVE)
        rows["text"].append(f"the {rng.choice(SUBJECTS)} was {adjective}")
        rows["label"].append("pos" if positive else "neg")
    return rows


def write_split(path: Path, columns: dict[str, list]) -> str:
    """Write `columns` (an in-memory `Dataset.from_dict`) in the format of `path`'s extension."""
    data = Dataset.from_dict(columns)
    if path.suffix in (".csv", ".tsv"):
        data.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    elif path.suffix == ".parquet":
        data.to_parquet(path)
    else:
        data.to_json(path)
    return str(path)


@pytest.fixture
def sentiment_rows() -> Callable[[int, int], dict[str, list]]:
    return make_sentiment_rows


@pytest.fixture
def write_data(tmp_path: Path) -> Callable[[str, dict[str, list]], str]:
    return lambda name, columns: write_split(tmp_path / name, columns)


# a tiny transfuse from scratch, two optimizer steps, nothing saved but the final model
TINY_RUN_FLAGS = [
    "--preset",
    "tiny",
    "--vocab_size",
    "300",
    "--max_seq_length",
    "32",
    "--max_steps",
    "2",
    "--per_device_train_batch_size",
    "8",
    "--per_device_eval_batch_size",
    "64",
    "--logging_steps",
    "1",
    "--save_strategy",
    "no",
    "--disable_tqdm",
    "true",
]


@pytest.fixture
def tiny_flags(tmp_path: Path) -> list[str]:
    """`TINY_RUN_FLAGS` writing into this test's own folders."""
    return [*TINY_RUN_FLAGS, "--output_dir", str(tmp_path / "run"), "--cache_dir", str(tmp_path / "cache")]
