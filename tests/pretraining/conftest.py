"""Fixtures of the pretraining tests: a corpus on disk and a tokenizer trained on it (once per worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import train_corpus_tokenizer, write_corpus


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    train_corpus_tokenizer(folder)
    return folder


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Training files (60 documents in 12 files) and validation files (10 documents)."""
    root = tmp_path_factory.mktemp("corpus")
    return {
        "train": write_corpus(root / "train", 60, seed=1),
        "validation": write_corpus(root / "validation", 10, seed=2),
    }
