"""Options and parsing shared by every command that trains: `transfuse train|evaluate|predict <task>` and
`transfuse pretrain`.

* `ModelArguments`: where the model and tokenizer come from (a `--preset` built from scratch, or a checkpoint);
* `parse_config_and_flags`: `[CONFIG.yaml|CONFIG.json] [--flag value ...]` into an `HfArgumentParser`'s
  dataclasses, flags overriding the file, an unknown key in the file refused with the closest known option;
* `parse_config_overrides`: the `--config_overrides name=value,...` string.

The task commands add their dataclasses in `transfuse.training.arguments`, pretraining in
`transfuse.pretraining.arguments`.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser

from ..distributed import enable_cpu_process_group
from ..modeling.configuration_transfuse import ARCHITECTURES
from ..modeling.presets import PRESETS
from ..tokenization import KINDS

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


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
    architecture: str | None = field(
        default=None,
        metadata={
            "help": "Shape of a model built from --preset. Default: the task's first architecture "
            "(classification: encoder); transfuse pretrain: encoder.",
            "choices": list(ARCHITECTURES),
        },
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
    base_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "evaluate/predict of an adapter run: load its base model from here, when the base is no "
            "longer where the run recorded it."
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


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} not found.")
    text = path.read_text(encoding="utf-8")
    values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping of option names to values, got {type(values).__name__}.")
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


__all__ = ["CONFIG_SUFFIXES", "ModelArguments", "parse_config_and_flags", "parse_config_overrides", "read_config_file"]
