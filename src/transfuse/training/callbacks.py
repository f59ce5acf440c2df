"""`TrainerCallback`s of every training run (adapter-specific ones live in `transfuse.adapters.callbacks`).

`StopOnNonFiniteLoss`: the Trainer hides a NaN or infinite loss (`logging_nan_inf_filter` logs the average of the
earlier losses instead) and goes on training NaN weights, saving them in every later checkpoint and as the final
model. This callback watches the loss of every training forward pass through a forward hook, keeping the first
bad step on the device (no synchronisation per step), and looks at it only when the Trainer is about to log,
evaluate or save: the run then stops with `NonFiniteLossError`, naming the step, before anything from that step on
is written, so the last checkpoint on disk is the last good one.

`StopAfterMinutes`: `--max_train_minutes`, a wall-clock budget for the training loop (evaluation inside it
included, model loading and preprocessing not). When it is spent the Trainer stops after the current step and
the run ends as if it had reached `--max_steps`: a checkpoint of the last step is saved (when the run saves
checkpoints at all), so checkpoint averaging and a later resume see the newest weights; then the final model is
saved, evaluated and written to the card. A resumed run gets a fresh budget.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..common.checkpointing import last_complete_checkpoint

logger = logging.getLogger(__name__)


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite; the message names the step and the last good checkpoint."""


class StopOnNonFiniteLoss(TrainerCallback):
    """Stop training at the first non-finite loss, before it reaches a checkpoint or the saved model."""

    def __init__(self) -> None:
        self._state: TrainerState | None = None
        self._first_bad: torch.Tensor | None = None  # 0-d: the first step whose loss was not finite, 0 = none
        self._bad_loss: torch.Tensor | None = None
        self._handle = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model=None, **kwargs: Any
    ):
        self._state, self._first_bad, self._bad_loss = state, None, None
        if model is not None and self._handle is None:
            self._handle = model.register_forward_hook(self._record)

    def _record(self, module: torch.nn.Module, inputs: Any, output: Any) -> None:
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if not module.training or not isinstance(loss, torch.Tensor) or self._state is None:
            return
        loss = loss.detach().float().reshape(-1)[:1].reshape(())
        if self._first_bad is None:
            self._first_bad = torch.zeros((), dtype=torch.long, device=loss.device)
            self._bad_loss = torch.zeros((), device=loss.device)
        new = ~torch.isfinite(loss) & (self._first_bad == 0)
        self._first_bad = torch.where(
            new, torch.full_like(self._first_bad, self._state.global_step + 1), self._first_bad
        )
        self._bad_loss = torch.where(new, loss, self._bad_loss)

    def _check(self, args: TrainingArguments, control: TrainerControl) -> None:
        if self._first_bad is None:
            return
        if not (control.should_log or control.should_save or control.should_evaluate or control.should_training_stop):
            return  # look (one device sync) only before something is written
        step = int(self._first_bad)
        if step == 0:
            return
        self._remove_hook()
        value = "nan" if torch.isnan(self._bad_loss) else "inf"
        last = last_complete_checkpoint(args.output_dir)
        kept = (
            f"the last good checkpoint is {last} (kept; nothing from step {step} on was saved; continue from "
            f"it with --resume_from_checkpoint {last} if the cause was one bad batch)"
            if last
            else "no checkpoint was saved before it"
        )
        raise NonFiniteLossError(
            f"the training loss became {value} at step {step}; {kept}. Otherwise lower --learning_rate, keep "
            "--max_grad_norm on, add warmup or train in fp32, and start over (--overwrite_output_dir)."
        )

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._check(args, control)

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._check(args, control)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._remove_hook()

    def _remove_hook(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


class StopAfterMinutes(TrainerCallback):
    """Stop training once `minutes` of wall-clock time have passed since the training loop began."""

    clock = staticmethod(time.perf_counter)

    def __init__(self, minutes: float):
        self.seconds = 60 * minutes
        self.start: float | None = None
        self.stopped_at_step: int | None = None  # the step the budget ran out at; None: it never did

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self.start, self.stopped_at_step = self.clock(), None

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        if self.start is not None and self.clock() - self.start >= self.seconds:
            if self.stopped_at_step is None:
                self.stopped_at_step = state.global_step
                logger.info(
                    "--max_train_minutes %g spent at step %d of %d: saving the model as it is now",
                    self.seconds / 60,
                    state.global_step,
                    state.max_steps,
                )
            control.should_training_stop = True
            control.should_save = args.save_strategy != "no"


__all__ = ["NonFiniteLossError", "StopAfterMinutes", "StopOnNonFiniteLoss"]
