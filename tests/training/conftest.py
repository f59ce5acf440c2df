"""Fixtures of the training tests: small labelled splits written as files, and the flags of a tiny, short
run."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from datasets import Dataset
from transformers import BertConfig, BertModel

from transfuse.tokenization import train_tokenizer

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


@pytest.fixture
def bert_base(sentiment_rows, tmp_path):
    """A tiny random BERT *without* a classification head, as a pretrained encoder checkpoint is saved."""
    tokenizer = train_tokenizer(
        sentiment_rows(64, 0)["text"], kind="wordpiece", vocab_size=100, min_frequency=1, show_progress=False
    )
    model = BertModel(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    model.save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    return str(tmp_path / "bert")


@pytest.fixture
def built_trainers(monkeypatch) -> list:
    """Every Trainer the workflow builds in this test, in order."""
    from transfuse.training import workflow

    built = []
    real = workflow.build_trainer

    def build(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(workflow, "build_trainer", build)
    return built
