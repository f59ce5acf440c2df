"""SQuAD reading and checks (no model): nested v1.1 / v2.0 JSON, flat layouts, and every bad input of issue 16."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

from transfuse.data.validation import DataValidationError, drop_bad_rows
from transfuse.tasks import get_task_class
from transfuse.tasks.qa import QuestionAnsweringArguments, QuestionAnsweringTask
from transfuse.tasks.qa.data import (
    SquadFormatError,
    canonical_answers,
    fix_answer_starts,
    is_squad_document,
    nearest_occurrence,
    read_squad_json,
)

CONTEXT = "Ada Lovelace wrote the first program. Ada was born in London in 1815."


def squad_document(version: str = "1.1", impossible: bool = False) -> dict:
    qas = [
        {
            "id": "q1",
            "question": "Who wrote the first program?",
            "answers": [{"text": "Ada Lovelace", "answer_start": 0}, {"text": "Lovelace", "answer_start": 4}],
        },
        {"id": "q2", "question": "Where was Ada born?", "answers": [{"text": "London", "answer_start": 54}]},
    ]
    if impossible:
        qas.append(
            {
                "id": "q3",
                "question": "Who wrote the last program?",
                "is_impossible": True,
                "answers": [],
                "plausible_answers": [{"text": "Ada", "answer_start": 38}],
            }
        )
    return {"version": version, "data": [{"title": "Ada", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}


def write_json(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def make_task(**kwargs) -> QuestionAnsweringTask:
    return QuestionAnsweringTask(QuestionAnsweringArguments(**kwargs), max_seq_length=64)


def check(task: QuestionAnsweringTask, rows: dict, split: str = "train", skip: bool = False):
    examples = Dataset.from_dict(rows)
    return drop_bad_rows(examples, task.find_bad_rows(examples, split), "data.jsonl", skip)


def flat(**overrides) -> dict:
    rows = {
        "id": ["q1", "q2"],
        "question": ["Who wrote the first program?", "Where was Ada born?"],
        "context": [CONTEXT, CONTEXT],
        "answers": [{"text": ["Ada Lovelace"], "answer_start": [0]}, {"text": ["London"], "answer_start": [54]}],
    }
    rows.update(overrides)
    return rows


def test_registry_and_nested_json_v1_and_v2(tmp_path):
    assert get_task_class("qa") is QuestionAnsweringTask
    v1 = write_json(tmp_path / "v1.json", squad_document())
    assert is_squad_document(v1) and QuestionAnsweringTask.handles_file(v1)
    examples, report = read_squad_json(v1)
    assert examples.column_names == ["id", "title", "context", "question", "answers"]
    assert examples[0]["answers"] == {"text": ["Ada Lovelace", "Lovelace"], "answer_start": [0, 4]}
    assert report.total_rows == 2 and report.skipped == 0
    v2 = write_json(tmp_path / "v2.json", squad_document("v2.0", impossible=True))
    examples = make_task().read_file(v2, "--train_file", False).examples
    # is_impossible empties the answers; plausible answers never become references
    assert examples[2]["id"] == "q3" and examples[2]["answers"] == {"text": [], "answer_start": []}


def test_flat_files_are_left_to_the_shared_reader(tmp_path):
    lines = tmp_path / "rows.json"
    rows = [
        {"id": f"q{i}", "question": "q", "context": "c", "answers": {"text": [], "answer_start": []}} for i in range(2)
    ]
    lines.write_text("\n".join(json.dumps(row) for row in rows))
    records = write_json(tmp_path / "records.json", rows)
    one_row = write_json(tmp_path / "one.json", {"data": "x", "id": 1})  # JSON Lines of one row keyed `data`
    assert not is_squad_document(lines) and not is_squad_document(records)
    assert is_squad_document(one_row)  # one object with `data` first: read as SQuAD, and refused as not shaped
    with pytest.raises(SquadFormatError, match=r"the top level\['data'\] is a str, expected list"):
        read_squad_json(one_row)


@pytest.mark.parametrize(
    "document, message",
    [
        ({"version": "1.1"}, "the top level has no key 'data'"),
        ({"data": [{"title": "t"}]}, r"data\[0\] has no key 'paragraphs'"),
        ({"data": [{"paragraphs": [{"qas": []}]}]}, r"data\[0\]\.paragraphs\[0\] has no key 'context'"),
        ({"data": [{"paragraphs": [{"context": "c"}]}]}, r"paragraphs\[0\] has no key 'qas'"),
    ],
)
def test_json_that_is_not_squad_shaped_names_the_missing_key(tmp_path, document, message):
    with pytest.raises(SquadFormatError, match=message):
        read_squad_json(write_json(tmp_path / "bad.json", document))


def test_malformed_question_entries_raise_or_are_skipped_and_counted(tmp_path):
    document = squad_document()
    document["data"][0]["paragraphs"][0]["qas"].append({"id": "q9", "answers": []})
    path = write_json(tmp_path / "bad.json", document)
    with pytest.raises(SquadFormatError, match=r"qas\[2\] has no key 'question'.*--skip_bad_rows"):
        read_squad_json(path)
    examples, report = read_squad_json(path, skip_bad_rows=True)
    assert len(examples) == 2 and report.skipped == 1 and report.total_rows == 3


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"text": ["a"], "answer_start": [3]}, {"text": ["a"], "answer_start": [3]}),
        ({"text": "a", "answer_start": 3}, {"text": ["a"], "answer_start": [3]}),
        ([{"text": "a", "answer_start": 3}], {"text": ["a"], "answer_start": [3]}),
        ('{"text": ["a"], "answer_start": [3]}', {"text": ["a"], "answer_start": [3]}),  # a csv cell
        (None, {"text": [], "answer_start": []}),
        ({"text": ["a", "b"], "answer_start": [3]}, None),
        ({"answer": "a"}, None),
        ("not json", None),
    ],
)
def test_canonical_answers(value, expected):
    assert canonical_answers(value) == expected


def test_answer_text_and_start_columns_for_flat_csv(tmp_path):
    rows = flat()
    rows = {
        **{k: rows[k] for k in ("id", "question", "context")},
        "answer": ["Ada Lovelace", "London"],
        "start": [0, 54],
    }
    task = make_task(answer_text_column="answer", answer_start_column="start")
    examples, _ = check(task, rows)
    assert len(examples) == 2 and task.target_columns() == {
        "answer": "--answer_text_column",
        "start": "--answer_start_column",
    }
    with pytest.raises(ValueError, match="go together"):
        QuestionAnsweringArguments(answer_text_column="answer")


def test_misplaced_answer_start_names_the_id_or_is_fixed_and_counted():
    rows = flat(answers=[{"text": ["Ada Lovelace"], "answer_start": [0]}, {"text": ["London"], "answer_start": [50]}])
    with pytest.raises(
        DataValidationError,
        match=r"row 2.*answer_start does not point at the answer text.*id 'q2'"
        r".*occurs at 54.*--fix_answer_starts",
    ):
        check(make_task(), rows)
    task = make_task(fix_answer_starts=True)
    examples, report = check(task, rows)
    assert len(examples) == 2 and report.skipped == 0 and task.moved_answer_starts == 1
    assert nearest_occurrence("x ab ab ab", "ab", 6) == 5 and nearest_occurrence("abc", "z", 0) is None
    fixed, moved = fix_answer_starts(CONTEXT, {"text": ["Ada", "nowhere"], "answer_start": [30, 3]})
    assert fixed["answer_start"] == [38, 3] and moved == 1  # the nearest "Ada" to 30; "nowhere" is left alone


def test_answer_text_missing_from_the_context_stays_bad_even_with_fixing():
    rows = flat(answers=[{"text": ["Babbage"], "answer_start": [0]}, {"text": ["London"], "answer_start": [54]}])
    with pytest.raises(DataValidationError, match="nowhere in the context"):
        check(make_task(fix_answer_starts=True), rows)
    examples, report = check(make_task(fix_answer_starts=True), rows, skip=True)
    assert examples["id"] == ["q2"] and report.skipped == 1


def test_empty_question_or_context_duplicate_ids_and_v1_unanswerable():
    with pytest.raises(DataValidationError, match=r"row 1, column 'question': empty text"):
        check(make_task(), flat(question=["  ", "Where was Ada born?"]))
    with pytest.raises(DataValidationError, match=r"row 2, column 'context': missing text"):
        check(make_task(), flat(context=[CONTEXT, None]))
    with pytest.raises(DataValidationError, match=r"row 2, column 'id': duplicate id \(id 'q1' is also row 1\)"):
        check(make_task(), flat(id=["q1", "q1"]))
    unanswerable = flat(answers=[{"text": ["Ada Lovelace"], "answer_start": [0]}, {"text": [], "answer_start": []}])
    with pytest.raises(
        DataValidationError,
        match=r"unanswerable question in a SQuAD v1.1 set.*id 'q2'.*"
        "--version_2_with_negative",
    ):
        check(make_task(), unanswerable)
    examples, report = check(make_task(), unanswerable, skip=True)
    assert len(examples) == 1 and report.skipped == 1
    assert len(check(make_task(version_2_with_negative=True), unanswerable)[0]) == 2


def test_rows_to_predict_need_no_answers():
    rows = flat()
    del rows["answers"]
    examples, _ = check(make_task(), rows, split="test")
    assert len(examples) == 2


def test_arguments_checks():
    with pytest.raises(ValueError, match="--max_answer_length 0 must be a positive integer"):
        QuestionAnsweringArguments(max_answer_length=0)
    with pytest.raises(ValueError, match="three different columns"):
        QuestionAnsweringArguments(question_column="context")

    class Args:
        task = QuestionAnsweringArguments(doc_stride=128)

        class data:  # noqa: N801
            max_seq_length = 128

    with pytest.raises(ValueError, match="--doc_stride 128 must be smaller than --max_seq_length 128"):
        QuestionAnsweringTask.check_arguments(Args, "train")
