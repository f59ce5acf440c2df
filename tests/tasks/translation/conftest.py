"""Tiny parallel data (a synthetic reversal task), a tokenizer and a tiny transfuse encoder-decoder."""

from __future__ import annotations

import random

import pytest

from transfuse.modeling import get_preset
from transfuse.tasks.translation import TranslationArguments, TranslationTask
from transfuse.tokenization import train_tokenizer

WORDS = list("abcdefghij")


def reversal_pairs(count: int, seed: int = 0, min_len: int = 3, max_len: int = 6) -> tuple[list[str], list[str]]:
    """Sources of random letters, targets the same letters reversed and upper-cased (a different 'language')."""
    rng = random.Random(seed)
    sources = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(min_len, max_len))) for _ in range(count)]
    targets = [" ".join(reversed(source.upper().split())) for source in sources]
    return sources, targets


@pytest.fixture(scope="session")
def tiny_tokenizer():
    sources, targets = reversal_pairs(200)
    return train_tokenizer(sources + targets, kind="wordpiece", vocab_size=64, min_frequency=1, show_progress=False)


def tiny_config(tokenizer, **overrides):
    fields = dict(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        hidden_dropout_prob=0.0,
        attention_dropout=0.0,
    )
    return get_preset("tiny", "encoder-decoder", **{**fields, **overrides})


def make_task(max_seq_length: int = 32, **kwargs) -> TranslationTask:
    options = {"source_lang": "src", "target_lang": "tgt", **kwargs}
    return TranslationTask(TranslationArguments(**options), max_seq_length=max_seq_length)
