"""Command-line options of `transfuse train|evaluate|predict <task>` and `scripts/run_<task>.py`.

Six dataclasses go to one `HfArgumentParser`: `ModelArguments` and `DataArguments` (here), the task's own
`arguments_class` (its columns), `AdapterArguments` (`transfuse.adapters`), `RunArguments` (here: what the
workflow does around the Trainer) and the task's `TrainingArguments` class. They are filled from flags, from a
YAML/JSON file, or from a file plus flags that override it (`transfuse train classification cfg.yaml
--learning_rate 1e-4`). Each dataclass checks its own fields in `__post_init__`; `check_arguments` checks the
combinations across them for one command. Both run before any data or model is loaded.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import HfArgumentParser, TrainingArguments

from ..adapters import AdapterArguments
from ..adapters.callbacks import check_training_arguments
from ..data.loading import SPLIT_FLAGS, check_file_format
from ..distributed import enable_cpu_process_group
from ..modeling.configuration_transfuse import ARCHITECTURES
from ..modeling.presets import PRESETS
from ..tasks import Task
from ..tokenization import KINDS

COMMANDS = ("train", "evaluate", "predict")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
# Friendlier defaults than TrainingArguments' for short runs: log (and plot) the loss every 25 steps, and pin
# memory only where there is a GPU to copy to (on CPU it only warns).
TRAINING_DEFAULTS: dict[str, Any] = {"logging_steps": 25}


@dataclass
class ModelArguments:
    """Where the model and tokenizer come from: a preset trained from scratch, or a checkpoint / Hub model."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A transfuse run folder or checkpoint, a local Hugging Face model folder or a Hub model "
            "id with a head for the task (e.g. a BERT). Unset: build --preset from scratch."
        },
    )
    preset: str | None = field(
        default=None,
        metadata={
            "help": f"Size of a transfuse model trained from scratch: {', '.join(PRESETS)} (default small). "
            "Only without --model_name_or_path.",
            "choices": list(PRESETS),
        },
    )
    architecture: str = field(
        default="encoder",
        metadata={"help": "Shape of a model built from --preset.", "choices": list(ARCHITECTURES)},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated config fields to override, e.g. `hidden_size=128,num_hidden_layers=2` "
            "(preset) or `hidden_dropout_prob=0.2` (checkpoint)."
        },
    )
    tokenizer_name: str | None = field(
        default=None,
        metadata={
            "help": "Tokenizer folder or Hub id. Default: the model's own; for --preset, a new tokenizer "
            "trained on the training texts."
        },
    )
    tokenizer_kind: str = field(
        default="bpe",
        metadata={"help": "Kind of tokenizer trained for --preset.", "choices": list(KINDS)},
    )
    vocab_size: int | None = field(
        default=None,
        metadata={
            "help": "Vocabulary size of the tokenizer trained for --preset (default: the preset's, at least 512)."
        },
    )
    model_revision: str = field(default="main", metadata={"help": "Hub branch, tag or commit of the model."})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow a Hub model to run its own modeling code (read it first)."}
    )
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={
            "help": "Re-initialise head weights whose shape differs from the checkpoint's (e.g. a classifier "
            "trained with another number of labels)."
        },
    )

    def __post_init__(self) -> None:
        if self.model_name_or_path and self.preset:
            raise ValueError(
                f"--preset {self.preset} builds a new model but --model_name_or_path "
                f"{self.model_name_or_path!r} loads one; pass only one of the two."
            )
        if self.vocab_size is not None and self.vocab_size <= 0:
            raise ValueError(f"--vocab_size {self.vocab_size} must be positive.")
        parse_config_overrides(self.config_overrides)  # fail at parse time on a malformed string

    @property
    def from_scratch(self) -> bool:
        return self.model_name_or_path is None


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
    train_file: str | None = field(
        default=None, metadata={"help": "Training data: csv, tsv, json, jsonl or parquet."}
    )
    validation_file: str | None = field(default=None, metadata={"help": "Validation data (same formats)."})
    test_file: str | None = field(
        default=None, metadata={"help": "Rows to predict (same formats); the target column may be absent."}
    )
    train_split_name: str = field(default="train", metadata={"help": "Split of --dataset_name to train on."})
    validation_split_name: str = field(
        default="validation", metadata={"help": "Split of --dataset_name to evaluate on."}
    )
    test_split_name: str = field(default="test", metadata={"help": "Split of --dataset_name to predict."})
    max_seq_length: int = field(
        default=128, metadata={"help": "Longer inputs are truncated to this many tokens."}
    )
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
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for tokenizing (datasets.map num_proc)."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where datasets and models are cached."})

    def __post_init__(self) -> None:
        files = {
            "--train_file": self.train_file,
            "--validation_file": self.validation_file,
            "--test_file": self.test_file,
        }
        if self.dataset_name and any(files.values()):
            given = " ".join(flag for flag, value in files.items() if value)
            raise ValueError(
                f"--dataset_name {self.dataset_name!r} and {given} both name the data; pass one source."
            )
        if self.dataset_config and not self.dataset_name:
            raise ValueError(f"--dataset_config {self.dataset_config!r} needs --dataset_name.")
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
            "help": "Evaluate and predict in float32 even where the CPU has bfloat16 matrix units (there "
            "bf16 autocast is the default: about 2-3x faster, same labels within a rounding)."
        },
    )
    output_file: str | None = field(
        default=None,
        metadata={"help": "predict: JSON Lines file to write, one line per input row, in order."},
    )


