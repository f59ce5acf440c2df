"""The `Task` interface: what one application plugs into the shared train / evaluate / predict workflow.

A task owns everything that depends on the application and nothing else; the workflow
(`transfuse.training.workflow`) calls these hooks in this order and never looks at labels, spans or tokens:

    parse: check_arguments(args, command)          (cross-field checks that can see the shared options)
    raw split (read_file for the task's own formats) --find_bad_rows--> clean examples
      --fit (train) / load_from_config (evaluate, predict)--> config_updates, added_tokens, max_positions
      --model + tokenizer--> attach(tokenizer, config) --preprocess--> features --Trainer--> raw predictions
      --postprocess(predictions, features, examples)--> outputs --> compute_metrics / write_outputs
      --card_metrics--> model card

* `fit` learns from the training examples what the model's shape depends on (the label set), and
  `load_from_config` restores it from a trained model's config; `config_updates` writes it into the config.
* `preprocess` may turn one example into several features (question answering: overlapping windows of a long
  context) and keep bookkeeping columns that the model does not take (an example id, offsets); the Trainer
  drops them from the batches, `postprocess` still sees them. Use `self.map` (datasets.map with progress and
  `--preprocessing_num_workers`).
* `postprocess` maps the raw predictions (logits, start/end logits, generated ids) back to one
  JSON-serialisable output per example, which is both what `transfuse predict` writes and what
  `compute_metrics` scores against the examples' references, so the metrics measure exactly what users get.
  `self.tokenizer` and `self.model_config` are set by then (`attach`); `self.decode` turns generated ids,
  padded with -100 by the evaluation loop, back into text.
* `training_args_class` is `TrainingArguments`, or `Seq2SeqTrainingArguments` for tasks evaluated through
  `generate()`; the matching Trainer is chosen from it. `training_defaults` changes the defaults of its
  options for this task (e.g. `predict_with_generate`); flags and config files still override them.
* `architectures` lists the transfuse shapes the task can use; the first is what `--preset` builds when
  `--architecture` is not given.

Adding a task (nothing outside `tasks/`, `configs/` and `scripts/` changes):

1. a module (or small folder) under `tasks/` with a `Task` subclass and its arguments dataclass;
2. one line in `transfuse.tasks.TASKS`;
3. a config folder `configs/<task>/` (each YAML's header comment holds its launch command);
4. a launch script `scripts/run_<task>.py` (three lines over `transfuse.cli.task_command.script_main`).

The contract test (`tests/tasks/test_task_contract.py`) then trains, evaluates, predicts and reloads it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from datasets import Dataset
from transformers import PretrainedConfig, PreTrainedTokenizerBase, TrainerCallback, TrainingArguments

from ..data.collators import LABEL_PAD_ID, sequence_collator
from ..data.outputs import write_jsonl
from ..data.validation import BadRow

if TYPE_CHECKING:
    from ..data.loading import RawSplit

Split = str  # "train", "validation" or "test"
# Trainer metrics that are speed or bookkeeping, never a model's quality (model cards leave them out).
NOT_QUALITY = ("runtime", "samples_per_second", "steps_per_second", "epoch", "model_preparation_time", "loss")


class Task(ABC):
    """One application: its data checks, features, collator, model class, outputs and metrics.

    Class attributes:
        name: the registry name, as typed after `transfuse train`.
        pipeline_tag: the `transformers.pipeline` task of the trained model (model card, usage snippet).
        arguments_class: dataclass of the task's own options (columns, lengths, thresholds), parsed with
            `HfArgumentParser` next to the shared ones; field names must not clash with them.
        auto_model_class: the `AutoModelFor...` class that builds or loads the model (a task may choose another
            class with the same inputs per run in `fit`, as SRL's `--tagging_head` does).
        training_args_class: `TrainingArguments` or `Seq2SeqTrainingArguments`.
        training_defaults: `TrainingArguments` defaults this task changes (flags and config files override).
        architectures: transfuse architectures the task accepts; the first is the default for `--preset`.
        main_metric: the headline metric (demo print-out, benchmark tables), a key of `compute_metrics`.
    """

    name: ClassVar[str]
    pipeline_tag: ClassVar[str]
    arguments_class: ClassVar[type]
    auto_model_class: ClassVar[type]
    training_args_class: ClassVar[type[TrainingArguments]] = TrainingArguments
    training_defaults: ClassVar[dict[str, Any]] = {}
    architectures: ClassVar[tuple[str, ...]] = ("encoder",)
    main_metric: str  # a class attribute, or a property when it depends on the data (regression vs labels)

    def __init__(self, args: Any, max_seq_length: int = 128, num_proc: int | None = None):
        self.args = args
        self.max_seq_length = max_seq_length
        self.num_proc = num_proc
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self.model_config: PretrainedConfig | None = None

    # ---- arguments -------------------------------------------------------------------------------------

    @classmethod  # noqa: B027  (optional hook)
    def check_arguments(cls, args: Any, command: str) -> None:
        """Cross-field checks at parse time that need the shared options too (`args` is the whole
        `ParsedArguments`; `command` is train, evaluate or predict). Raise `ValueError` naming the flags."""

    # ---- data ------------------------------------------------------------------------------------------

    @classmethod
    def handles_file(cls, path: str) -> bool:
        """Whether `read_file` reads `path` (a format of this task's own, e.g. SQuAD's nested JSON or CoNLL
        columns); the shared reader takes csv / tsv / json / jsonl / parquet otherwise."""
        return False

    def read_file(self, path: str, flag: str, skip_bad_rows: bool) -> RawSplit:
        """Read one file that `handles_file` accepted into flat examples (see `transfuse.data.loading`)."""
        raise NotImplementedError(f"{type(self).__name__} reads no file formats of its own")

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

    def max_positions(self) -> int:
        """Positions the model must hold for this task's inputs (and targets): sizes a `--preset`'s position
        table and is checked against a loaded model's. Translation: the longer of source and target."""
        return self.max_seq_length

    def added_tokens(self) -> list[str]:
        """Special tokens the task adds to any tokenizer (e.g. predicate markers); the embeddings are resized
        before training and the tokens are saved with the tokenizer."""
        return []

    def attach(self, tokenizer: PreTrainedTokenizerBase, config: PretrainedConfig) -> None:
        """Called once the model is loaded, before preprocessing: what post-processing needs to decode ids,
        map sub-words to words or read generation settings."""
        self.tokenizer = tokenizer
        self.model_config = config

    # ---- features and batches --------------------------------------------------------------------------

    @abstractmethod
    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        """Raw examples -> model features (with `labels` when the examples carry targets)."""

    def map(
        self,
        examples: Dataset,
        function: Callable[[dict[str, list]], dict[str, list]],
        split: Split,
        remove_columns: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Dataset:
        """`examples.map(function, batched=True)` with progress, `--preprocessing_num_workers` and, by default,
        the raw columns removed (features keep only what `function` returns)."""
        return examples.map(
            function,
            batched=True,
            remove_columns=examples.column_names if remove_columns is None else list(remove_columns),
            num_proc=self.num_proc if self.num_proc and self.num_proc > 1 else None,
            desc=f"Tokenizing {split}",
            **kwargs,
        )

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

    def decode(self, ids: Any) -> list[str]:
        """Generated token ids (N, T), padded with -100 by the evaluation loop, -> N texts."""
        assert self.tokenizer is not None, "attach() runs before postprocess"
        ids = np.asarray(ids[0] if isinstance(ids, tuple) else ids)
        ids = np.where(ids == LABEL_PAD_ID, self.tokenizer.pad_token_id or 0, ids)
        return [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def card_metrics(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """The headline scalars of `compute_metrics`' results for the model card's `model-index`: every finite
        number except speed and bookkeeping; tasks with counts (BLEU's `sys_len`) override this."""
        return {
            key: float(value)
            for key, value in metrics.items()
            if isinstance(value, (int, float))
            and not isinstance(value, bool)
            and not key.endswith(NOT_QUALITY)
            and np.isfinite(value)
        }

    def callbacks(self) -> list[TrainerCallback]:
        """Trainer callbacks the task adds to a training run (e.g. translation's checkpoint averaging)."""
        return []

    def generate_kwargs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Per-batch `generate()` arguments for tasks evaluated through generation (e.g. `max_new_tokens`
        relative to the batch's longest source); they override the run's generation settings."""
        return {}

    def write_outputs(self, outputs: list[dict[str, Any]], path: str | Path) -> None:
        """Write `transfuse predict`'s outputs, line i answering input row i (JSON Lines; tasks may offer
        other formats through their own options)."""
        write_jsonl(path, outputs)


__all__ = ["NOT_QUALITY", "Split", "Task"]
