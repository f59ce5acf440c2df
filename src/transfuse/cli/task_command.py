"""What `transfuse train|evaluate|predict <task> [CONFIG.yaml] [--flag value ...]` and the launch scripts share.

The sub-command modules (`train.py`, `evaluate.py`, `predict.py`) are one line each over `run_task_command`:
look up the task, parse its arguments (flags, a YAML/JSON file, or both), run the workflow, print a summary.
Errors are not handled here: `transfuse.cli.errors.run_command`, the one boundary every command runs inside,
turns a user error into one line and exit code 2.

`script_main(task)` is the whole body of a launch script `scripts/run_<task>.py` (what `accelerate launch` and
`torchrun` start); a new task's script is these lines and nothing else:

    import sys

    from transfuse.cli.task_command import script_main

    if __name__ == "__main__":
        sys.exit(script_main("question-answering"))

It takes an optional first word `train|evaluate|predict` (default `train`), then exactly the options of
`transfuse <command> <task>`, and runs the same workflow inside the same error boundary, so a run started from
the script and one started from the CLI are the same run.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .console import configure_console
from .errors import on_interrupt, resume_hint, run_command

USAGE = """usage: {program} <task> [CONFIG.yaml|CONFIG.json] [--option value ...]

tasks: {tasks}

A config file sets options by name (the same names as the flags); flags after it override it.
Run `{program} <task> --help` for the options of a task."""
SPEED_KEYS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")
COMMANDS = ("train", "evaluate", "predict")
# The Trainer's default learning rate (5e-5) suits fine-tuning pretrained weights; a model built from scratch barely
# moves at it. Measured on a `small` preset, 150 steps of batch 8 on 4,000 SST-2 rows, seed 42, SST-2 validation
# accuracy: 5e-5 -> 0.509 (chance), 5e-4 -> 0.640, 1e-3 -> 0.522 (unstable without warm-up).
FROM_SCRATCH_LEARNING_RATE = 5e-4


def explicit_options(rest: list[str]) -> set[str]:
    """Option names the user set, by flag or in the config file that may start `rest`."""
    from ..common.arguments import CONFIG_SUFFIXES, read_config_file

    names = {word[2:].split("=", 1)[0] for word in rest if word.startswith("--")}
    if rest and not rest[0].startswith("-") and Path(rest[0]).suffix in CONFIG_SUFFIXES:
        names |= set(read_config_file(rest[0]))
    return names


def apply_model_source_defaults(args: Any, rest: list[str]) -> None:
    """Defaults that depend on where the model comes from: a from-scratch model trains at
    `FROM_SCRATCH_LEARNING_RATE` unless --learning_rate is given."""
    if args.model.from_scratch and "learning_rate" not in explicit_options(rest):
        args.training.learning_rate = FROM_SCRATCH_LEARNING_RATE  # the run's first log line states it


def run_task_command(
    command: str, argv: list[str], summarize: Callable[[Any], str], program: str = "transfuse"
) -> int:
    """Run `command` (train, evaluate or predict) on `argv` = `[task, CONFIG?, --flags...]`; returns the exit
    code and raises on errors (the caller runs it inside `errors.run_command`).

    `program` is how the command line is recorded in the run folder: `transfuse` for the CLI, the script's
    path for `scripts/run_<task>.py`.
    """
    from .help import task_help, task_names

    shown = f"transfuse {command}" if program == "transfuse" else f"python {program} {command}"
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.format(program=shown, tasks=", ".join(task_names())))
        return 0
    task_name, rest = argv[0], argv[1:]
    if "-h" in rest or "--help" in rest:
        print(task_help(command, task_name, shown if program != "transfuse" else f"{shown} {task_name}"))
        return 0
    from ..lazy_imports import defer_optional_imports

    defer_optional_imports()  # before the imports below pull in bitsandbytes through peft (lazy_imports.py)
    from ..distributed import is_main_process
    from ..tasks import get_task_class
    from ..training import arguments, workflow

    task_class = get_task_class(task_name)
    args = arguments.parse_arguments(task_class, rest, command)
    arguments.check_arguments(args, command)
    words = ["transfuse", command, task_name] if program == "transfuse" else ["python", program, command]
    if command == "train":
        apply_model_source_defaults(args, rest)
        on_interrupt(lambda: resume_hint(args.training.output_dir, [*words, *rest]))
    result = getattr(workflow, command)(task_name, args, shlex.join([*words, *rest]))
    if is_main_process():  # under `accelerate launch` every rank gets here; one summary is enough
        print(summarize(result))
    return 0


def script_main(task_name: str, argv: list[str] | None = None) -> int:
    """The body of `scripts/run_<task>.py`: `[train|evaluate|predict] [CONFIG] [--flags]` for `task_name`."""
    from . import evaluate, predict, train

    summaries = {"train": train.summarize, "evaluate": evaluate.summarize, "predict": predict.summarize}
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in summaries else "train"
    script = os.path.relpath(sys.argv[0]) if sys.argv and sys.argv[0] else f"run_{task_name}.py"
    configure_console()
    return run_command(
        f"{os.path.basename(script)} {command}",
        lambda rest: run_task_command(command, [task_name, *rest], summaries[command], program=script),
        argv,
    )


def format_metrics(metrics: dict[str, Any]) -> str:
    """The scalar metrics on one line each; nested reports (per class) as indented JSON."""
    lines = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            lines.append(f"  {key}: " + json.dumps(value, indent=2).replace("\n", "\n  "))
        elif isinstance(value, float):
            lines.append(f"  {key}: {value:.4f}")
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)


__all__ = ["FROM_SCRATCH_LEARNING_RATE", "SPEED_KEYS", "format_metrics", "run_task_command", "script_main"]
