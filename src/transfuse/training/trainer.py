"""The Trainer of a task: `Trainer` / `Seq2SeqTrainer` with evaluation and prediction routed through the task.

The stock Trainer hands `compute_metrics` the raw logits of the features it saw. A task needs more: question
answering scores answers rebuilt from several windows per example, translation scores decoded text, and
`transfuse predict` writes one output per input row. So, as in the `trainer_qa.py` example of transformers,
the evaluation loop here gathers the raw predictions, then calls `task.postprocess(predictions, features,
examples)` and `task.compute_metrics(outputs, examples)`; the scalar metrics are logged with the usual prefix
(`eval_accuracy`), usable by `metric_for_best_model`, and the full results (per-class reports included) and
the outputs stay on the trainer (`task_metrics`, `task_outputs`) for the run folder and the predictions file.

Evaluation and prediction run under bf16 autocast when `eval_bf16` (see `precision.py`); training precision
stays the `TrainingArguments`' (`--bf16`).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from datasets import Dataset
from torch.utils.data import Sampler, SequentialSampler
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_utils import EvalLoopOutput, has_length

from ..common.checkpointing import AtomicCheckpointMixin
from ..tasks import Task


class TaskTrainerMixin:
    """Routes `evaluate`/`predict` through `task.postprocess` and `task.compute_metrics`; bf16 inference."""

    def __init__(
        self,
        *args: Any,
        task: Task,
        eval_examples: Dataset | None = None,
        eval_bf16: bool = False,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.task = task
        self.eval_examples = eval_examples
        self.eval_bf16 = eval_bf16
        self.task_outputs: dict[str, list[dict[str, Any]]] = {}
        self.task_metrics: dict[str, dict[str, Any]] = {}
        self._current: tuple[Dataset | None, Dataset | None] = (None, None)

    def evaluate(
        self,
        eval_dataset: Dataset | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
        eval_examples: Dataset | None = None,
        **kwargs: Any,
    ) -> dict:
        """`Trainer.evaluate`, plus `eval_examples`: the raw examples `eval_dataset`'s features came from."""
        if eval_dataset is None:
            eval_dataset, eval_examples = self.eval_dataset, self.eval_examples
        self._current = (eval_dataset, eval_examples)
        return super().evaluate(
            eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **kwargs
        )

    def predict(
        self,
        test_dataset: Dataset,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "test",
        test_examples: Dataset | None = None,
        **kwargs: Any,
    ):
        """`Trainer.predict`, plus `test_examples`; the task outputs land in
        `task_outputs[metric_key_prefix]`."""
        self._current = (test_dataset, test_examples)
        return super().predict(
            test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **kwargs
        )

    def evaluation_loop(
        self,
        dataloader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        features, examples = self._current
        output = super().evaluation_loop(
            dataloader,
            description,
            prediction_loss_only=True if examples is None else None,
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        if examples is None or output.predictions is None:
            return output
        outputs = self.task.postprocess(output.predictions, features, examples)
        self.task_outputs[metric_key_prefix] = outputs
        if self.task.has_references(examples):
            metrics = self.task.compute_metrics(outputs, examples)
            self.task_metrics[metric_key_prefix] = metrics
            output.metrics.update(
                {
                    f"{metric_key_prefix}_{key}": value
                    for key, value in metrics.items()
                    if isinstance(value, (int, float))
                }
            )
        return output

    def _get_eval_sampler(self, eval_dataset: Dataset) -> Sampler | None:
        """Evaluate and predict in dataset order, always.

        transformers 5 applies `--train_sampling_strategy group_by_length` to evaluation too, which reorders the
        predictions; `postprocess` pairs predictions with features and examples by position, and `predict` must
        answer row i on line i. (Several processes: None lets accelerate shard in order and gather back.)
        """
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **kwargs):
        device_type = self.args.device.type
        autocast = torch.autocast(device_type, dtype=torch.bfloat16) if self.eval_bf16 else nullcontext()
        with autocast:
            return super().prediction_step(
                model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **kwargs
            )


class TaskTrainer(AtomicCheckpointMixin, TaskTrainerMixin, Trainer):
    """`Trainer` for tasks scored from a forward pass (classification, QA, tagging, language modelling)."""


class Seq2SeqTaskTrainer(AtomicCheckpointMixin, TaskTrainerMixin, Seq2SeqTrainer):
    """`Seq2SeqTrainer` for tasks scored from `generate()` (translation, summarisation)."""


def build_trainer(
    task: Task,
    model: PreTrainedModel | torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    training_args: TrainingArguments,
    train_features: Dataset | None = None,
    eval_features: Dataset | None = None,
    eval_examples: Dataset | None = None,
    eval_bf16: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> TaskTrainer | Seq2SeqTaskTrainer:
    """The Trainer that fits `task.training_args_class`, with the task's collator and evaluation."""
    trainer_class = Seq2SeqTaskTrainer if isinstance(training_args, Seq2SeqTrainingArguments) else TaskTrainer
    return trainer_class(
        model=model,
        args=training_args,
        data_collator=task.data_collator(tokenizer, model),
        train_dataset=train_features,
        eval_dataset=eval_features,
        processing_class=tokenizer,
        callbacks=callbacks,
        task=task,
        eval_examples=eval_examples,
        eval_bf16=eval_bf16,
    )


__all__ = ["Seq2SeqTaskTrainer", "TaskTrainer", "TaskTrainerMixin", "build_trainer"]