@dataclass
class ParsedArguments:
    """Everything one command was given, one attribute per dataclass."""

    model: ModelArguments
    data: DataArguments
    task: Any
    adapter: AdapterArguments
    run: RunArguments
    training: TrainingArguments
    task_class: type[Task] | None = None  # the task these options were parsed for


def parse_config_overrides(text: str | None) -> dict[str, Any]:
    """`"hidden_size=128,pre_norm=true"` -> `{"hidden_size": 128, "pre_norm": True}` (values read as JSON)."""
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"--config_overrides item {item!r} is not `name=value`; e.g. "
                "--config_overrides hidden_size=128,num_hidden_layers=2"
            )
        try:
            overrides[key.strip()] = json.loads(raw.strip())
        except json.JSONDecodeError:
            overrides[key.strip()] = raw.strip()
    return overrides


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
    defaults = {**TRAINING_DEFAULTS, "dataloader_pin_memory": torch.cuda.is_available()}
    parser.set_defaults(**{**defaults, **task_class.training_defaults})  # the task's own defaults win
    return parser


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} not found.")
    text = path.read_text(encoding="utf-8")
    values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(values, dict):
        raise ValueError(
            f"{path} must hold a mapping of option names to values, got {type(values).__name__}."
        )
    return values


def parse_config_and_flags(parser: HfArgumentParser, argv: list[str]) -> tuple:
    """Parse `[CONFIG.yaml|CONFIG.json] [--flag value ...]` into the parser's dataclasses; flags override the file,
    and an unknown key in the file is refused with the closest known option."""
    # before TrainingArguments sets up its devices: DDP over gloo on CPU-only machines
    enable_cpu_process_group()
    argv = list(argv)
    if argv and not argv[0].startswith("-") and Path(argv[0]).suffix in CONFIG_SUFFIXES:
        values = read_config_file(argv.pop(0))
        known = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - known)
        if unknown:
            hints = [
                f"{key!r} (did you mean {close[0]!r}?)"
                if (close := difflib.get_close_matches(key, known, 1))
                else repr(key)
                for key in unknown
            ]
            raise ValueError(f"Unknown option(s) in the config file: {', '.join(hints)}.")
        parser.set_defaults(**values)
    return tuple(parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False))


def parse_arguments(task_class: type[Task], argv: list[str]) -> ParsedArguments:
    """Parse `[CONFIG.yaml|CONFIG.json] [--flag value ...]` for `task_class`; flags override the file."""
    model, data, task, adapter, run, training = parse_config_and_flags(build_parser(task_class), argv)
    return ParsedArguments(
        model=model, data=data, task=task, adapter=adapter, run=run, training=training, task_class=task_class
    )


def check_arguments(args: ParsedArguments, command: str) -> None:
    """The cross-dataclass checks of one command (`train`, `evaluate` or `predict`), naming the flags."""
    if command not in COMMANDS:
        raise ValueError(f"Unknown command {command!r}; choose one of {', '.join(COMMANDS)}.")
    data, model = args.data, args.model
    for split, path in data.files().items():
        # a task's own formats (SQuAD's nested JSON, CoNLL columns, parallel text) are its reader's business
        if path is not None and not (args.task_class and args.task_class.handles_file(path)):
            check_file_format(path, SPLIT_FLAGS[split])
    if args.task_class is not None:
        args.task_class.check_arguments(args, command)
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
            raise ValueError(
                "transfuse train needs --output_dir DIR (the model, metrics and model card go there)."
            )
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
            raise ValueError(
                "transfuse predict needs rows to predict: --test_file FILE (or --dataset_name NAME)."
            )
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
