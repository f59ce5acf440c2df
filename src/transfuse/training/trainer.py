"""The Trainer of a task: `Trainer` / `Seq2SeqTrainer` with evaluation and prediction routed through the task.

The stock Trainer hands `compute_metrics` the raw logits of the features it saw. A task needs more: question
answering scores answers rebuilt from several windows per example, translation scores decoded text, and
`transfuse predict` writes one output per input row. So, as in the `trainer_qa.py` example of transformers,
the evaluation loop here gathers the raw predictions, then calls `task.postprocess(predictions, features,
examples)` and `task.compute_metrics(outputs, examples)`; the scalar metrics are logged with the usual prefix
(`eval_accuracy`), usable by `metric_for_best_model`, and the full results (per-class reports included) and
the outputs stay on the trainer (`task_metrics`, `task_outputs`) for the run folder and the predictions file.

Speed, decided here once for every task (measurements in benchmarks/README.md, "time to quality"):

* Precision: evaluation and prediction run under bf16 autocast when `eval_bf16` (see `precision.py`); training
  runs under bf16 autocast where the hardware multiplies bf16 natively, unless the user set `--bf16`/`--fp16`
  or asked for `--fp32` (`resolve_training_precision`). `transfuse evaluate/predict` there also cast the weights
  to bf16 (`--bf16_full_eval`, the Trainer's own flag; `resolve_eval_weights`), unless told `--bf16_full_eval false`.
* Length-grouped training batches (`--train_sampling_strategy group_by_length`): the Trainer's groups (rows of
  similar length in each batch), served in a shuffled batch order instead of longest to shortest within each
  group of 50 batches (`ShuffledLengthGroupedSampler`); `--length_group_batches` sets the group's size.
* A learning rate of its own for the task head (`--head_learning_rate`): the modules the checkpoint did not hold
  (`new_modules`, from the loading report) start random and can learn faster than the pretrained weights.
  Layer-wise decay (`--layer_lr_decay`): lower pretrained blocks, more general, change less.
* Length-sorted inference: on one process, evaluation and prediction batch the features longest first, so a
  batch pads only to its own longest row, and the raw predictions are put back in feature order before
  `task.postprocess` (which pairs predictions, features and examples by position). `--max_tokens_per_batch`
  caps rows x longest row per batch: short rows fill big batches and long inputs get small ones. Tasks scored
  from a forward pass do so by default (`resolve_inference_batches`); tasks that generate batch a fixed number
  of rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import pyarrow.compute as pc
import torch
from datasets import Dataset
from torch.utils.data import DataLoader, Sampler, SequentialSampler
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from transformers.trainer_utils import EvalLoopOutput, has_length

from ..adapters.apply import is_quantized
from ..common.checkpointing import AtomicCheckpointMixin
from ..tasks import Task
from .arguments import GENERATION_ROWS, INFERENCE_ROWS, INFERENCE_TOKENS, LENGTH_GROUP_BATCHES
from .precision import resolve_eval_weights, resolve_training_precision

logger = logging.getLogger(__name__)

BLOCK_INDEX = re.compile(r"\.(\d+)\.")  # the number of a block in its ModuleList: `encoder.layer.3.attention`


def feature_lengths(features: Dataset, column: str = "input_ids") -> np.ndarray | None:
    """Tokens per feature (the length of `column`'s list), read from the Arrow column without decoding rows;
    None when `features` has no such column."""
    if not isinstance(features, Dataset) or column not in features.column_names:
        return None
    return pc.list_value_length(features.with_format("arrow")[column]).to_numpy(zero_copy_only=False)


def length_order(lengths: np.ndarray) -> np.ndarray:
    """Feature indices longest first (a stable sort: equal lengths keep their order), so an out-of-memory
    error, if any, comes with the first batch."""
    return np.argsort(-np.asarray(lengths), kind="stable")


def token_budget_batches(
    order: np.ndarray, lengths: np.ndarray, max_rows: int, max_tokens: int | None, multiple: int = 1
) -> list[list[int]]:
    """`order` cut into consecutive batches of at most `max_rows` rows whose padded size (rows x the longest
    row, rounded up to `multiple` as the collator pads) stays within `max_tokens`; a row longer than the
    budget forms a batch of its own."""
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for index in order.tolist():
        padded = -(-int(lengths[index]) // multiple) * multiple
        too_many_tokens = max_tokens is not None and max(longest, padded) * (len(batch) + 1) > max_tokens
        if batch and (len(batch) >= max_rows or too_many_tokens):
            batches.append(batch)
            batch, longest = [], 0
        batch.append(index)
        longest = max(longest, padded)
    if batch:
        batches.append(batch)
    return batches


def resolve_inference_batches(training: TrainingArguments, max_tokens_per_batch: int | None) -> int | None:
    """Settle `training.per_device_eval_batch_size` when the user left it unset (None), and return the token
    budget of inference batches (None: rows only; `--max_tokens_per_batch 0` asks for that).

    A task scored from a forward pass batches up to `INFERENCE_ROWS` rows within `INFERENCE_TOKENS` padded
    tokens: short rows fill big batches, long ones get fewer rows. A task that generates
    (`--predict_with_generate`) batches `GENERATION_ROWS` rows with no token budget, which would bound the inputs
    but not beams x new tokens; so do several processes, where accelerate shards batches in dataset order and
    the budget does not apply.
    """
    generates = bool(getattr(training, "predict_with_generate", False))
    if training.per_device_eval_batch_size is None:
        few = generates or training.world_size > 1
        training.per_device_eval_batch_size = GENERATION_ROWS if few else INFERENCE_ROWS
    if max_tokens_per_batch is None:
        return None if generates else INFERENCE_TOKENS
    return max_tokens_per_batch or None


class ShuffledLengthGroupedSampler(LengthGroupedSampler):
    """The Trainer's length-grouped batches, in a shuffled order, from groups of a chosen size.

    `LengthGroupedSampler` sorts each mega-batch (50 batches of a random permutation) longest first and serves its
    batches in that order, so every 50 steps the model sees its longest rows, then shorter and shorter ones: on
    SST-2, where length goes with the kind of phrase, that sawtooth costs accuracy per step. Here, after the first
    batch (the longest, so an out-of-memory error comes first), the batches come in a random order; a short last
    batch stays last, so every batch keeps its boundaries. The groups hold `group_batches` batches
    (`--length_group_batches`, the Trainer's 50 by default). Fewer mix lengths more within a batch (some padding
    comes back) and make its rows less alike: with 12, SST-2 reached a given accuracy in fewer steps, from scratch
    and with LoRA (the SST-2 configs use 12; benchmarks/README.md, time to quality). It draws from the same
    random source as the Trainer's sampler (the global torch generator unless one is given), so seeding and
    resuming behave as they do with it.
    """

    def __init__(self, *args: Any, group_batches: int = LENGTH_GROUP_BATCHES, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.group_batches = group_batches

    def __iter__(self) -> Iterator[int]:
        groups = min(len(self.lengths) // (self.batch_size * 4), self.group_batches) or 1  # the Trainer's rule
        indices = get_length_grouped_indices(self.lengths, self.batch_size, groups, generator=self.generator)
        batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        short = [batches.pop()] if len(batches) > 1 and len(batches[-1]) < self.batch_size else []
        middle = batches[1:]
        shuffled = [middle[i] for i in torch.randperm(len(middle), generator=self.generator).tolist()]
        return iter([index for batch in [*batches[:1], *shuffled, *short] for index in batch])


class OrderedSampler(Sampler[int]):
    """Yields the feature indices in a fixed `order` (kept on the sampler, to undo it afterwards)."""

    def __init__(self, order: np.ndarray):
        self.order = order

    def __iter__(self) -> Iterator[int]:
        return iter(self.order.tolist())

    def __len__(self) -> int:
        return len(self.order)


class OrderedBatchSampler(Sampler[list[int]]):
    """Yields precomputed batches of feature indices; `order` is their concatenation."""

    def __init__(self, batches: list[list[int]]):
        self.batches = batches
        self.order = np.asarray([index for batch in batches for index in batch], dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def loader_order(dataloader: Any) -> np.ndarray | None:
    """The order an `OrderedSampler` / `OrderedBatchSampler` of `dataloader` feeds features in (through
    accelerate's wrappers), or None when it feeds them in dataset order."""
    for owner in (dataloader, getattr(dataloader, "batch_sampler", None)):
        for name in ("sampler", "batch_sampler"):
            sampler = getattr(owner, name, None)
            if isinstance(sampler, (OrderedSampler, OrderedBatchSampler)):
                return sampler.order
    return None


def unpermute(predictions: Any, order: np.ndarray) -> Any:
    """Row `j` of every array in `predictions` (nested tuples, lists, dicts) answers feature `order[j]`; put
    row `order[j]` back at position `order[j]`. Arrays that are not one row per feature stay as they are."""
    if isinstance(predictions, (tuple, list)):
        return type(predictions)(unpermute(item, order) for item in predictions)
    if isinstance(predictions, dict):
        return {key: unpermute(value, order) for key, value in predictions.items()}
    if isinstance(predictions, np.ndarray) and predictions.ndim and len(predictions) == len(order):
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return predictions[inverse]
    return predictions


def head_parameters(model: torch.nn.Module, module_names: list[str]) -> set[int]:
    """Ids of the trainable parameters under `module_names` (paths in the task model, e.g. `classifier`); for a
    peft model the paths are looked up in its base model, where `modules_to_save` wraps the trained copy."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    ids: set[int] = set()
    for name in module_names:
        module = base.get_submodule(name)
        ids.update(id(p) for p in module.parameters() if p.requires_grad)
    return ids


def split_groups(optimizer: torch.optim.Optimizer, learning_rates: dict[int, float]) -> None:
    """Give each parameter in `learning_rates` (by id) its own peak learning rate: it moves out of its group into
    a copy of that group (the same weight decay) with that rate; an emptied group is dropped. Call before the
    scheduler is built (it scales every group alike)."""
    groups = []
    for group in optimizer.param_groups:
        by_rate: dict[float, list[torch.nn.Parameter]] = {}
        for p in group["params"]:
            by_rate.setdefault(learning_rates.get(id(p), group["lr"]), []).append(p)
        groups.extend({**group, "params": params, "lr": lr} for lr, params in by_rate.items())
    optimizer.param_groups = groups


def layer_depths(model: torch.nn.Module, skip: set[int]) -> dict[int, int]:
    """Depth of each trainable parameter not in `skip` (the head), for layer-wise learning-rate decay: block `i`
    of the numbered stack (`encoder.layer.3.`, `layers.3.`) is `i + 1`; what comes before the first block (the
    embeddings) 0; what comes after (a final norm, a pooler) the top block's depth. Empty without numbered
    blocks. An encoder-decoder's two stacks are numbered alike."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad and id(p) not in skip]
    blocks = [BLOCK_INDEX.search(name) for name, _ in named]
    if not any(blocks):
        return {}
    top = max(int(block.group(1)) for block in blocks if block) + 1
    depths, seen_block = {}, False
    for (_, p), block in zip(named, blocks):
        seen_block = seen_block or block is not None
        depths[id(p)] = int(block.group(1)) + 1 if block else (top if seen_block else 0)
    return depths


def layer_decay_rates(model: torch.nn.Module, skip: set[int], learning_rate: float, decay: float) -> dict[int, float]:
    """Peak learning rate of each trainable parameter not in `skip` (the head) under layer-wise decay (ELECTRA's,
    with the top block at the full rate): `learning_rate` x decay^(top - depth) (`layer_depths`), so the top
    block trains at `learning_rate`, each block below at `decay` times the one above, the embeddings at
    decay^blocks. Logs the rates; without numbered blocks, warns and returns none."""
    depths = layer_depths(model, skip)
    if not depths:
        logger.warning("--layer_lr_decay %s: the model has no numbered blocks; ignored.", decay)
        return {}
    top = max(depths.values())
    rates = {key: learning_rate * decay ** (top - depth) for key, depth in depths.items()}
    lowest_block = learning_rate * decay ** (top - 1)
    logger.info(
        "Layer-wise learning rates (--layer_lr_decay %s): embeddings %.3g, blocks %.3g to %.3g",
        decay,
        learning_rate * decay**top,
        lowest_block,
        learning_rate,
    )
    return rates


class TaskTrainerMixin:
    """Routes `evaluate`/`predict` through `task.postprocess` and `task.compute_metrics`; bf16 inference;
    length-sorted inference batches (`sort_by_length`) within `max_tokens_per_batch`."""

    def __init__(
        self,
        *args: Any,
        task: Task,
        eval_examples: Dataset | None = None,
        eval_bf16: bool = False,
        sort_by_length: bool = True,
        max_tokens_per_batch: int | None = None,
        length_group_batches: int = LENGTH_GROUP_BATCHES,
        new_modules: list[str] | None = None,
        head_learning_rate: float | None = None,
        layer_lr_decay: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.task = task
        self.eval_examples = eval_examples
        self.eval_bf16 = eval_bf16
        self.sort_by_length = sort_by_length
        self.max_tokens_per_batch = max_tokens_per_batch
        self.length_group_batches = length_group_batches
        self.head_learning_rate = head_learning_rate
        self.layer_lr_decay = layer_lr_decay
        wanted = head_learning_rate or layer_lr_decay
        self.head_parameters = head_parameters(self.model, new_modules or []) if wanted else set()
        if head_learning_rate and not self.head_parameters:
            logger.warning("--head_learning_rate %s: no module of the model is new; ignored.", head_learning_rate)
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
        return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **kwargs)

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
        return super().predict(test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **kwargs)

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
        order = loader_order(dataloader)
        if order is not None:  # length-sorted batches: back to feature order, the one place for every task
            output = EvalLoopOutput(
                predictions=unpermute(output.predictions, order),
                label_ids=unpermute(output.label_ids, order),
                metrics=output.metrics,
                num_samples=output.num_samples,
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

    def _inference_lengths(self, dataset: Dataset) -> np.ndarray | None:
        """Feature lengths when inference batches may be reordered: one process (accelerate shards and gathers
        in dataset order otherwise), predictions concatenated (`eval_do_concat_batches`), a `Dataset` with
        token ids; else None."""
        if self.args.world_size > 1 or not self.args.eval_do_concat_batches:
            return None
        names = getattr(self.processing_class, "model_input_names", None) or ["input_ids"]
        return feature_lengths(dataset, names[0])

    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        """The Trainer's optimizer (its weight-decay groups), with peak learning rates of their own moved into
        groups of their own: `layer_lr_decay`'s for the pretrained weights (`layer_decay_rates`) and
        `head_learning_rate` for the head. The schedule, created next, scales every group alike."""
        optimizer = super().create_optimizer(model)
        rates: dict[int, float] = {}
        if self.layer_lr_decay:
            rates = layer_decay_rates(self.model, self.head_parameters, self.args.learning_rate, self.layer_lr_decay)
        if self.head_learning_rate:
            rates.update(dict.fromkeys(self.head_parameters, self.head_learning_rate))
        if rates:
            split_groups(optimizer, rates)
        return optimizer

    def _get_train_sampler(self, train_dataset: Dataset | None = None) -> Sampler | None:
        sampler = super()._get_train_sampler(train_dataset)
        if type(sampler) is LengthGroupedSampler:  # exactly the Trainer's, not a subclass
            return ShuffledLengthGroupedSampler(
                sampler.batch_size,
                lengths=sampler.lengths,
                generator=sampler.generator,
                group_batches=self.length_group_batches,
            )
        return sampler

    def _get_eval_sampler(self, eval_dataset: Dataset) -> Sampler | None:
        """Longest features first (`sort_by_length`), else dataset order; never the Trainer's random groups.

        transformers 5 applies `--train_sampling_strategy group_by_length` to evaluation too, in a random order
        that nothing records. Here the order is kept on the sampler and `evaluation_loop` undoes it, because
        `postprocess` pairs predictions with features and examples by position and `predict` must answer row i
        on line i. (Several processes: None lets accelerate shard in order and gather back.)
        """
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        if self.args.world_size > 1:
            return None
        lengths = self._inference_lengths(eval_dataset) if self.sort_by_length else None
        return SequentialSampler(eval_dataset) if lengths is None else OrderedSampler(length_order(lengths))

    def _get_dataloader(self, dataset, description, batch_size, sampler_fn=None, is_training=False, **kwargs):
        """With `--max_tokens_per_batch`, evaluation and prediction batches hold at most that many padded
        tokens (and at most `--per_device_eval_batch_size` rows); training batches are the Trainer's."""
        if is_training or not self.max_tokens_per_batch or not isinstance(dataset, Dataset):
            return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
        dataset = self._remove_unused_columns(dataset, description=description)
        lengths = self._inference_lengths(dataset)
        if lengths is None:
            return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
        order = length_order(lengths) if self.sort_by_length else np.arange(len(lengths))
        multiple = getattr(self.data_collator, "pad_to_multiple_of", None) or 1
        batches = token_budget_batches(order, lengths, batch_size, self.max_tokens_per_batch, multiple)
        args = self.args
        loader = DataLoader(
            dataset,
            batch_sampler=OrderedBatchSampler(batches),
            collate_fn=self.data_collator,
            num_workers=args.dataloader_num_workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers,
            prefetch_factor=args.dataloader_prefetch_factor,
        )
        return self.accelerator.prepare(loader)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **kwargs):
        quiet = nullcontext()
        if getattr(self.args, "predict_with_generate", False) and not prediction_loss_only:
            per_batch = self.task.generate_kwargs(inputs)
            if per_batch:  # the run's settings (`_gen_kwargs`), then the task's for this batch
                kwargs = {**getattr(self, "_gen_kwargs", {}), **kwargs, **per_batch}
                if "max_new_tokens" in per_batch:
                    kwargs.pop("max_length", None)
                    quiet = _without_length_clash_warning()
        device_type = self.args.device.type
        autocast = torch.autocast(device_type, dtype=torch.bfloat16) if self.eval_bf16 else nullcontext()
        with autocast, quiet:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **kwargs)


class _LengthClashFilter(logging.Filter):
    """Drops transformers' "Both `max_new_tokens` and `max_length` seem to have been set" warning: a task's
    per-batch `max_new_tokens` overriding the `max_length` saved for pipeline users is what is meant, and the
    warning would otherwise repeat on every evaluation batch."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Both `max_new_tokens`") and "seem to have been set" in message)


@contextmanager
def _without_length_clash_warning() -> Iterator[None]:
    generation_logger, length_filter = logging.getLogger("transformers.generation.utils"), _LengthClashFilter()
    generation_logger.addFilter(length_filter)
    try:
        yield
    finally:
        generation_logger.removeFilter(length_filter)


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
    run: Any = None,
    new_modules: list[str] | None = None,
) -> TaskTrainer | Seq2SeqTaskTrainer:
    """The Trainer that fits `task.training_args_class`, with the task's collator and evaluation.

    `run` (the command's `RunArguments`) carries the batching flags (`--sort_by_length`, `--max_tokens_per_batch`,
    `--length_group_batches`), `--head_learning_rate`, which applies to `new_modules` (the modules the checkpoint
    did not hold, `LoadedModel.new_modules`), and `--layer_lr_decay`, which applies to the rest. Inference batch
    sizes left unset are settled by `resolve_inference_batches`. Training precision left to the hardware (`--bf16`
    not given) is decided here: bf16 autocast when training where `eval_bf16` holds (bf16 hardware, no `--fp32`),
    else fp32; so are the weights of evaluate / predict left unset (`--bf16_full_eval`): bf16 where `eval_bf16`
    holds.
    """
    train = train_features is not None
    max_tokens_per_batch = resolve_inference_batches(training_args, getattr(run, "max_tokens_per_batch", None))
    resolve_training_precision(training_args, train=train, bf16=eval_bf16)
    resolve_eval_weights(training_args, train=train, bf16=eval_bf16, quantized=is_quantized(model))
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
        sort_by_length=getattr(run, "sort_by_length", True),
        max_tokens_per_batch=max_tokens_per_batch,
        length_group_batches=getattr(run, "length_group_batches", LENGTH_GROUP_BATCHES),
        new_modules=new_modules,
        head_learning_rate=getattr(run, "head_learning_rate", None) if train else None,
        layer_lr_decay=getattr(run, "layer_lr_decay", None) if train else None,
    )


__all__ = [
    "OrderedBatchSampler",
    "OrderedSampler",
    "Seq2SeqTaskTrainer",
    "ShuffledLengthGroupedSampler",
    "TaskTrainer",
    "TaskTrainerMixin",
    "build_trainer",
    "feature_lengths",
    "head_parameters",
    "length_order",
    "layer_decay_rates",
    "layer_depths",
    "loader_order",
    "resolve_inference_batches",
    "split_groups",
    "token_budget_batches",
    "unpermute",
]
