"""`TrainerCallback`s that adapters need during training.

- `AdaLoraCallback`: AdaLoRA re-allocates its rank budget from gradient-based importance after every optimizer
  step (`update_and_allocate`), which the plain `Trainer` never calls; without it AdaLoRA is a LoRA with a
  fixed rank and an orthogonality penalty.
- `AdapterCheckCallback`: runs `check_adapter` on the first training batch before the first step.

`adapter_callbacks(adapter_args)` returns the ones a run needs, for `Trainer(callbacks=...)`.
"""

from __future__ import annotations

import logging

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from .arguments import AdapterArguments
from .check import check_adapter

logger = logging.getLogger(__name__)


def _unwrap(model):
    return getattr(model, "module", model)  # DDP / accelerate wrappers


class AdaLoraCallback(TrainerCallback):
    """Calls AdaLoRA's `update_and_allocate(global_step)` after each optimizer step, while gradients still exist."""

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model=None, **kwargs
    ):
        config = _unwrap(model).peft_config[_unwrap(model).active_adapter]
        if state.max_steps != config.total_step:
            outcome = "never finish" if config.total_step > state.max_steps else "end early"
            raise ValueError(
                f"--adalora_total_step {config.total_step} does not match the {state.max_steps} optimizer steps of "
                f"this run: AdaLoRA's rank budget would {outcome}."
                f" Set --adalora_total_step {state.max_steps} (or --max_steps {config.total_step})."
            )

    def on_optimizer_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model=None, **kwargs
    ):
        _unwrap(model).base_model.update_and_allocate(state.global_step)


class AdapterCheckCallback(TrainerCallback):
    """Before the first step: every adapter layer runs and every trainable parameter can move (else raise)."""

    def __init__(self, max_steps: int = 3, rows: int = 2):
        self.max_steps = max_steps
        # a few rows prove every layer runs and every parameter moves; the whole first batch (under
        # group_by_length the longest one, in fp32, with its own optimizer state) cost SRL's LoRA run 1.2 GB of
        # resident memory before training began, more than training itself needed
        self.rows = rows

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model=None,
        train_dataloader=None,
        **kwargs,
    ):
        if train_dataloader is None or state.global_step > 0:  # nothing to probe, or resuming mid-run
            return
        model = _unwrap(model)
        device = next(model.parameters()).device
        with torch.random.fork_rng(devices=[]):  # drawing a batch seeds the sampler from the global RNG
            batch = next(iter(train_dataloader))
        batch = {key: value[: self.rows].to(device) for key, value in batch.items() if hasattr(value, "to")}
        report = check_adapter(model, batch, max_steps=self.max_steps)
        log = logger.info if report.ok else logger.warning  # a passing check is news, not a warning
        log("Adapter check: %s", report.summary().replace("\n", "; "))
        report.raise_for_problems()


def adapter_callbacks(adapter_args: AdapterArguments) -> list[TrainerCallback]:
    """The callbacks `--adapter ...` needs: AdaLoRA's budget updates and (with --check_adapter) the start check."""
    callbacks: list[TrainerCallback] = []
    if adapter_args.adapter == "adalora":
        callbacks.append(AdaLoraCallback())
    if adapter_args.enabled and adapter_args.check_adapter:
        callbacks.append(AdapterCheckCallback())
    return callbacks


def check_training_arguments(adapter_args: AdapterArguments, training_args: TrainingArguments) -> None:
    """Cross-checks between adapter and training flags, for the pipeline to call right after parsing."""
    if (
        adapter_args.adapter == "adalora"
        and training_args.max_steps > 0
        and training_args.max_steps != adapter_args.adalora_total_step
    ):
        raise ValueError(
            f"--adalora_total_step {adapter_args.adalora_total_step} differs from --max_steps "
            f"{training_args.max_steps}; AdaLoRA's rank budget is scheduled over the run's steps, set them equal."
        )


__all__ = ["AdaLoraCallback", "AdapterCheckCallback", "adapter_callbacks", "check_training_arguments"]
