"""Label vocabularies (`transfuse.tasks.labels`) and the refusal of a label column mixing integers and names."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

from transfuse.data import DataValidationError
from transfuse.tasks.classification import ClassificationArguments, ClassificationTask
from transfuse.tasks.labels import LabelVocabulary, find_mixed_labels, label_key
from transfuse.training import parse_arguments, workflow

MIXED = [0, 1, "negative", "positive", 1, "negative"]


def test_label_keys_and_vocabulary():
    assert label_key(1) == label_key(1.0) == label_key("1") == "1"
    vocabulary = LabelVocabulary.from_values(["b", "a", "b"])
    assert vocabulary.names == ["a", "b"] and vocabulary.id_of("b") == 1 and len(vocabulary) == 2
    assert LabelVocabulary([str(i) for i in range(12)]).describe().endswith("'9' ...")


def test_mixed_integer_and_named_labels_are_found_row_by_row():
    rows = list(enumerate([[value] for value in MIXED]))
    bad = find_mixed_labels(rows, "label")
    assert [row.index for row in bad] == [0, 1, 4]  # the integers: 3 rows against 3 named ones
    assert {row.problem for row in bad} == {"integer label among named labels"}
    assert "--class_names" in bad[0].detail and "'negative'" in bad[0].detail and "'0'" in bad[0].detail
    # one stray name among many integers: the name is the odd one out
    stray = find_mixed_labels(list(enumerate([["0"], ["1"], ["1"], ["positive"]])), "label")
    assert [(row.index, row.problem) for row in stray] == [(3, "named label among integer labels")]
    assert find_mixed_labels(list(enumerate([["0"], [1.0], ["2"]])), "label") == []
    assert find_mixed_labels(list(enumerate([["neg"], ["pos"]])), "label") == []


def test_classification_refuses_a_mixed_training_column_unless_names_are_given():
    train = Dataset.from_dict({"text": ["t"] * len(MIXED), "label": [str(value) for value in MIXED]})
    task = ClassificationTask(ClassificationArguments())
    assert [row.index for row in task.find_bad_rows(train, "train")] == [0, 1, 4]
    named = ClassificationTask(ClassificationArguments(class_names=["negative", "positive"]))
    assert named.find_bad_rows(train, "train") == []
    named.fit(train)
    assert named.config_updates()["id2label"] == {0: "negative", 1: "positive"}  # 0 is negative: two classes
    multi = ClassificationTask(ClassificationArguments(problem_type="multi_label_classification"))
    lists = Dataset.from_dict({"text": ["t", "t", "t"], "label": [["0"], ["a", "b"], ["b"]]})
    assert [row.index for row in multi.find_bad_rows(lists, "train")] == [0]


def test_train_stops_on_mixed_labels_naming_the_rows_and_the_fix(tmp_path):
    """Issue 15.7: `0, 1, negative, positive` in one column used to train a four-class model without a word."""
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps({"text": f"row {i}", "label": v}) + "\n" for i, v in enumerate(MIXED)))
    argv = ["--train_file", str(train_file), "--preset", "tiny", "--output_dir", str(tmp_path / "run")]
    with pytest.raises(DataValidationError) as error:
        workflow.train("classification", parse_arguments(ClassificationTask, argv), "transfuse train")
    message = str(error.value)
    assert "train.jsonl, row 1, column 'label': integer label among named labels" in message
    assert "row 5," in message and "--class_names" in message
    assert not (tmp_path / "run").exists()  # stopped before any model was built or saved
