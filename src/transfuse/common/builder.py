"""Models built from scratch: the one builder of `transfuse train` without `--model_name_or_path` and of
`transfuse pretrain`.

Both go the same way. The tokenizer is `--tokenizer_name`, else the checkpoint's own, else one trained on the
training text (`--tokenizer_kind`, `--vocab_size`, by default the preset's and never under 512). The config is a
transfuse `--preset` (default small; pretraining may name any `--config_name` instead) sized to the tokenizer:
its length for the vocabulary, its special ids (bos falls back to cls and eos to sep, for BERT-style
tokenizers), a position table long enough for the run; then `--config_overrides`, then what the task's head
needs (its labels). `check_positions` is the one check that a model's position table holds what the run feeds
it. Task tokens (`Task.added_tokens`) go into any tokenizer through `add_special_tokens`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

from ..modeling import TransfuseConfig, get_preset
from ..modeling.presets import PRESETS
from ..tokenization import train_tokenizer
from .arguments import ModelArguments, parse_config_overrides

logger = logging.getLogger(__name__)

DEFAULT_PRESET = "small"
# A tokenizer trained without --vocab_size never has fewer ids than this: byte-level BPE needs its 256-byte
# alphabet plus the special tokens, which the `tiny` preset's 128 cannot hold.
MIN_TRAINED_VOCAB = 512
SPECIAL_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id")


def preset_name(model_args: ModelArguments) -> str:
    return model_args.preset or DEFAULT_PRESET


def preset_positions(model_args: ModelArguments, needed: int) -> int:
    """Positions of a model built from `--preset`: the preset's, or `needed` when the run needs more."""
    return max(PRESETS[preset_name(model_args)]["max_position_embeddings"], needed)


def trained_vocab_size(model_args: ModelArguments) -> int:
    """Vocabulary size of a tokenizer trained for `--preset`: `--vocab_size`, else the preset's (at least 512)."""
    return model_args.vocab_size or max(PRESETS[preset_name(model_args)]["vocab_size"], MIN_TRAINED_VOCAB)


def load_or_train_tokenizer(
    model_args: ModelArguments, texts: Iterable[str], model_max_length: int
) -> PreTrainedTokenizerBase:
    """`--tokenizer_name`, else the checkpoint's own (`--model_name_or_path`), else a new one trained on `texts`."""
    source = model_args.tokenizer_name or model_args.model_name_or_path
    if source is not None:
        return AutoTokenizer.from_pretrained(
            source, revision=model_args.model_revision, trust_remote_code=model_args.trust_remote_code
        )
    vocab_size = trained_vocab_size(model_args)
    logger.info("training a %s tokenizer (vocabulary %d) on the training text", model_args.tokenizer_kind, vocab_size)
    return train_tokenizer(
        texts, kind=model_args.tokenizer_kind, vocab_size=vocab_size, model_max_length=model_max_length
    )


def add_tokens(tokenizer: PreTrainedTokenizerBase, tokens: Iterable[str]) -> int:
    """Add `tokens` (a task's markers) to `tokenizer` as special tokens, never split and saved with it; the ones
    it holds already stay. Returns how many are new (the model's embeddings must then grow to `len(tokenizer)`)."""
    tokens = [token for token in tokens if token not in tokenizer.get_vocab()]
    if not tokens:
        return 0
    return tokenizer.add_special_tokens({"extra_special_tokens": tokens}, replace_extra_special_tokens=False)


def tokenizer_fields(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """The config fields a model takes from its tokenizer: vocabulary size and special token ids."""

    def either(first: int | None, fallback: int | None) -> int | None:
        return first if first is not None else fallback

    return {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": either(tokenizer.bos_token_id, tokenizer.cls_token_id),
        "eos_token_id": either(tokenizer.eos_token_id, tokenizer.sep_token_id),
    }


def scratch_config(
    model_args: ModelArguments,
    tokenizer: PreTrainedTokenizerBase,
    positions: int,
    config_name: str | None = None,
    required: Mapping[str, Any] | None = None,
    architecture: str | None = None,
) -> PretrainedConfig:
    """The config of a new model of `architecture` (default `--architecture`): `--preset` (its position table
    grown to `positions`) or `config_name` (any config, kept at its own positions), sized to `tokenizer`, then
    `--config_overrides`, then `required` (what the head needs, e.g. the task's labels)."""
    overrides = parse_config_overrides(model_args.config_overrides)
    fields = {**tokenizer_fields(tokenizer), **overrides, **(required or {})}
    if config_name is None:
        positions = preset_positions(model_args, positions)
        config = get_preset(
            preset_name(model_args),
            architecture or model_args.architecture,
            **{"max_position_embeddings": positions, **fields},
        )
    else:
        config = AutoConfig.from_pretrained(
            config_name, revision=model_args.model_revision, trust_remote_code=model_args.trust_remote_code
        )
        for name, value in fields.items():
            setattr(config, name, value)
        if isinstance(config, TransfuseConfig):
            config._validate()
    if config.is_encoder_decoder and "decoder_start_token_id" not in overrides:
        config.decoder_start_token_id = fields["bos_token_id"]
    return config


def max_positions(config: PretrainedConfig) -> int | None:
    """Longest sequence the position table covers, or None when positions are unbounded (rotary)."""
    if getattr(config, "position_embedding_type", None) == "rotary":
        return None
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def check_positions(config: PretrainedConfig, needed: int, flag: str) -> None:
    """Raise, naming `flag` and the fix, when a run feeds sequences of `needed` tokens to a shorter table."""
    limit = max_positions(config)
    if limit is not None and needed > limit:
        raise ValueError(
            f"{flag} {needed} is longer than the model's {limit} positions; lower {flag}, or (from scratch) raise "
            f"them with --config_overrides max_position_embeddings={needed}."
        )


__all__ = [
    "DEFAULT_PRESET",
    "MIN_TRAINED_VOCAB",
    "SPECIAL_ID_FIELDS",
    "add_tokens",
    "check_positions",
    "load_or_train_tokenizer",
    "max_positions",
    "preset_positions",
    "scratch_config",
    "tokenizer_fields",
    "trained_vocab_size",
]
