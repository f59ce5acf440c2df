"""Run a training command in this process with a clock on its Trainer, for `bench_time_to_quality.py`.

    python benchmarks/clocked.py TIMELINE.jsonl transfuse train classification CONFIG.yaml --flag value ...
    python benchmarks/clocked.py TIMELINE.jsonl plain --model ... (the flags of plain_trainer_classification.py)

Every `transformers.Trainer` built in the process gets a `Clock` callback, which appends one JSON line per
evaluation: the optimizer step, the training seconds so far (wall time since training began, minus the time
spent evaluating, which the two recipes do differently and is not training) and the evaluation's metrics; and
one line (`train_end`) when training ends. An evaluation after training ends is stamped with the training time
at its end. Two optional stops (environment variables, set by `bench_time_to_quality.py --stop_at_target`):
`CLOCKED_STOP_WHEN=KEY=VALUE` ends training at the first evaluation whose KEY (e.g. `eval_bleu`) is >= VALUE, and
`CLOCKED_DEADLINE_MINUTES=M` after M minutes of training (evaluations left out). `transfuse ...` runs the
`transfuse` console script's `main` (allocator settings included, as the console script applies them);
`plain ...` runs `plain_trainer_classification.py`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import transformers
from transformers import TrainerCallback


class Clock(TrainerCallback):
    def __init__(self, path: Path, stop_when: str | None = None, deadline_minutes: float | None = None):
        self.path = path
        self.start: float | None = None
        self.end: float | None = None
        self.eval_seconds = 0.0
        key, _, value = (stop_when or "").rpartition("=")
        self.stop_key, self.stop_at = (key, float(value)) if stop_when else (None, None)
        self.deadline_seconds = deadline_minutes * 60 if deadline_minutes else None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        trained = time.perf_counter() - self.start - self.eval_seconds
        if self.deadline_seconds is not None and trained >= self.deadline_seconds:
            control.should_training_stop = True

    def on_train_end(self, args, state, control, **kwargs):
        self.end = time.perf_counter()
        if state.is_world_process_zero:
            self._write({"step": state.global_step, "train_seconds": self.end - self.start - self.eval_seconds,
                         "train_end": True})  # fmt: skip

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.start is None or not state.is_world_process_zero:
            return
        metrics = metrics or {}
        if self.end is None:
            self.eval_seconds += float(metrics.get("eval_runtime", 0.0))
        now = self.end if self.end is not None else time.perf_counter()
        record = {"step": state.global_step, "train_seconds": now - self.start - self.eval_seconds}
        record.update({key: value for key, value in metrics.items() if isinstance(value, (int, float))})
        self._write(record)
        if self.stop_key is not None and record.get(self.stop_key, float("-inf")) >= self.stop_at:
            control.should_training_stop = True

    def _write(self, record: dict) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def install(path: Path) -> None:
    """Give every Trainer built from now on a `Clock` writing to `path`."""
    original = transformers.Trainer.__init__

    stop_when, deadline = os.environ.get("CLOCKED_STOP_WHEN"), os.environ.get("CLOCKED_DEADLINE_MINUTES")

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(Clock(path, stop_when, float(deadline) if deadline else None))

    transformers.Trainer.__init__ = init


def main() -> int:
    timeline, which, argv = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    timeline.unlink(missing_ok=True)
    install(timeline)
    if which == "transfuse":
        from transfuse.allocator import apply_for_command
        from transfuse.cli.main import main as transfuse_main

        apply_for_command(argv[0] if argv else None)  # what the console script does before dispatching
        return transfuse_main(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import plain_trainer_classification

    sys.argv = ["plain_trainer_classification.py", *argv]
    plain_trainer_classification.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
