"""The `Task` interface: what one application plugs into the shared train / evaluate / predict workflow.

A task owns everything that depends on the application and nothing else; the workflow
(`transfuse.training.workflow`) calls these hooks in this order and never looks at labels, spans or tokens:

    raw split --find_bad_rows--> clean examples --preprocess--> features --Trainer--> raw predictions
                                        |                                                  |
                                        '-- compute_metrics(outputs, examples) <-- postprocess(predictions,
                                                                                       features, examples)

* `fit` learns from the training examples what the model's shape depends on (the label set), and
  `load_from_config` restores it from a trained model's config; `config_updates` writes it into the config.
* `preprocess` may turn one example into several features (question answering: overlapping windows of a long
  context) and keep bookkeeping columns that the model does not take (an example id, offsets); the Trainer
  drops them from the batches, `postprocess` still sees them. It runs through `datasets.map`, which shows
  progress.
* `postprocess` maps the raw predictions (logits, start/end logits, generated ids) back to one
  JSON-serialisable output per example, which is both what `transfuse predict` writes and what
  `compute_metrics` scores against the examples' references, so the metrics measure exactly what users get.
* `training_args_class` is `TrainingArguments`, or `Seq2SeqTrainingArguments` for tasks evaluated through
  `generate()`; the matching Trainer is chosen from it.

New tasks subclass `Task`, set the class attributes, and register in `transfuse.tasks.TASKS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from datasets import Dataset
from transformers import PretrainedConfig, PreTrainedTokenizerBase, TrainingArguments

from ..data.collators import sequence_collator
from ..data.validation import BadRow

Split = str  # "train", "validation" or "test"


class Task(ABC):
    """One application: its data checks, features, collator, model class, outputs and metrics.

    Class attributes:
        name: the registry name, as typed after `transfuse train`.
        pipeline_tag: the Hub task type of the trained model (model card, `transformers.pipeline`).
        arguments_class: dataclass of the task's own options (columns, lengths, thresholds), parsed with
            `HfArgumentParser` next to the shared ones; field names must not clash with them.
        auto_model_class: the `AutoModelFor...` class that builds or loads the model.
        training_args_class: `TrainingArguments` or `Seq2SeqTrainingArguments`.
        main_metric: the headline metric (demo print-out, benchmark tables), a key of `compute_metrics`.
    """

    name: ClassVar[str]
    pipeline_tag: ClassVar[str]
    arguments_class: ClassVar[type]
    auto_model_class: ClassVar[type]
    training_args_class: ClassVar[type[TrainingArguments]] = TrainingArguments
    main_metric: str  # a class attribute, or a property when it depends on the data (regression vs labels)

    def __init__(self, args: Any, max_seq_length: int = 128):
        self.args = args
        self.max_seq_length = max_seq_length

    # ---- data ------------------------------------------------------------------------------------------

    @abstractmethod
    def input_columns(self) -> dict[str, str]:
        """Columns the model reads (what `transfuse predict` needs), each mapped to the flag that names it."""

    @abstractmethod
    def target_columns(self) -> dict[str, str]:
        """Columns holding the references (labels, answers, translations), each mapped to its flag."""

    def required_columns(self, split: Split) -> dict[str, str]:
        """Columns an example of `split` must have: inputs always, targets except for the rows to predict."""
        return self.input_columns() if split == "test" else {**self.input_columns(), **self.target_columns()}

    @abstractmethod
    def find_bad_rows(self, examples: Dataset, split: Split) -> list[BadRow]:
        """Every row the task cannot use (empty text, a label outside the model's label set, ...); targets are
        checked only when `examples` carry them."""

    @abstractmethod
    def training_texts(self, examples: Dataset) -> Iterator[str]:
        """The texts to train a tokenizer on when the model is built from scratch."""

    def has_references(self, examples: Dataset) -> bool:
        """Whether `examples` carry targets, i.e. whether metrics can be computed on them."""
        return all(column in examples.column_names for column in self.target_columns())

    # ---- model shape -----------------------------------------------------------------------------------

    def fit(self, train_examples: Dataset) -> None:  # noqa: B027  (optional hook)
        """Learn from the (clean) training examples what the model's shape depends on, e.g. the label set."""

    def load_from_config(self, config: PretrainedConfig) -> None:  # noqa: B027  (optional hook)
        """Restore what `fit` learned from the config of a model trained for this task."""

    def config_updates(self) -> dict[str, Any]:
        """Fields to set on the model config before the model is built or loaded (e.g. `num_labels`)."""
        return {}

    # ---- features and batches --------------------------------------------------------------------------

    @abstractmethod
    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        """Raw examples -> model features (with `labels` when the examples carry targets)."""

    def data_collator(self, tokenizer: PreTrainedTokenizerBase, model: Any = None) -> Callable:
        """The collator that pads a list of features into a batch."""
        return sequence_collator(tokenizer)

    # ---- outputs and metrics ---------------------------------------------------------------------------

    @abstractmethod
    def postprocess(self, predictions: Any, features: Dataset, examples: Dataset) -> list[dict[str, Any]]:
        """Raw predictions over `features` -> one JSON-serialisable output per example, in example order."""

    @abstractmethod
    def compute_metrics(self, outputs: list[dict[str, Any]], examples: Dataset) -> dict[str, Any]:
        """Score `postprocess` outputs against the references in `examples` (functions from
        `transfuse.metrics`); nested values (per-class reports) are allowed."""


__all__ = ["Split", "Task"]
