"""Text classification: one sentence or a sentence pair -> one label, several labels, or a number.

The three problem types of `transformers`' sequence-classification heads, chosen by `--problem_type` or
detected from the label column (`auto`): a list per row is multi-label, numbers with a fractional part are a
regression target, anything else (strings, integers, booleans) is single-label. Label names are learned from
the training split and stored in the model config (`id2label` / `label2id`, see `labels.py`), so predictions,
the model card and `transformers.pipeline("text-classification")` all speak in the data's own names.

Integer labels without names (`0`/`1`) keep their values as names; `--class_names negative positive` (or the
names of a Hub dataset's `ClassLabel` column) names the integers 0..n-1 instead. A column mixing integers and
names without either is refused before training.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset
from scipy.special import expit, softmax
from transformers import AutoModelForSequenceClassification, PretrainedConfig, PreTrainedTokenizerBase

from ..data.validation import BadRow, find_bad_numbers, find_bad_texts
from ..metrics.classification import classification_metrics, multilabel_metrics, regression_metrics
from ..modeling.configuration_transfuse import ARCHITECTURES
from ..modeling.heads import head_for
from .base import Split, Task
from .labels import LabelVocabulary, find_mixed_labels

SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"
REGRESSION = "regression"
PROBLEM_TYPES = ("auto", SINGLE_LABEL, MULTI_LABEL, REGRESSION)


@dataclass
class ClassificationArguments:
    """Which columns hold the text and the target, and what kind of target it is."""

    text_column: str = field(default="text", metadata={"help": "Column with the (first) text."})
    text_pair_column: str | None = field(
        default=None,
        metadata={"help": "Column with the second text of a sentence pair (e.g. MRPC); unset for single sentences."},
    )
    label_column: str = field(
        default="label",
        metadata={
            "help": "Column with the target: a label (string, integer or boolean), a list of labels "
            "(multi-label) or a number (regression)."
        },
    )
    problem_type: str = field(
        default="auto",
        metadata={
            "help": "single_label_classification, multi_label_classification or regression; `auto` "
            "detects it from the training labels (lists -> multi-label, fractional numbers -> "
            "regression, otherwise single-label).",
            "choices": list(PROBLEM_TYPES),
        },
    )
    class_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "Names of integer labels 0..n-1 in order, e.g. `--class_names negative positive`. "
            "Default: the dataset's ClassLabel names, else the values themselves."
        },
    )
    multi_label_threshold: float = field(
        default=0.5,
        metadata={"help": "Multi-label: a label is predicted when its sigmoid score reaches this."},
    )

    def __post_init__(self) -> None:
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(
                f"--problem_type {self.problem_type!r} is not supported; choose one of {', '.join(PROBLEM_TYPES)}."
            )
        if self.text_pair_column is not None and self.text_pair_column == self.text_column:
            raise ValueError(
                f"--text_pair_column {self.text_pair_column!r} is the same column as --text_column; "
                "name the second text's column, or drop --text_pair_column for single sentences."
            )
        if self.label_column in (self.text_column, self.text_pair_column):
            raise ValueError(f"--label_column {self.label_column!r} is also a text column; name the target column.")
        if not 0.0 < self.multi_label_threshold < 1.0:
            raise ValueError(f"--multi_label_threshold {self.multi_label_threshold} must be in (0, 1).")
        if self.class_names is not None:
            if len(set(self.class_names)) != len(self.class_names) or len(self.class_names) < 2:
                raise ValueError(f"--class_names {self.class_names} must list at least two distinct names.")
            if self.problem_type == REGRESSION:
                raise ValueError(
                    "--class_names names classes; a regression target (--problem_type regression) "
                    "has none. Drop one of the two flags."
                )


# ---------------------------------------------------------------------------------------------------------
# Problem type
# ---------------------------------------------------------------------------------------------------------


def detect_problem_type(values: Sequence[Any]) -> str:
    """`auto`: lists -> multi-label; numbers with a fractional part (or NaN) -> regression; else single-label."""
    present = [value for value in values if value is not None]
    if any(isinstance(value, (list, tuple)) for value in present):
        return MULTI_LABEL
    numbers = [value for value in present if isinstance(value, float)]
    if numbers and any(not value.is_integer() for value in numbers):
        return REGRESSION
    return SINGLE_LABEL


# ---------------------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------------------


class ClassificationTask(Task):
    """Sequence classification and regression over one text or a pair of texts."""

    name = "classification"
    arguments_class = ClassificationArguments
    auto_model_class = AutoModelForSequenceClassification
    pipeline_tag = head_for(AutoModelForSequenceClassification).pipeline_tag
    architectures = ARCHITECTURES  # the head pools any of them (first token, last token or mean)

    def __init__(self, args: ClassificationArguments, max_seq_length: int = 128, num_proc: int | None = None):
        super().__init__(args, max_seq_length, num_proc)
        self.problem_type: str | None = None if args.problem_type == "auto" else args.problem_type
        self.labels: LabelVocabulary | None = None

    @property
    def main_metric(self) -> str:  # type: ignore[override]
        return {REGRESSION: "pearson", MULTI_LABEL: "f1_micro"}.get(self.problem_type or SINGLE_LABEL, "accuracy")

    # ---- data ------------------------------------------------------------------------------------------

    def input_columns(self) -> dict[str, str]:
        columns = {self.args.text_column: "--text_column"}
        if self.args.text_pair_column:
            columns[self.args.text_pair_column] = "--text_pair_column"
        return columns

    def target_columns(self) -> dict[str, str]:
        return {self.args.label_column: "--label_column"}

    def training_texts(self, examples: Dataset) -> Iterator[str]:
        for column in self.input_columns():
            yield from examples[column]

    def find_bad_rows(self, examples: Dataset, split: Split) -> list[BadRow]:
        bad = []
        for column in self.input_columns():
            bad += find_bad_texts(examples[column], column)
        if self.has_references(examples):
            bad += self._find_bad_labels(examples[self.args.label_column], self._class_label_names(examples))
        return bad

    def _find_bad_labels(self, values: Sequence[Any], class_label_names: list[str] | None) -> list[BadRow]:
        column = self.args.label_column
        problem_type = self.problem_type or detect_problem_type(values)
        if problem_type == REGRESSION:
            return find_bad_numbers(values, column)
        bad = []
        usable = []  # each row's labels, for the mixed-kinds check of a training split
        for index, value in enumerate(values):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                bad.append(BadRow(index, column, "missing label (null)"))
                continue
            if problem_type == MULTI_LABEL and not isinstance(value, (list, tuple)):
                bad.append(BadRow(index, column, "multi-label target is not a list", f"got {value!r}"))
                continue
            labels = value if problem_type == MULTI_LABEL else [value]
            if self.labels is None:  # the label set is learned from this (training) split
                usable.append((index, labels))
                continue
            for label in labels:
                if self.labels.id_of(label) is None:
                    bad.append(
                        BadRow(
                            index,
                            column,
                            "label not seen in training",
                            f"{label!r}; the model's labels are {self.labels.describe()}",
                        )
                    )
        if usable and not (self.args.class_names or class_label_names):  # names make integers ids: no mix-up
            bad += find_mixed_labels(usable, column)
        return bad

    # ---- model shape -----------------------------------------------------------------------------------

    def fit(self, train_examples: Dataset) -> None:
        values = train_examples[self.args.label_column]
        self.problem_type = self.problem_type or detect_problem_type(values)
        if self.problem_type == REGRESSION:
            self.labels = LabelVocabulary([self.args.label_column])
            return
        flat = [label for value in values for label in value] if self.problem_type == MULTI_LABEL else values
        self.labels = LabelVocabulary.from_values(
            flat, self.args.class_names or self._class_label_names(train_examples)
        )
        if len(self.labels) < 2 and self.problem_type == SINGLE_LABEL:
            raise ValueError(
                f"The training labels (column {self.args.label_column!r}) hold a single value "
                f"{self.labels.names[0]!r}; classification needs at least two. For a numeric target pass "
                "--problem_type regression."
            )

    def _class_label_names(self, examples: Dataset) -> list[str] | None:
        feature = examples.features.get(self.args.label_column)
        feature = getattr(feature, "feature", feature)  # a list of ClassLabel for multi-label
        return list(feature.names) if isinstance(feature, ClassLabel) else None

    def load_from_config(self, config: PretrainedConfig) -> None:
        self.problem_type = config.problem_type or (REGRESSION if config.num_labels == 1 else SINGLE_LABEL)
        self.labels = LabelVocabulary([config.id2label[i] for i in range(config.num_labels)])

    def config_updates(self) -> dict[str, Any]:
        assert self.labels is not None, "fit() or load_from_config() must run first"
        return {
            "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels.names)),
            "label2id": {name: i for i, name in enumerate(self.labels.names)},
            "problem_type": self.problem_type,
        }

    # ---- features --------------------------------------------------------------------------------------

    def _encode_label(self, value: Any) -> int | float | list[float]:
        if self.problem_type == REGRESSION:
            return float(value)
        if self.problem_type == MULTI_LABEL:
            hot = [0.0] * len(self.labels)
            for label in value:
                hot[self.labels.id_of(label)] = 1.0
            return hot
        return self.labels.id_of(value)

    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        with_labels = self.has_references(examples)

        def tokenize(batch: dict[str, list]) -> dict[str, list]:
            pairs = batch[self.args.text_pair_column] if self.args.text_pair_column else None
            features = tokenizer(batch[self.args.text_column], pairs, truncation=True, max_length=self.max_seq_length)
            if with_labels:
                features["labels"] = [self._encode_label(value) for value in batch[self.args.label_column]]
            return dict(features)

        return self.map(examples, tokenize, split)

    # ---- outputs and metrics ---------------------------------------------------------------------------

    def postprocess(self, predictions: Any, features: Dataset, examples: Dataset) -> list[dict[str, Any]]:
        logits = np.asarray(predictions[0] if isinstance(predictions, tuple) else predictions, dtype=np.float32)
        names = self.labels.names
        if self.problem_type == REGRESSION:
            return [{"label": names[0], "score": float(value)} for value in logits[:, 0]]
        if self.problem_type == MULTI_LABEL:
            probabilities = expit(logits)
            threshold = self.args.multi_label_threshold
            return [
                {
                    "labels": [name for name, p in zip(names, row) if p >= threshold],
                    "label": names[int(row.argmax())],
                    "score": float(row.max()),
                    "scores": {name: float(p) for name, p in zip(names, row)},
                }
                for row in probabilities
            ]
        probabilities = softmax(logits, axis=-1)
        return [
            {
                "label": names[int(row.argmax())],
                "score": float(row.max()),
                "scores": {name: float(p) for name, p in zip(names, row)},
            }
            for row in probabilities
        ]

    def compute_metrics(self, outputs: list[dict[str, Any]], examples: Dataset) -> dict[str, Any]:
        references = examples[self.args.label_column]
        if self.problem_type == REGRESSION:
            return regression_metrics([output["score"] for output in outputs], references)
        if self.problem_type == MULTI_LABEL:
            predicted = [self._encode_label(output["labels"]) for output in outputs]
            return multilabel_metrics(
                predicted, [self._encode_label(value) for value in references], label_names=self.labels.names
            )
        predicted = [self.labels.id_of(output["label"]) for output in outputs]
        return classification_metrics(
            predicted, [self.labels.id_of(value) for value in references], label_names=self.labels.names
        )


__all__ = [
    "MULTI_LABEL",
    "PROBLEM_TYPES",
    "REGRESSION",
    "SINGLE_LABEL",
    "ClassificationArguments",
    "ClassificationTask",
    "LabelVocabulary",
    "detect_problem_type",
]
