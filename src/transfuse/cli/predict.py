"""`transfuse predict <task> --model_name_or_path RUN_DIR --test_file FILE --output_file OUT.jsonl`.

Writes one JSON line per input row, in input order (for classification: `label`, `score` and `scores` per class).
"""

from __future__ import annotations

from .task_command import run_task_command


def main(argv: list[str]) -> int:
    return run_task_command("predict", argv, lambda rows: f"wrote {len(rows)} predictions")
