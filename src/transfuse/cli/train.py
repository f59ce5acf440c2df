"""`transfuse train <task> [CONFIG.yaml] [--option value ...]`: fine-tune a model and write its run folder."""

from __future__ import annotations

from typing import Any

from .task_command import SPEED_KEYS, format_metrics, run_task_command


def summarize(results: dict[str, Any]) -> str:
    train = results["train"]
    lines = [f"train: {train.get('train_runtime', 0):.0f} s, loss {train.get('train_loss', 0):.4f}"]
    if "eval" in results:
        scalars = {k: v for k, v in results["eval"].items() if not isinstance(v, dict) and k not in SPEED_KEYS}
        lines += ["eval:", format_metrics(scalars)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    return run_task_command("train", argv, summarize)
