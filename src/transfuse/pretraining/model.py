"""The tokenizer and model of a pretraining run: built from scratch to fit each other, or loaded to continue.

The tokenizer is `--tokenizer_name`, else the checkpoint's own, else one trained on the training text
(`--tokenizer_kind`, `--vocab_size`), which is then saved in the run folder with the model.

From scratch, the config comes from a transfuse preset (`--preset`, default small) or any config
(`--config_name`, e.g. GPT-2 or BERT, for like-for-like comparisons), with the vocabulary size and special
token ids taken from the tokenizer and `--config_overrides` applied last. `check_model_fits` then verifies,
before any training, that the tokenizer's ids fit the embedding, that special token ids agree, and that a
block fits the position table: a mismatch would otherwise crash mid-run or, worse, train on silently
wrong ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..modeling import TransfuseConfig, get_preset
from ..modeling.presets import PRESETS
from ..tokenization import train_tokenizer
from ..training.arguments import ModelArguments, parse_config_overrides
from .arguments import PretrainingArguments
from .objectives import OBJECTIVES

logger = logging.getLogger(__name__)

DEFAULT_PRESET = "small"
SPECIAL_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id")


def load_or_train_tokenizer(
    model_args: ModelArguments, texts: Iterable[str], block_size: int
) -> PreTrainedTokenizerBase:
    """`--tokenizer_name`, else the checkpoint's tokenizer, else a new one trained on `texts`."""
    source = model_args.tokenizer_name or model_args.model_name_or_path
    if source is not None:
        return AutoTokenizer.from_pretrained(
            source, revision=model_args.model_revision, trust_remote_code=model_args.trust_remote_code
        )
    preset = PRESETS[model_args.preset or DEFAULT_PRESET]
    vocab_size = model_args.vocab_size or preset["vocab_size"]
    logger.info(
        "training a %s tokenizer (vocabulary %d) on the training text", model_args.tokenizer_kind, vocab_size
    )
    return train_tokenizer(
        texts,
        kind=model_args.tokenizer_kind,
        vocab_size=vocab_size,
        model_max_length=max(block_size, preset["max_position_embeddings"]),
    )


def build_model(
    model_args: ModelArguments,
    pretraining_args: PretrainingArguments,
    tokenizer: PreTrainedTokenizerBase,
    block_size: int,
) -> PreTrainedModel:
    """The head of `--architecture`'s objective, loaded from `--model_name_or_path` or new from a config."""
    auto_class = OBJECTIVES[model_args.architecture].auto_model_class
    common = {"trust_remote_code": model_args.trust_remote_code}
    if model_args.from_scratch:
        model = auto_class.from_config(
            scratch_config(model_args, pretraining_args, tokenizer, block_size), **common
        )
        logger.info(
            "built %s from scratch: %s parameters", type(model).__name__, f"{model.num_parameters():,}"
        )
    else:
        model = auto_class.from_pretrained(
            model_args.model_name_or_path, revision=model_args.model_revision, **common
        )
    check_model_fits(model, tokenizer, block_size, model_args.architecture)
    return model


def scratch_config(
    model_args: ModelArguments,
    pretraining_args: PretrainingArguments,
    tokenizer: PreTrainedTokenizerBase,
    block_size: int,
) -> PretrainedConfig:
    """Config of a new model: preset or `--config_name`, sized to the tokenizer, then the overrides."""
    fields = {"vocab_size": len(tokenizer), **{name: getattr(tokenizer, name) for name in SPECIAL_ID_FIELDS}}
    overrides = parse_config_overrides(model_args.config_overrides)
    if pretraining_args.config_name is None:
        preset = model_args.preset or DEFAULT_PRESET
        fields["max_position_embeddings"] = max(PRESETS[preset]["max_position_embeddings"], block_size)
        config = get_preset(preset, model_args.architecture, **{**fields, **overrides})
    else:
        config = AutoConfig.from_pretrained(
            pretraining_args.config_name,
            revision=model_args.model_revision,
            trust_remote_code=model_args.trust_remote_code,
        )
        for name, value in {**fields, **overrides}.items():
            setattr(config, name, value)
        if isinstance(config, TransfuseConfig):
            config._validate()
    if config.is_encoder_decoder and "decoder_start_token_id" not in overrides:
        config.decoder_start_token_id = tokenizer.bos_token_id
    if isinstance(config, TransfuseConfig) and "sparse_prediction" not in overrides:
        config.sparse_prediction = True  # masked LM: the vocabulary projection sees only the masked tokens
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


def check_model_fits(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, block_size: int, architecture: str
) -> None:
    """Raise a `ValueError` naming the fix when tokenizer, model and `--block_size` do not belong together."""
    config = model.config
    declared = getattr(config, "architecture", None)
    if declared is not None and declared != architecture:
        raise ValueError(
            f"the model is a transfuse {declared!r} but --architecture is {architecture!r}; pass "
            f"--architecture {declared}."
        )
    n_embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) != n_embeddings:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's embedding has {n_embeddings} rows: "
            "the tokenizer does not belong to this model. Pass the tokenizer the model was trained with "
            "(--tokenizer_name), or leave out --model_name_or_path to build a model sized to this tokenizer."
        )
    for name in SPECIAL_ID_FIELDS:
        model_id, tokenizer_id = getattr(config, name, None), getattr(tokenizer, name)
        if model_id is not None and tokenizer_id is not None and model_id != tokenizer_id:
            raise ValueError(
                f"config.{name}={model_id} but the tokenizer's {name} is {tokenizer_id}: the tokenizer "
                "does not belong to this model (--tokenizer_name)."
            )
    limit = max_positions(config)
    if limit is not None and block_size > limit:
        raise ValueError(
            f"--block_size {block_size} is longer than the model's {limit} positions; lower "
            f"--block_size, or (from scratch) raise them with --config_overrides "
            f"max_position_embeddings={block_size}."
        )


__all__ = ["build_model", "check_model_fits", "load_or_train_tokenizer", "max_positions", "scratch_config"]
