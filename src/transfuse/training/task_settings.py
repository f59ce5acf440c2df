"""The task options a run was trained with, kept in the run folder so `evaluate` and `predict` reuse them.

`transfuse train` writes `transfuse_task.json`: the task's name, its arguments dataclass (columns, problem type,
class names, task lengths and thresholds, via `dataclasses.asdict`) and the data length settings. When
`evaluate` or `predict` is given such a run folder as `--model_name_or_path`, those values become the parser's
defaults, below a config file and explicit flags, so

    transfuse evaluate classification --model_name_or_path runs/mrpc --validation_file mrpc/validation.jsonl

reads `text_a` / `text_b` as the run did without repeating `--text_column text_a --text_pair_column text_b`.
Nothing here knows any task: it stores and restores whatever the task's dataclass holds, except the fields its
`training_only` class attribute names (what only the training run does, such as checkpoint averaging or the
training-time attention plot: replayed, they would make every later evaluate do it too, or refuse).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TASK_SETTINGS_FILE = "transfuse_task.json"
DATA_SETTINGS = ("max_seq_length",)  # DataArguments fields that shape the features as the model was trained
INFERENCE_COMMANDS = ("evaluate", "predict")


def write_task_settings(output_dir: str | Path, task_name: str, task_arguments: Any, data_arguments: Any) -> Path:
    """Save the task's options and the data length settings as `transfuse_task.json` in `output_dir`."""
    training_only = set(getattr(task_arguments, "training_only", ()))
    settings = {
        "task": task_name,
        "arguments": {
            **{name: value for name, value in asdict(task_arguments).items() if name not in training_only},
            **{name: getattr(data_arguments, name) for name in DATA_SETTINGS},
        },
    }
    path = Path(output_dir) / TASK_SETTINGS_FILE
    path.write_text(json.dumps(settings, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def _model_name_or_path(argv: list[str], config_values: dict[str, Any]) -> str | None:
    finder = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    finder.add_argument("--model_name_or_path")
    known, _ = finder.parse_known_args(argv)
    return known.model_name_or_path or config_values.get("model_name_or_path")


def run_task_defaults(
    task_name: str, known_options: set[str], argv: list[str], config_values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The options of the run named by `--model_name_or_path` (in `argv`, else in the config file's values) that
    are also options here; empty when it is not a run folder of `task_name`."""
    model = _model_name_or_path(argv, config_values or {})
    path = Path(model) / TASK_SETTINGS_FILE if model else None
    if path is None or not path.is_file():
        return {}
    settings = json.loads(path.read_text(encoding="utf-8"))
    if settings.get("task") != task_name:
        logger.info("%s holds a %s run; its options are not reused for %s.", model, settings.get("task"), task_name)
        return {}
    defaults = {key: value for key, value in settings.get("arguments", {}).items() if key in known_options}
    logger.info("Options as %s was trained: %s", model, ", ".join(f"{k}={v!r}" for k, v in sorted(defaults.items())))
    return defaults


__all__ = ["INFERENCE_COMMANDS", "TASK_SETTINGS_FILE", "run_task_defaults", "write_task_settings"]
