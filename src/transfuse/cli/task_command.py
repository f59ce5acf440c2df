"""What `transfuse train|evaluate|predict <task> [CONFIG.yaml] [--flag value ...]` share.

The sub-command modules (`train.py`, `evaluate.py`, `predict.py`) are one line each over `run_task_command`:
look up the task, parse its arguments (flags, a YAML/JSON file, or both), run the workflow, print a summary.
Errors in the user's input (arguments, files, columns, rows, an occupied output folder) print one clear
message and exit 2 (bad arguments) or 1 (bad data); set TRANSFUSE_TRACEBACK=1 to see the traceback instead.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from collections.abc import Callable
from typing import Any

USAGE = """usage: transfuse {command} <task> [CONFIG.yaml|CONFIG.json] [--option value ...]

tasks: {tasks}

A config file sets options by name (the same names as the flags); flags after it override it.
Run `transfuse {command} <task> --help` for every option of a task."""
SPEED_KEYS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")


def configure_logging() -> None:
    """transfuse's own progress messages at INFO; the libraries' warnings only (their progress bars stay)."""
    import datasets
    import transformers

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transfuse").setLevel(logging.INFO)
    transformers.logging.set_verbosity_warning()
    datasets.logging.set_verbosity_warning()


def run_task_command(
    command: str, argv: list[str], summarize: Callable[[Any], str], program: str = "transfuse"
) -> int:
    """Run `command` (train, evaluate or predict) on `argv` = `[task, CONFIG?, --flags...]`; returns the exit
    code.

    `program` is how the command line is recorded in the run folder: `transfuse` for the CLI, the script's
    path for `scripts/run_<task>.py`.
    """
    from ..tasks import TASKS, get_task_class

    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.format(command=command, tasks=", ".join(sorted(TASKS))))
        return 0
    task_name, rest = argv[0], argv[1:]
    prefix = f"transfuse {command} {task_name}"
    try:
        task_class = get_task_class(task_name)
    except ValueError as err:
        print(f"transfuse {command}: error: {err}", file=sys.stderr)
        return 2

    from ..distributed import is_main_process
    from ..training import arguments, workflow

    if "-h" in rest or "--help" in rest:
        arguments.build_parser(task_class).print_help()
        return 0
    configure_logging()
    show_traceback = os.environ.get("TRANSFUSE_TRACEBACK") == "1"
    try:
        args = arguments.parse_arguments(task_class, rest, command)
        arguments.check_arguments(args, command)
    except (ValueError, FileNotFoundError) as err:
        if show_traceback:
            raise
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return 2
    words = ["transfuse", command, task_name] if program == "transfuse" else ["python", program, command]
    command_line = shlex.join([*words, *rest])
    try:
        result = getattr(workflow, command)(task_name, args, command_line)
    except (OSError, ValueError) as err:  # DataLoadingError, FileExistsError, DataValidationError, ...
        if show_traceback:
            raise
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return 1
    if is_main_process():  # under `accelerate launch` every rank gets here; one summary is enough
        print(summarize(result))
    return 0


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


__all__ = ["SPEED_KEYS", "configure_logging", "format_metrics", "run_task_command"]
