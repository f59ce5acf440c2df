"""The tokenizer and model of a pretraining run: built from scratch to fit each other, or loaded to continue.

The tokenizer and, from scratch, the config come from the shared builder (`transfuse.common.builder`): a
transfuse preset (`--preset`, default small) or any config (`--config_name`, e.g. GPT-2 or BERT, for
like-for-like comparisons), sized to the tokenizer, with `--config_overrides` applied last. `check_model_fits`
then verifies, before any training, that the tokenizer's ids fit the embedding, that special token ids agree,
and that a block fits the position table: a mismatch would otherwise crash mid-run or, worse, train on silently
wrong ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..common import builder
from ..common.arguments import ModelArguments, parse_config_overrides
from ..modeling import TransfuseConfig
from .arguments import PretrainingArguments
from .objectives import OBJECTIVES

logger = logging.getLogger(__name__)


def load_or_train_tokenizer(
    model_args: ModelArguments, texts: Iterable[str], block_size: int
) -> PreTrainedTokenizerBase:
    """`--tokenizer_name`, else the checkpoint's tokenizer, else a new one trained on `texts`."""
    return builder.load_or_train_tokenizer(model_args, texts, builder.preset_positions(model_args, block_size))


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
        model = auto_class.from_config(scratch_config(model_args, pretraining_args, tokenizer, block_size), **common)
        logger.info("built %s from scratch: %s parameters", type(model).__name__, f"{model.num_parameters():,}")
    else:
        model = auto_class.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision, **common)
    check_model_fits(model, tokenizer, block_size, model_args.architecture)
    return model


def scratch_config(
    model_args: ModelArguments,
    pretraining_args: PretrainingArguments,
    tokenizer: PreTrainedTokenizerBase,
    block_size: int,
) -> PretrainedConfig:
    """Config of a new model: preset or `--config_name`, sized to the tokenizer, then the overrides; a new
    transfuse encoder projects only the masked tokens onto the vocabulary (`sparse_prediction`)."""
    config = builder.scratch_config(model_args, tokenizer, block_size, config_name=pretraining_args.config_name)
    if isinstance(config, TransfuseConfig) and "sparse_prediction" not in parse_config_overrides(
        model_args.config_overrides
    ):
        config.sparse_prediction = True  # masked LM: the vocabulary projection sees only the masked tokens
    return config


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
    for name in builder.SPECIAL_ID_FIELDS:
        model_id, tokenizer_id = getattr(config, name, None), getattr(tokenizer, name)
        if model_id is not None and tokenizer_id is not None and model_id != tokenizer_id:
            raise ValueError(
                f"config.{name}={model_id} but the tokenizer's {name} is {tokenizer_id}: the tokenizer "
                "does not belong to this model (--tokenizer_name)."
            )
    builder.check_positions(config, block_size, "--block_size")


__all__ = ["build_model", "check_model_fits", "load_or_train_tokenizer", "scratch_config"]
