"""`transfuse train|evaluate|predict <task> --help` (and `transfuse tasks`): short, grouped, and fast.

The options come from the same parser the command uses (`training.arguments.build_parser`), so the help cannot
drift from what is accepted. They are shown in groups, in the order a user thinks of them (task, model, data,
adapter, output, training), each default once; `evaluate` and `predict` show only the options that change what
they do. Of `TrainingArguments`' hundred-odd options the common ones get a line each; the rest are named in one
paragraph (their meaning is transformers' own).

Rendering needs the task module and `transformers.TrainingArguments`, which import torch, peft and bitsandbytes
(several seconds). The rendered text is therefore kept in a cache file (`$TRANSFUSE_CACHE`, else
`$XDG_CACHE_HOME/transfuse` or `~/.cache/transfuse`), keyed by the sources of transfuse and the versions of the
libraries it reads from, so every later `--help` costs one file read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import textwrap
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

WIDTH = 100
OPTION_COLUMN = 34
PACKAGE_DIR = Path(__file__).resolve().parents[1]
KEY_LIBRARIES = ("transformers", "peft", "datasets", "torch")

# Options that change nothing in evaluate / predict (they read a trained model); train hides test-only options.
# what only building a model from scratch, or only training, reads
_BUILD_AND_TRAIN = {"preset", "architecture", "config_overrides", "tokenizer_kind", "vocab_size"}
_BUILD_AND_TRAIN |= {"ignore_mismatched_sizes", "train_file", "train_split_name", "max_train_samples"}
NOT_FOR: dict[str, set[str]] = {
    "train": {"test_file", "test_split_name", "output_file"},
    "evaluate": _BUILD_AND_TRAIN | {"test_file", "test_split_name", "overwrite_output_dir", "output_file"},
    "predict": _BUILD_AND_TRAIN
    | {"validation_file", "validation_split_name", "max_eval_samples", "overwrite_output_dir"},
}
# TrainingArguments options that get a line of their own, per command; the others are listed by name (train) or
# not at all (evaluate, predict). Options a task's own TrainingArguments subclass adds always get a line.
COMMON_TRAINING: dict[str, tuple[str, ...]] = {
    "train": (
        "output_dir",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "learning_rate",
        "lr_scheduler_type",
        "warmup_steps",
        "weight_decay",
        "max_grad_norm",
        "optim",
        "eval_strategy",
        "eval_steps",
        "save_strategy",
        "save_steps",
        "save_total_limit",
        "load_best_model_at_end",
        "metric_for_best_model",
        "logging_steps",
        "seed",
        "bf16",
        "fp16",
        "activation_checkpointing",
        "torch_compile",
        "dataloader_num_workers",
        "use_cpu",
        "report_to",
        "resume_from_checkpoint",
        "push_to_hub",
        "hub_model_id",
    ),
    "evaluate": (
        "output_dir",
        "per_device_eval_batch_size",
        "eval_accumulation_steps",
        "dataloader_num_workers",
        "use_cpu",
    ),
    "predict": ("per_device_eval_batch_size", "eval_accumulation_steps", "dataloader_num_workers", "use_cpu"),
}
HELP_OVERRIDES: dict[tuple[str, str], str] = {
    ("train", "output_dir"): "Run folder: model, tokenizer, checkpoints, metrics.json, model card (required).",
    ("train", "resume_from_checkpoint"): "`auto`: continue from the newest complete checkpoint in --output_dir "
    "(what a Ctrl-C'd or killed run prints); or a checkpoint folder.",
    ("train", "learning_rate"): "Peak learning rate. Default: 5e-5 for a pretrained model; for a model built "
    "from scratch (--preset) transfuse uses a higher one (see the run's first log lines).",
    ("train", "max_steps"): "Optimizer steps to train; overrides --num_train_epochs. The shipped configs "
    "(configs/<task>/) set a budget.",
    ("evaluate", "output_dir"): "Folder to write metrics.json in (optional; nothing is written without it).",
}
_EVAL_ROWS = "Rows per evaluation / prediction batch, at most. Default: by the task (see --max_tokens_per_batch)."
HELP_OVERRIDES.update({(command, "per_device_eval_batch_size"): _EVAL_ROWS for command in COMMON_TRAINING})
GROUPS = (
    ("task", "options of the task"),
    ("model", "model: what to fine-tune (a pretrained model, a run folder, or a preset built from scratch)"),
    ("data", "data"),
    ("adapter", "adapter (parameter-efficient fine-tuning) and quantization"),
    ("run", "output and precision"),
    ("training", "training (transformers.TrainingArguments)"),
)
INFERENCE_TITLES = {
    "model": "model: the trained model (a run folder, or any model with a head for the task)",
    "training": "evaluation loop (transformers.TrainingArguments)",
}
USAGE = "usage: {program} [CONFIG.yaml|CONFIG.json] [--option value ...]"
INTRO = {
    "train": "Fine-tune a model for {task} and write its run folder.",
    "evaluate": "Score a trained {task} model on validation data.",
    "predict": "Predict a file with a trained {task} model: one output line per input row, in order.",
}


# ---- cache ----------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    if os.environ.get("TRANSFUSE_CACHE"):
        return Path(os.environ["TRANSFUSE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "transfuse"


def _signature(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(PACKAGE_DIR)}:{stat.st_mtime_ns}:{stat.st_size}\0".encode())
    for library in KEY_LIBRARIES:
        try:
            digest.update(f"{library}={metadata.version(library)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library}=-\0".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:24]


def cached_text(parts: Iterable[str], render: Callable[[], str]) -> str:
    """`render()`, or its earlier result for the same `parts` and the same transfuse sources and libraries."""
    path = cache_dir() / "help" / f"{_signature(parts)}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = render()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:  # a read-only home: help still works, only slower next time
        pass
    return text


# ---- rendering ------------------------------------------------------------------------------------------------


def _metavar(field: dataclasses.Field, action: Any) -> str:
    if action.choices:
        listed = "{" + ",".join(str(choice) for choice in action.choices) + "}"
        return listed if len(listed) <= WIDTH - OPTION_COLUMN else "NAME"  # long lists: the help names them
    annotation = str(field.type)
    if "bool" in annotation:
        return "{true,false}"
    many = action.nargs in ("+", "*")
    if "int" in annotation and "float" not in annotation:
        word = "N"
    elif "float" in annotation:
        word = "X"
    elif any(part in field.name for part in ("file", "dir", "path")):
        word = "PATH"
    else:
        word = "VALUE"
    return f"{word} [{word} ...]" if many else word


def _show_default(value: Any) -> str | None:
    value = getattr(value, "value", value)  # enums (IntervalStrategy.STEPS -> steps)
    if value is None or value is False or value == "" or value == [] or isinstance(value, dataclasses._MISSING_TYPE):
        return None
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _option_lines(field: dataclasses.Field, action: Any, default: Any, help_text: str) -> list[str]:
    head = f"  --{field.name} {_metavar(field, action)}"
    help_text = " ".join(help_text.replace("%%", "%").split())
    shown = _show_default(default)
    if shown is not None and "default" not in help_text.lower():
        help_text += f" (default: {shown})"
    indent = " " * OPTION_COLUMN
    if len(head) + 2 > OPTION_COLUMN:
        return [head, *textwrap.wrap(help_text, WIDTH, initial_indent=indent, subsequent_indent=indent)]
    wrapped = textwrap.wrap(help_text, WIDTH - OPTION_COLUMN) or [""]
    return [f"{head:<{OPTION_COLUMN}}{wrapped[0]}", *(indent + line for line in wrapped[1:])]


def render_task_help(command: str, task_name: str, program: str) -> str:
    """The help of `program` (e.g. `transfuse train classification`): see the module docstring."""
    from transformers import TrainingArguments

    from ..adapters import AdapterArguments
    from ..tasks import get_task_class
    from ..training import arguments

    task_class = get_task_class(task_name)
    parser = arguments.build_parser(task_class)
    actions = {action.dest: action for action in parser._actions}
    base_training = {field.name for field in dataclasses.fields(TrainingArguments)}
    classes = {
        "task": task_class.arguments_class,
        "model": arguments.ModelArguments,
        "data": arguments.DataArguments,
        "adapter": AdapterArguments,
        "run": arguments.RunArguments,
        "training": task_class.training_args_class,
    }
    hidden = NOT_FOR[command] | ({"adapter"} if command != "train" else set())
    common = COMMON_TRAINING[command]
    lines = [
        USAGE.format(program=program),
        "",
        INTRO[command].format(task=task_name),
        "A config file sets options by their names; flags after it override it.",
        "",
    ]
    others: list[str] = []
    for group, title in GROUPS:
        if group in hidden:
            continue
        fields = [field for field in dataclasses.fields(classes[group]) if field.init and field.name in actions]
        if group == "training":
            extra = [field for field in fields if field.name not in base_training]
            by_name = {field.name: field for field in fields}
            others = sorted(name for name in by_name if name not in common and field_is_public(by_name[name]))
            fields = [by_name[name] for name in common if name in by_name] + extra
        fields = [field for field in fields if field.name not in NOT_FOR[command]]
        if not fields:
            continue
        title = INFERENCE_TITLES.get(group, title) if command != "train" else title
        lines.append(f"{title}:")
        for field in fields:
            default = task_class.training_defaults.get(field.name, parser.get_default(field.name))
            help_text = HELP_OVERRIDES.get((command, field.name), field.metadata.get("help", ""))
            lines += _option_lines(field, actions[field.name], default, help_text)
        lines.append("")
    if command == "train" and others:
        lines += textwrap.wrap(
            "Every other transformers.TrainingArguments option is accepted too, with transformers' meaning "
            "and default: " + " ".join(f"--{name}" for name in others if name not in NOT_FOR[command]),
            WIDTH,
        )
        lines.append("")
    return "\n".join(lines)


def field_is_public(field: dataclasses.Field) -> bool:
    help_text = field.metadata.get("help", "").lower()
    return not field.name.startswith("_") and "deprecated" not in help_text


def task_help(command: str, task_name: str, program: str) -> str:
    return cached_text(
        ("task-help", command, task_name, program), lambda: render_task_help(command, task_name, program)
    )


# ---- `transfuse tasks` ------------------------------------------------------------------------------------------


def shipped_configs(task_name: str) -> list[str]:
    """`configs/<task>/*.yaml` of a source checkout (relative paths), else nothing."""
    folder = PACKAGE_DIR.parents[1] / "configs" / task_name
    if not folder.is_dir():
        return []
    return sorted(str(path.relative_to(PACKAGE_DIR.parents[1])) for path in folder.glob("*.y*ml"))


def render_tasks() -> str:
    from ..tasks import TASKS, get_task_class

    lines = ["tasks (transfuse train|evaluate|predict <task>):"]
    for name in sorted(TASKS):
        task_class = get_task_class(name)
        lines.append(f"  {name:<20} pipeline: {task_class.pipeline_tag}")
        configs = shipped_configs(name)
        lines += [f"  {'':<20} config:   {config}" for config in configs]
    return "\n".join(lines)


def tasks_text() -> str:
    configs = [str(path) for path in sorted((PACKAGE_DIR.parents[1] / "configs").glob("*/*.y*ml"))]
    return cached_text(("tasks", *configs), render_tasks)


def task_names() -> list[str]:
    """The registered task names, without importing any task (the registry module imports the task base)."""
    return cached_text(("task-names",), lambda: "\n".join(sorted(_registry()))).split()


def _registry() -> dict[str, str]:
    from ..tasks import TASKS

    return TASKS


__all__ = ["cached_text", "render_task_help", "task_help", "task_names", "tasks_text"]
