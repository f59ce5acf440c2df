"""`transfuse predict <task> --model_name_or_path RUN_DIR --test_file FILE --output_file OUT.jsonl`.

Writes one JSON line per input row, in input order (for classification: `label`, `score` and `scores` per
class).
"""

from __future__ import annotations

from .task_command import run_task_command


def summarize(rows: list[dict]) -> str:
    errors = sum("error" in row for row in rows)
    return f"wrote {len(rows)} predictions" + (
        f" ({errors} rows could not be read: see their `error`)" if errors else ""
    )


def main(argv: list[str]) -> int:
    return run_task_command("predict", argv, summarize)
