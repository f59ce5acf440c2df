"""Command-line options of `transfuse pretrain` and `scripts/run_pretraining.py`, and their parser.

Four dataclasses go to one `HfArgumentParser`, filled from flags, a YAML/JSON file, or a file plus flags that
override it (`transfuse pretrain configs/pretraining/small_decoder.yaml --max_steps 100`):

* `ModelArguments` (shared with the task commands, `transfuse.common.arguments`): the architecture (default
  encoder), a preset or a checkpoint to continue, config overrides, and the tokenizer (`--tokenizer_name`, or
  one trained on the training text with `--tokenizer_kind` / `--vocab_size`);
* `PretrainingArguments` (here): the objective's noise settings, `--config_name` (any config, e.g. GPT-2 or
  BERT, built from scratch through the same pipeline), a wall-clock budget, the output-folder guard;
* `CorpusArguments` (here): the training and validation text and how it is packed (`--block_size`); its base
  `TextSourceArguments` is also what `transfuse tokenizer train` reads its text with;
* `TrainingArguments` (transformers): steps, batch size, learning rate, `--bf16`, `--resume_from_checkpoint`.

Each dataclass checks its own fields in `__post_init__`; `check_pretraining_arguments` checks combinations
across them. Both run before any text or model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import HfArgumentParser, TrainingArguments

from ..common.arguments import ModelArguments, parse_config_and_flags
from ..tokenization import ENCODING_ERRORS

DEFAULT_ARCHITECTURE = "encoder"  # --architecture's default here (for a task it is the task's first)
# Friendlier defaults than TrainingArguments' for pretraining from scratch on a CPU.
TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-4,
    "warmup_steps": 100,
    "weight_decay": 0.01,
    "logging_steps": 25,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 16,
    "save_total_limit": 2,
    "dataloader_pin_memory": False,
}


@dataclass
class TextSourceArguments:
    """Where the training text comes from: `--train_files`, or `--dataset_name` (Hub name or local path)."""

    train_files: list[str] | None = field(
        default=None,
        metadata={
            "help": "UTF-8 text files to train on, folders (their files) or glob patterns ('dir/*.txt'); "
            "each file is one document (blank lines are dropped)."
        },
    )
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Instead of --train_files: a Hub dataset name, or a local path (a folder written by "
            "`Dataset.save_to_disk`, or a folder/file that `datasets.load_dataset` reads)."
        },
    )
    dataset_config: str | None = field(
        default=None,
        metadata={"help": "Configuration of --dataset_name.", "aliases": ["--dataset_config_name"]},
    )
    text_column: str = field(default="text", metadata={"help": "Column of --dataset_name that holds the text."})
    train_split_name: str = field(default="train", metadata={"help": "Split of --dataset_name to train on."})
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read, tokenize and pack the text lazily instead of caching it first, for corpora that "
            "do not fit in memory (pretraining then needs --max_steps)."
        },
    )
    encoding_errors: str = field(
        default="strict",
        metadata={
            "help": "What to do with bytes of text files that are not UTF-8: 'strict' stops with the file "
            "and byte offset, 'replace' substitutes U+FFFD.",
            "choices": list(ENCODING_ERRORS),
        },
    )

    def __post_init__(self) -> None:
        if (self.train_files is None) == (self.dataset_name is None):
            raise ValueError("Give the training text with exactly one of --train_files FILE... and --dataset_name.")
        if self.train_files is not None and not self.train_files:
            raise ValueError("--train_files needs at least one file.")
        if self.encoding_errors not in ENCODING_ERRORS:
            raise ValueError(f"--encoding_errors {self.encoding_errors!r}: choose one of {ENCODING_ERRORS}.")
        if self.dataset_config and not self.dataset_name:
            raise ValueError(f"--dataset_config {self.dataset_config!r} needs --dataset_name.")


@dataclass
class CorpusArguments(TextSourceArguments):
    """The training source, the validation text and how texts become fixed-length blocks."""

    validation_files: list[str] | None = field(
        default=None,
        metadata={"help": "UTF-8 text files (folders, glob patterns) for the validation loss and perplexity."},
    )
    validation_split_name: str | None = field(
        default=None,
        metadata={
            "help": "Split of --dataset_name for validation (e.g. `validation`). Without it and without "
            "--validation_files the run reports no validation loss."
        },
    )
    block_size: int = field(
        default=512,
        metadata={
            "help": "Tokens per training block. Documents are concatenated, each closed by the eos token, "
            "and cut into blocks that each open with the bos token: no padding, no token dropped."
        },
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for tokenizing (map-style corpora)."}
    )
    shuffle_buffer_size: int = field(
        default=10_000, metadata={"help": "With --streaming: blocks held in the shuffle buffer."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.validation_split_name is not None and self.dataset_name is None:
            raise ValueError(
                "--validation_split_name picks a split of --dataset_name; with --train_files give "
                "--validation_files instead."
            )
        if self.validation_files is not None and self.validation_split_name is not None:
            raise ValueError("Give validation text with one of --validation_files and --validation_split_name.")
        if self.block_size < 8:
            raise ValueError(
                f"--block_size {self.block_size} is too small; use at least 8 tokens (typical: 128-1024)."
            )
        for flag in ("preprocessing_num_workers", "shuffle_buffer_size"):
            value = getattr(self, flag)
            if value is not None and value < 1:
                raise ValueError(f"--{flag} must be a positive integer, got {value}.")


@dataclass
class PretrainingArguments:
    """The objective's settings and what the run does around the Trainer."""

    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Build the model from scratch from this config (folder or Hub name) instead of --preset: "
            "any model with the head of the objective, e.g. a GPT-2 or BERT config. Its vocabulary "
            "size and special token ids are taken from the tokenizer."
        },
    )
    mlm_probability: float = field(
        default=0.15, metadata={"help": "encoder (masked LM): share of tokens selected for prediction."}
    )
    mask_replace_prob: float = field(
        default=0.8, metadata={"help": "encoder: share of the selected tokens replaced by <mask>."}
    )
    random_replace_prob: float = field(
        default=0.1,
        metadata={
            "help": "encoder: share of the selected tokens replaced by a random token (the rest stay as they are)."
        },
    )
    noise_density: float = field(
        default=0.3, metadata={"help": "encoder-decoder (text infilling): share of tokens hidden in spans."}
    )
    mean_noise_span_length: float = field(
        default=3.0,
        metadata={"help": "encoder-decoder: mean length in tokens of a hidden span (one <mask> each)."},
    )
    max_train_minutes: float | None = field(
        default=None,
        metadata={"help": "Stop training after this much wall-clock time (then save and evaluate)."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Replace a finished run in --output_dir (otherwise the run refuses)."},
    )

    def __post_init__(self) -> None:
        for flag in ("mlm_probability", "mask_replace_prob", "random_replace_prob"):
            if not 0.0 <= getattr(self, flag) <= 1.0:
                raise ValueError(f"--{flag} must lie in [0, 1], got {getattr(self, flag)}.")
        if self.mask_replace_prob + self.random_replace_prob > 1.0:
            raise ValueError(
                f"--mask_replace_prob + --random_replace_prob must not exceed 1, got "
                f"{self.mask_replace_prob} + {self.random_replace_prob}."
            )
        if not 0.0 < self.noise_density < 1.0:
            raise ValueError(f"--noise_density must lie in (0, 1), got {self.noise_density}.")
        if self.mean_noise_span_length < 1.0:
            raise ValueError(f"--mean_noise_span_length must be at least 1 token, got {self.mean_noise_span_length}.")
        if self.max_train_minutes is not None and self.max_train_minutes <= 0:
            raise ValueError(f"--max_train_minutes must be positive, got {self.max_train_minutes}.")


def check_pretraining_arguments(
    model: ModelArguments,
    pretraining: PretrainingArguments,
    corpus: CorpusArguments,
    training: TrainingArguments,
) -> None:
    """The checks across dataclasses, naming the flags; an unset `--architecture` becomes the encoder."""
    if model.architecture is None:
        model.architecture = DEFAULT_ARCHITECTURE
    if pretraining.config_name and not model.from_scratch:
        raise ValueError(
            f"--config_name builds a new model but --model_name_or_path {model.model_name_or_path!r} "
            "loads one; pass only one of the two."
        )
    if pretraining.config_name and model.preset:
        raise ValueError(
            f"--config_name {pretraining.config_name!r} and --preset {model.preset} both describe the "
            "model to build; pass only one of the two."
        )
    if corpus.streaming and training.max_steps <= 0:
        raise ValueError("--streaming reads the corpus lazily, so the length of an epoch is unknown; set --max_steps.")
    if not training.output_dir or training.output_dir == "trainer_output":
        raise ValueError("transfuse pretrain needs --output_dir DIR (model, tokenizer, metrics and card go there).")


@dataclass
class PretrainingRun:
    """Everything one `transfuse pretrain` was given, one attribute per dataclass."""

    model: ModelArguments
    pretraining: PretrainingArguments
    corpus: CorpusArguments
    training: TrainingArguments


def build_parser() -> HfArgumentParser:
    parser = HfArgumentParser(
        [ModelArguments, PretrainingArguments, CorpusArguments, TrainingArguments], prog="transfuse pretrain"
    )
    # without a GPU, train on the CPU explicitly: TrainingArguments refuses `--bf16` otherwise
    parser.set_defaults(**TRAINING_DEFAULTS, use_cpu=not torch.accelerator.is_available())
    return parser


def parse_pretraining_arguments(argv: list[str]) -> PretrainingRun:
    """Parse `[CONFIG.yaml|CONFIG.json] [--flag value ...]`; flags override the file; cross-checks last."""
    run = PretrainingRun(*parse_config_and_flags(build_parser(), argv))
    check_pretraining_arguments(run.model, run.pretraining, run.corpus, run.training)
    return run


__all__ = [
    "CorpusArguments",
    "PretrainingArguments",
    "PretrainingRun",
    "TextSourceArguments",
    "build_parser",
    "check_pretraining_arguments",
    "parse_pretraining_arguments",
]
