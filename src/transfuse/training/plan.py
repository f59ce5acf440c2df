"""`TrainingPlanCallback`: say up front what a training run will do and, for a long run, how long it will take.

Without `--max_steps` the Trainer runs `--num_train_epochs` (3) over the whole training file, which on a large
file silently means hours on a laptop. At the start of training this logs one line: steps, epochs, rows, batch and
learning rate; when no step budget was given and the run is long, it points to `--max_steps` and the shipped
configs. After the first steps (or seconds) it logs the estimated training time once, when that is over
`REPORT_AFTER_S`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger(__name__)

LONG_RUN_STEPS = 1000  # without a step budget, more steps than this get the --max_steps hint
MEASURE_STEPS = 20  # estimate the speed after this many steps ...
MEASURE_SECONDS = 15.0  # ... or this many seconds, whichever comes first
REPORT_AFTER_S = 120.0  # estimates shorter than this are not worth a line


def format_duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 90:
        return f"{max(minutes, 1):.0f} min"
    return f"{minutes / 60:.1f} h"


class TrainingPlanCallback(TrainerCallback):
    """Logs the plan of the run at its start and its estimated duration once the speed is known."""

    def __init__(self, configs_hint: str | None = None):
        self.configs_hint = configs_hint
        self._start: tuple[float, int] | None = None
        self._estimated = False

    @classmethod
    def for_task(cls, task_name: str) -> TrainingPlanCallback:
        """Pointing to `configs/<task>/` where a source checkout ships configs for the task."""
        checkout = Path(__file__).resolve().parents[3]
        configs = checkout / "configs" / task_name
        return cls(f"configs/{task_name}/" if configs.is_dir() and any(configs.glob("*.y*ml")) else None)

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, train_dataloader=None, **kwargs
    ):
        self._start, self._estimated = None, False
        if not state.is_world_process_zero:
            return
        rows = len(getattr(train_dataloader, "dataset", None) or []) if train_dataloader is not None else 0
        batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(args.world_size, 1)
        epochs = state.max_steps * batch / rows if rows else state.num_train_epochs
        plan = f"training {state.max_steps:,} steps ({epochs:.3g} epochs"
        plan += f" of {rows:,} rows" if rows else ""
        plan += f", {batch} rows per step) at learning rate {args.learning_rate:g}"
        if state.global_step:
            plan += f", resuming at step {state.global_step:,}"
        logger.info(plan)
        if args.max_steps <= 0 and state.max_steps > LONG_RUN_STEPS:
            where = f" or start from a shipped config ({self.configs_hint})" if self.configs_hint else ""
            logger.info("no step budget given (--max_steps): pass --max_steps N to train less%s", where)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self._estimated or not state.is_world_process_zero:
            return
        now = time.perf_counter()
        if self._start is None:  # the first step includes warm-up (compilation, caches): measure from after it
            self._start = (now, state.global_step)
            return
        started, first_step = self._start
        done = state.global_step - first_step
        if done < MEASURE_STEPS and now - started < MEASURE_SECONDS:
            return
        self._estimated = True
        per_step = (now - started) / max(done, 1)
        remaining = per_step * (state.max_steps - state.global_step)
        if remaining >= REPORT_AFTER_S:
            logger.info(
                "estimated training time: about %s more (%.2f s per step over %d steps)",
                format_duration(remaining),
                per_step,
                done,
            )


__all__ = ["TrainingPlanCallback", "format_duration"]
