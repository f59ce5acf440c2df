"""Command-line options of `transfuse train|evaluate|predict <task>` and `scripts/run_<task>.py`.

Six dataclasses go to one `HfArgumentParser`: `ModelArguments` (shared with `transfuse pretrain`,
`transfuse.common.arguments`), `DataArguments` (here), the task's own `arguments_class` (its columns),
`AdapterArguments` (`transfuse.adapters`), `RunArguments` (here: what the workflow does around the Trainer) and
the task's `TrainingArguments` class. They are filled from flags, from a
YAML/JSON file, or from a file plus flags that override it (`transfuse train classification cfg.yaml
--learning_rate 1e-4`). Each dataclass checks its own fields in `__post_init__`; `check_arguments` checks the
combinations across them for one command. Both run before any data or model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import HfArgumentParser, TrainingArguments

from ..adapters import AdapterArguments
from ..adapters.callbacks import check_training_arguments
from ..common.arguments import (
    CONFIG_SUFFIXES,
    ModelArguments,
    parse_config_and_flags,
    parse_config_overrides,
    read_config_file,
)
from ..data.loading import QUOTING_CHOICES, SPLIT_FLAGS, check_file_format
from ..tasks import Task
from .task_settings import INFERENCE_COMMANDS, run_task_defaults

COMMANDS = ("train", "evaluate", "predict")
# batches sorted by length together under --train_sampling_strategy group_by_length: the Trainer's 50 unless a
# config says (the SST-2 configs use 12: benchmarks/README.md, time to quality, session 14)
LENGTH_GROUP_BATCHES = 50

# Inference batches when --per_device_eval_batch_size / --max_tokens_per_batch are not given (settled by
# `trainer.resolve_inference_batches`; benchmarks/README.md, "time to quality"): tasks scored from a forward pass
# batch up to INFERENCE_ROWS rows within INFERENCE_TOKENS padded tokens (8,000 SST-2 rows: 1.1-1.2x faster than
# 32 rows; 384-token QA windows: 10 rows a batch are as fast as 32, in a third of the memory); tasks that generate,
# and several processes (where batches are not length-sorted), GENERATION_ROWS rows (1.13x the Trainer's 8).
INFERENCE_ROWS = 128
INFERENCE_TOKENS = 4096
GENERATION_ROWS = 32

# Friendlier defaults than TrainingArguments' for short runs: log (and plot) the loss every 25 steps.
# (`build_parser` also turns pinned memory on only where there is a GPU to copy to; on CPU it only warns.)
# None means "not given": `bf16` is decided by the hardware when the Trainer is built (training/precision.py),
# the inference batch by the task (above). Length-grouped training batches stay a per-config choice (the shipped
# SST-2 configs use them): where length predicts the label they hurt (a small sentiment set: accuracy 0.6 against
# 0.8+).
TRAINING_DEFAULTS: dict[str, Any] = {
    "logging_steps": 25,
    "per_device_eval_batch_size": None,  # settled by `trainer.resolve_inference_batches`
    "bf16": None,
    "bf16_full_eval": None,  # settled by `precision.resolve_eval_weights` (bf16 weights for evaluate / predict)
}


@dataclass
class DataArguments:
    """Where the examples come from (a Hub dataset or local files) and how long a sequence may be."""

    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub dataset name, e.g. `glue` (needs network or the local cache)."}
    )
    dataset_config: str | None = field(
        default=None,
        metadata={
            "help": "Configuration of --dataset_name, e.g. `sst2`.",
            "aliases": ["--dataset_config_name"],
        },
    )
    train_file: str | None = field(default=None, metadata={"help": "Training data: csv, tsv, json, jsonl or parquet."})
    validation_file: str | None = field(default=None, metadata={"help": "Validation data (same formats)."})
    test_file: str | None = field(
        default=None, metadata={"help": "Rows to predict (same formats); the target column may be absent."}
    )
    train_split_name: str = field(default="train", metadata={"help": "Split of --dataset_name to train on."})
    validation_split_name: str = field(
        default="validation", metadata={"help": "Split of --dataset_name to evaluate on."}
    )
    test_split_name: str = field(default="test", metadata={"help": "Split of --dataset_name to predict."})
    max_seq_length: int = field(default=128, metadata={"help": "Longer inputs are truncated to this many tokens."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N training rows (quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N validation rows (quick runs)."}
    )
    skip_bad_rows: bool = field(
        default=False,
        metadata={
            "help": "Drop rows that do not parse or that the task cannot use (empty text, unseen label, NaN "
            "target), and report how many were dropped and why, instead of stopping."
        },
    )
    encoding: str = field(
        default="utf-8",
        metadata={
            "help": "Text encoding of csv / tsv / json files, e.g. latin-1 or cp1252 (a line that is not "
            "valid in it is reported by number)."
        },
    )
    quoting: str = field(
        default="auto",
        metadata={
            "help": "Quotes in csv / tsv files: `auto` processes them in .csv (standard CSV) and reads .tsv "
            "fields literally; `csv` processes them in both; `none` in neither.",
            "choices": list(QUOTING_CHOICES),
        },
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for tokenizing (datasets.map num_proc)."}
    )
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where datasets are cached (models: the Hugging Face cache, HF_HOME)."}
    )

    def __post_init__(self) -> None:
        files = {
            "--train_file": self.train_file,
            "--validation_file": self.validation_file,
            "--test_file": self.test_file,
        }
        if self.dataset_name and any(files.values()):
            given = " ".join(flag for flag, value in files.items() if value)
            raise ValueError(f"--dataset_name {self.dataset_name!r} and {given} both name the data; pass one source.")
        if self.dataset_config and not self.dataset_name:
            raise ValueError(f"--dataset_config {self.dataset_config!r} needs --dataset_name.")
        if self.quoting not in QUOTING_CHOICES:
            raise ValueError(f"--quoting {self.quoting!r}: choose one of {', '.join(QUOTING_CHOICES)}.")
        for flag in ("max_seq_length", "max_train_samples", "max_eval_samples", "preprocessing_num_workers"):
            value = getattr(self, flag)
            if value is not None and value <= 0:
                raise ValueError(f"--{flag} {value} must be a positive integer.")

    def files(self) -> dict[str, str | None]:
        return {"train": self.train_file, "validation": self.validation_file, "test": self.test_file}

    def split_names(self) -> dict[str, str]:
        return {
            "train": self.train_split_name,
            "validation": self.validation_split_name,
            "test": self.test_split_name,
        }


@dataclass
class RunArguments:
    """What the workflow does around the Trainer: the output folder, evaluation precision, prediction
    output."""

    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Replace a finished run in --output_dir (otherwise the run refuses)."},
    )
    fp32: bool = field(
        default=False,
        metadata={
            "help": "Train, evaluate and predict in float32 even where the hardware has bfloat16 matrix units "
            "(there bf16 autocast is the default: training 1.5x and inference 2-3x faster, the same labels "
            "within a rounding). An explicit --bf16 / --fp16 sets training precision instead."
        },
    )
    output_file: str | None = field(
        default=None,
        metadata={"help": "predict: JSON Lines file to write, one line per input row, in order."},
    )
    overwrite_output_file: bool = field(
        default=False,
        metadata={"help": "predict: replace an existing --output_file (otherwise predict refuses)."},
    )
    sort_by_length: bool = field(
        default=True,
        metadata={
            "help": "Evaluate and predict in batches of similar lengths, longest first (less padding); outputs "
            "stay in input order."
        },
    )
    max_tokens_per_batch: int | None = field(
        default=None,
        metadata={
            "help": "Evaluate and predict in batches of at most this many padded tokens (rows x longest row): "
            "short rows fill big batches, long ones get fewer rows; --per_device_eval_batch_size still caps the "
            f"rows. Default: {INFERENCE_TOKENS} (with up to {INFERENCE_ROWS} rows) for tasks scored from a forward "
            f"pass, none for generation and under several processes (then {GENERATION_ROWS} rows); 0: rows only."
        },
    )

    length_group_batches: int = field(
        default=LENGTH_GROUP_BATCHES,
        metadata={
            "help": "With --train_sampling_strategy group_by_length: how many batches are sorted by length together "
            "(the Trainer's 50); fewer mix lengths more within a batch: a little more padding, rows less alike "
            "(on SST-2, 12 reached a given accuracy in fewer steps)."
        },
    )
    head_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "train: peak learning rate of the newly initialised modules (the task head: those the "
            "checkpoint did not hold) under the same schedule; the pretrained weights keep --learning_rate "
            "(default: --learning_rate for all)."
        },
    )
    layer_lr_decay: float | None = field(
        default=None,
        metadata={
            "help": "train: layer-wise learning-rate decay d in (0, 1]: the pretrained model's top block (and "
            "what follows it, e.g. a pooler) trains at --learning_rate, each block below at d times the one above, "
            "the embeddings at d^blocks; the head keeps --head_learning_rate (or --learning_rate). Default: none."
        },
    )
    freeze_input_embeddings: bool = field(
        default=False,
        metadata={
            "help": "train: keep the pretrained model's word embeddings as they are (for MiniLM, half its "
            "weights): no gradient and no optimizer state for them. Full fine-tuning of a pretrained model only "
            "(an adapter freezes them already)."
        },
    )
    max_train_minutes: float | None = field(
        default=None,
        metadata={
            "help": "train: stop after this many minutes of training (evaluations included) and save the model "
            "as if --max_steps had been reached; the step budget still sets the learning-rate schedule."
        },
    )

    def __post_init__(self) -> None:
        if self.max_train_minutes is not None and self.max_train_minutes <= 0:
            raise ValueError(
                f"--max_train_minutes {self.max_train_minutes} must be a positive number of minutes "
                "(leave it out for no time limit)."
            )
        if self.max_tokens_per_batch is not None and self.max_tokens_per_batch < 0:
            raise ValueError(
                f"--max_tokens_per_batch {self.max_tokens_per_batch} must be a number of tokens, or 0 for batches "
                "of --per_device_eval_batch_size rows whatever their length."
            )
        if self.head_learning_rate is not None and self.head_learning_rate <= 0:
            raise ValueError(
                f"--head_learning_rate {self.head_learning_rate} must be a positive learning rate "
                "(leave it out to train the head at --learning_rate)."
            )
        if self.layer_lr_decay is not None and not 0 < self.layer_lr_decay <= 1:
            raise ValueError(
                f"--layer_lr_decay {self.layer_lr_decay} must be in (0, 1] (0.8 or 0.9 are usual; leave it out for "
                "one learning rate throughout)."
            )
        if self.length_group_batches <= 0:
            raise ValueError(
                f"--length_group_batches {self.length_group_batches} must be a positive number of batches "
                "(1 sorts each batch alone: random batches; the Trainer's own is 50)."
            )


@dataclass
class ParsedArguments:
    """Everything one command was given, one attribute per dataclass, and the task they were parsed for."""

    model: ModelArguments
    data: DataArguments
    task: Any
    adapter: AdapterArguments
    run: RunArguments
    training: TrainingArguments
    task_class: type[Task] | None = None  # the task these options were parsed for


def build_parser(task_class: type[Task]) -> HfArgumentParser:
    parser = HfArgumentParser(
        [
            ModelArguments,
            DataArguments,
            task_class.arguments_class,
            AdapterArguments,
            RunArguments,
            task_class.training_args_class,
        ]
    )
    # without a GPU, run on the CPU explicitly: TrainingArguments refuses `--bf16` / `--bf16_full_eval` otherwise
    accelerator = torch.accelerator.is_available()
    defaults = {**TRAINING_DEFAULTS, "dataloader_pin_memory": torch.cuda.is_available(), "use_cpu": not accelerator}
    parser.set_defaults(**{**defaults, **task_class.training_defaults})  # the task's own defaults win
    return parser


def parse_arguments(task_class: type[Task], argv: list[str], command: str | None = None) -> ParsedArguments:
    """Parse `[CONFIG.yaml|CONFIG.json] [--flag value ...]` for `task_class`; flags override the file.

    For `command` evaluate / predict of a run folder, the task options it was trained with (its columns, lengths)
    are the defaults that the file and the flags override (`task_settings.py`). An unset `--architecture` becomes
    the task's first (`Task.architectures`).
    """
    parser = build_parser(task_class)
    if command in INFERENCE_COMMANDS:
        has_config = bool(argv) and not argv[0].startswith("-") and Path(argv[0]).suffix in CONFIG_SUFFIXES
        known = {action.dest for action in parser._actions}
        config_values = read_config_file(argv[0]) if has_config else {}
        parser.set_defaults(**run_task_defaults(task_class.name, known, list(argv), config_values))
    model, data, task, adapter, run, training = parse_config_and_flags(parser, argv)
    if model.architecture is None:
        model.architecture = task_class.architectures[0]
    return ParsedArguments(
        model=model, data=data, task=task, adapter=adapter, run=run, training=training, task_class=task_class
    )


def check_arguments(args: ParsedArguments, command: str) -> None:
    """The cross-dataclass checks of one command (`train`, `evaluate` or `predict`), naming the flags."""
    if command not in COMMANDS:
        raise ValueError(f"Unknown command {command!r}; choose one of {', '.join(COMMANDS)}.")
    data, model, task_class = args.data, args.model, args.task_class
    for split, path in data.files().items():
        # a task's own formats (SQuAD's nested JSON, CoNLL columns, parallel text) are its reader's business
        if path is not None and not (task_class and task_class.handles_file(path)):
            check_file_format(path, SPLIT_FLAGS[split])
    if task_class is not None:
        if model.architecture not in task_class.architectures:
            raise ValueError(
                f"--architecture {model.architecture} does not suit the {task_class.name} task; choose one of "
                f"{', '.join(task_class.architectures)} (or leave it out for {task_class.architectures[0]})."
            )
        task_class.check_arguments(args, command)
    if command == "train":
        if not (data.train_file or data.dataset_name):
            raise ValueError("transfuse train needs training data: --train_file FILE or --dataset_name NAME.")
        if args.adapter.enabled and model.from_scratch:
            raise ValueError(
                f"--adapter {args.adapter.adapter} trains a small update of pretrained weights, but no "
                "--model_name_or_path is given, so the model would be random; name a pretrained model or use "
                "--adapter none to train the --preset model in full."
            )
        if not args.training.output_dir or args.training.output_dir == "trainer_output":
            raise ValueError("transfuse train needs --output_dir DIR (the model, metrics and model card go there).")
        if model.base_model_name_or_path:
            raise ValueError(
                "--base_model_name_or_path locates the base of a trained adapter run for evaluate/predict; to "
                "train on a base model, pass it as --model_name_or_path."
            )
        if args.training.bf16_full_eval or args.training.fp16_full_eval:
            flag = "--bf16_full_eval" if args.training.bf16_full_eval else "--fp16_full_eval"
            raise ValueError(
                f"{flag} casts the model's weights in place when the run's final evaluation starts, so the saved "
                f"adapter would lose precision; train without it and pass it to transfuse evaluate / predict."
            )
        if args.run.freeze_input_embeddings and (args.adapter.enabled or model.from_scratch):
            why = (
                f"--adapter {args.adapter.adapter} freezes them" if args.adapter.enabled else "a random model has none"
            )
            raise ValueError(f"--freeze_input_embeddings keeps pretrained word embeddings, and {why}; drop the flag.")
        check_training_arguments(args.adapter, args.training)
        return
    if model.from_scratch:
        raise ValueError(
            f"transfuse {command} needs --model_name_or_path: a run folder written by transfuse train, "
            "or a model with a head for the task."
        )
    if args.adapter.enabled:
        raise ValueError(
            f"--adapter is a training option; transfuse {command} reads the adapter from "
            "--model_name_or_path (a run folder holding adapter_config.json)."
        )
    if command == "evaluate" and not (data.validation_file or data.dataset_name):
        raise ValueError("transfuse evaluate needs data: --validation_file FILE or --dataset_name NAME.")
    if command == "predict":
        if not (data.test_file or data.dataset_name):
            raise ValueError("transfuse predict needs rows to predict: --test_file FILE (or --dataset_name NAME).")
        if not args.run.output_file:
            raise ValueError("transfuse predict needs --output_file OUT.jsonl (one JSON line per input row).")


__all__ = [
    "DataArguments",
    "ModelArguments",
    "ParsedArguments",
    "RunArguments",
    "build_parser",
    "check_arguments",
    "parse_arguments",
    "parse_config_overrides",
]
