"""`transfuse evaluate <task> --model_name_or_path RUN_DIR --validation_file FILE`: score a trained model."""

from __future__ import annotations

from typing import Any

from .task_command import SPEED_KEYS, format_metrics, run_task_command


def summarize(results: dict[str, Any]) -> str:
    return f"{results['model']} on {results['data']} ({results['eval_precision']}):\n" + format_metrics(
        {key: value for key, value in results["eval"].items() if key not in SPEED_KEYS}
    )


def main(argv: list[str]) -> int:
    return run_task_command("evaluate", argv, summarize)
