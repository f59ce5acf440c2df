"""The classification task on its own: labels, problem types, features, outputs and metrics (no Trainer)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value

from transfuse.tasks import TASKS, get_task_class
from transfuse.tasks.classification import (
    MULTI_LABEL,
    REGRESSION,
    SINGLE_LABEL,
    ClassificationArguments,
    ClassificationTask,
    LabelVocabulary,
    detect_problem_type,
)
from transfuse.tokenization import train_tokenizer

TEXTS = ["a good film", "a bad film", "good acting", "bad acting", "really good", "really bad"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS * 5, kind="wordpiece", vocab_size=120, min_frequency=1, show_progress=False)


def make_task(**kwargs) -> ClassificationTask:
    return ClassificationTask(ClassificationArguments(**kwargs), max_seq_length=16)


def test_registry_finds_classification_and_rejects_unknown_names():
    assert get_task_class("classification") is ClassificationTask
    with pytest.raises(ValueError, match="choose one of: classification"):
        get_task_class("clasification")
    assert "classification" in TASKS


@pytest.mark.parametrize(
    "values, expected",
    [
        (["pos", "neg", None], SINGLE_LABEL),
        ([0, 1, 2], SINGLE_LABEL),
        ([1.0, 0.0, None], SINGLE_LABEL),  # an integer column read with nulls becomes float
        ([0.5, 3.25], REGRESSION),
        ([float("nan"), 1.0], REGRESSION),
        ([["a", "b"], [], ["b"]], MULTI_LABEL),
    ],
)
def test_problem_type_detection(values, expected):
    assert detect_problem_type(values) == expected


def test_label_vocabulary_orders_and_maps_values():
    strings = LabelVocabulary.from_values(["pos", "neg", "pos"])
    assert strings.names == ["neg", "pos"] and strings.id_of("pos") == 1 and strings.id_of("neutral") is None
    integers = LabelVocabulary.from_values([10, 2, 2.0])  # numeric, not lexicographic, order; 2.0 is 2
    assert integers.names == ["2", "10"] and integers.id_of(2.0) == 0 and integers.id_of(10) == 1
    named = LabelVocabulary.from_values([0, 1], names=["negative", "positive"])
    assert named.id_of(1) == 1 and named.id_of("negative") == 0 and named.id_of(2) is None


def test_class_label_names_of_a_hub_dataset_become_the_label_names():
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    train = Dataset.from_dict({"text": TEXTS[:4], "label": [1, 0, 1, 0]}, features=features)
    task = make_task()
    task.fit(train)
    assert task.config_updates()["id2label"] == {0: "neg", 1: "pos"}
    assert task.problem_type == SINGLE_LABEL


def test_single_sentence_and_pair_features(tokenizer):
    data = Dataset.from_dict({"text": TEXTS[:2], "other": TEXTS[2:4], "label": ["pos", "neg"]})
    single, pair = make_task(), make_task(text_pair_column="other")
    for task in (single, pair):
        task.fit(data)
    single_features = single.preprocess(data, tokenizer, "train")
    pair_features = pair.preprocess(data, tokenizer, "train")
    assert single_features.column_names == ["input_ids", "attention_mask", "labels"]
    assert single_features["labels"] == [1, 0]
    sep = tokenizer.sep_token_id
    assert single_features[0]["input_ids"].count(sep) == 1
    assert pair_features[0]["input_ids"].count(sep) == 3  # <s> A </s></s> B </s>
    assert len(pair_features[0]["input_ids"]) > len(single_features[0]["input_ids"])


def test_single_label_outputs_and_metrics():
    data = Dataset.from_dict({"text": TEXTS[:4], "label": ["pos", "neg", "pos", "neg"]})
    task = make_task()
    task.fit(data)
    logits = np.array([[0.0, 2.0], [3.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # ids: neg=0, pos=1
    outputs = task.postprocess(logits, data, data)
    assert [o["label"] for o in outputs] == ["pos", "neg", "neg", "pos"]
    assert outputs[0]["score"] == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert sum(outputs[0]["scores"].values()) == pytest.approx(1.0)
    metrics = task.compute_metrics(outputs, data)
    assert metrics["accuracy"] == 0.5 and set(metrics["per_class"]) == {"neg", "pos"}
    assert metrics["per_class"]["pos"]["support"] == 2
    assert task.main_metric == "accuracy"


def test_multi_label_encoding_outputs_and_metrics(tokenizer):
    data = Dataset.from_dict({"text": TEXTS[:3], "label": [["action", "comedy"], ["drama"], []]})
    task = make_task(multi_label_threshold=0.5)
    task.fit(data)
    assert task.problem_type == MULTI_LABEL and task.labels.names == ["action", "comedy", "drama"]
    features = task.preprocess(data, tokenizer, "train")
    assert features["labels"] == [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    logits = np.array([[5.0, 5.0, -5.0], [-5.0, -5.0, 5.0], [-5.0, 5.0, -5.0]])
    outputs = task.postprocess(logits, features, data)
    assert outputs[0]["labels"] == ["action", "comedy"] and outputs[2]["labels"] == ["comedy"]
    metrics = task.compute_metrics(outputs, data)
    assert metrics["subset_accuracy"] == pytest.approx(2 / 3)
    assert task.config_updates()["problem_type"] == MULTI_LABEL


def test_regression_encoding_outputs_and_metrics(tokenizer):
    data = Dataset.from_dict({"text": TEXTS[:4], "score": [0.5, 1.5, 2.5, 4.0]})
    task = make_task(label_column="score")
    task.fit(data)
    assert task.problem_type == REGRESSION
    assert task.config_updates() | {} == {
        "num_labels": 1,
        "id2label": {0: "score"},
        "label2id": {"score": 0},
        "problem_type": REGRESSION,
    }
    assert task.preprocess(data, tokenizer, "train")["labels"] == [0.5, 1.5, 2.5, 4.0]
    outputs = task.postprocess(np.array([[0.4], [1.6], [2.4], [4.2]]), data, data)
    assert outputs[1] == {"label": "score", "score": pytest.approx(1.6)}
    metrics = task.compute_metrics(outputs, data)
    assert metrics["pearson"] > 0.99 and metrics["spearman"] == pytest.approx(1.0)
    assert task.main_metric == "pearson"


def test_bad_rows_are_found_per_kind():
    task = make_task()
    train = Dataset.from_dict({"text": ["fine", "", None, "ok"], "label": ["pos", "neg", "pos", None]})
    problems = {(bad.index, bad.problem) for bad in task.find_bad_rows(train, "train")}
    assert problems == {(1, "empty text"), (2, "missing text (null)"), (3, "missing label (null)")}

    task.fit(Dataset.from_dict({"text": ["a", "b"], "label": ["pos", "neg"]}))
    validation = Dataset.from_dict({"text": ["a", "b"], "label": ["pos", "neutral"]})
    [unseen] = task.find_bad_rows(validation, "validation")
    assert (unseen.index, unseen.problem) == (
        1,
        "label not seen in training",
    ) and "'neutral'" in unseen.detail

    regression = make_task(problem_type="regression")
    bad = regression.find_bad_rows(
        Dataset.from_dict({"text": ["a", "b", "c"], "label": [1.0, float("nan"), 2.0]}), "train"
    )
    assert [(b.index, b.problem) for b in bad] == [(1, "target is NaN or infinite")]


def test_restoring_labels_from_a_model_config():
    from transfuse import get_preset

    config = get_preset("tiny", num_labels=3, id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2})
    task = make_task()
    task.load_from_config(config)
    assert task.problem_type == SINGLE_LABEL and task.labels.names == ["a", "b", "c"]
    assert task.labels.id_of(2) == 2  # integer data labels address named classes


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(problem_type="ordinal"), "--problem_type 'ordinal' is not supported"),
        (dict(text_pair_column="text"), "same column as --text_column"),
        (dict(label_column="text"), "--label_column 'text' is also a text column"),
        (dict(class_names=["only"]), "at least two distinct names"),
        (dict(multi_label_threshold=1.5), "--multi_label_threshold"),
    ],
)
def test_impossible_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassificationArguments(**kwargs)


def test_a_single_training_label_is_refused():
    task = make_task()
    with pytest.raises(ValueError, match="single value 'pos'.*--problem_type regression"):
        task.fit(Dataset.from_dict({"text": ["a", "b"], "label": ["pos", "pos"]}))
