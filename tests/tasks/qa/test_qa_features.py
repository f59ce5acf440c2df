"""Question + context windows: the gold-span round trip across window borders, training labels, dropped
answers, long questions, slow and left-padding tokenizers (no model)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from datasets import Dataset

from transfuse.tasks.qa import QuestionAnsweringArguments, QuestionAnsweringTask
from transfuse.tasks.qa.features import (
    OFFSETS,
    QuestionTooLongError,
    WindowReport,
    gold_token_span,
    prepare_features,
    question_first,
)
from transfuse.tasks.qa.postprocessing import trim_span
from transfuse.tokenization import train_tokenizer

WORDS = "alpha beta gamma delta epsilon zeta theta iota kappa lambda sigma omega river stone cloud".split()


def make_examples(n: int, seed: int = 0) -> dict[str, list]:
    """Contexts of 30-60 words (some with punctuation); answers of 1-3 words anywhere in them."""
    rng = random.Random(seed)
    rows: dict[str, list] = {"id": [], "question": [], "context": [], "answers": []}
    for i in range(n):
        words = [rng.choice(WORDS) + rng.choice(["", "", ",", "."]) for _ in range(rng.randint(30, 60))]
        first = rng.randrange(len(words) - 3)
        answer_words = words[first : first + rng.randint(1, 3)]
        context = " ".join(words)
        start = len(" ".join(words[:first])) + (1 if first else 0)
        text = context[start : start + len(" ".join(answer_words))].rstrip(",.")
        rows["id"].append(f"q{i}")
        rows["question"].append(f"what comes after {rng.choice(WORDS)} ?")
        rows["context"].append(context)
        rows["answers"].append({"text": [text], "answer_start": [start]})
    return rows


@pytest.fixture(scope="module")
def tokenizers():
    examples = make_examples(20)
    texts = [" ".join(WORDS)] * 20 + examples["context"] + examples["question"] * 5
    bpe = train_tokenizer(texts, kind="bpe", vocab_size=600, min_frequency=1, show_progress=False)
    wordpiece = train_tokenizer(texts, kind="wordpiece", vocab_size=300, min_frequency=1, show_progress=False)
    left = train_tokenizer(texts, kind="bpe", vocab_size=600, min_frequency=1, show_progress=False)
    left.padding_side = "left"
    return {"bpe": bpe, "wordpiece": wordpiece, "left-padding bpe": left}


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "left-padding bpe"])
def test_every_gold_answer_comes_back_from_its_gold_token_span_across_window_borders(tokenizers, kind):
    tokenizer = tokenizers[kind]
    rows = make_examples(40, seed=1)
    features = prepare_features(
        tokenizer,
        rows["question"],
        rows["context"],
        range(40),
        max_seq_length=32,
        doc_stride=12,
        answers=rows["answers"],
        ids=rows["id"],
    )
    held = set()
    cut_by_a_border = 0
    for window, example in enumerate(features["example_index"]):
        offsets = features[OFFSETS][window]
        answer = rows["answers"][example]
        start, text = answer["answer_start"][0], answer["text"][0]
        span = gold_token_span(offsets, start, start + len(text))
        if span is None:
            # the window lacks the answer (wholly or partly): its label is the null position
            assert features["start_positions"][window] == features["end_positions"][window]
            assert features["start_positions"][window] == features["null_index"][window]
            inside = [s for s in offsets if s is not None and s[0] < start + len(text) and s[1] > start]
            cut_by_a_border += bool(inside)
            continue
        first, last = span
        assert (features["start_positions"][window], features["end_positions"][window]) == span
        # byte-level BPE offsets may include the space before a word: the post-processing trims it
        assert trim_span(rows["context"][example], offsets[first][0], offsets[last][1]) == (start, start + len(text))
        held.add(example)
    assert held == set(range(40))  # every answer is whole in at least one window
    assert cut_by_a_border > 5  # and the test did cross window borders
    assert max(len(ids) for ids in features["input_ids"]) <= 32
    assert len(features["input_ids"]) > 80  # several windows per context
    context_id = 1 if question_first(tokenizer) else 0
    assert question_first(tokenizer) == (kind != "left-padding bpe")
    assert context_id in (0, 1)


def test_answers_no_window_holds_are_dropped_and_reported(tokenizers):
    tokenizer = tokenizers["wordpiece"]
    rows = make_examples(3, seed=2)
    context = " ".join(["alpha"] * 10 + ["omega"] * 40)
    rows["context"][1] = context
    rows["answers"][1] = {"text": [" ".join(["omega"] * 30)], "answer_start": [60]}  # longer than a window
    report = WindowReport()
    features = prepare_features(
        tokenizer,
        rows["question"],
        rows["context"],
        [0, 1, 2],
        32,
        8,
        answers=rows["answers"],
        ids=rows["id"],
        report=report,
    )
    assert 1 not in features["example_index"] and {0, 2} <= set(features["example_index"])
    assert report.answers_outside == ["q1"] and "1 questions dropped from training" in report.summary("train")


def test_a_question_longer_than_the_window_fails_with_its_id(tokenizers):
    rows = make_examples(2)
    rows["question"][1] = " ".join(WORDS * 3)
    with pytest.raises(QuestionTooLongError, match=r"question id 'q1' is \d+ tokens long.*--max_seq_length 32"):
        prepare_features(tokenizers["bpe"], rows["question"], rows["context"], [0, 1], 32, 8, ids=rows["id"])


def test_the_task_refuses_a_slow_tokenizer_before_tokenizing():
    task = QuestionAnsweringTask(QuestionAnsweringArguments(), max_seq_length=64)
    slow = SimpleNamespace(is_fast=False)
    with pytest.raises(ValueError, match="needs a fast \\(Rust\\) tokenizer.*SimpleNamespace is a slow one"):
        task.preprocess(Dataset.from_dict(make_examples(2)), slow, "train")


def test_task_features_keep_bookkeeping_and_pad_on_the_right(tokenizers):
    tokenizer = tokenizers["left-padding bpe"]
    task = QuestionAnsweringTask(QuestionAnsweringArguments(doc_stride=8), max_seq_length=32)
    examples = Dataset.from_dict(make_examples(6))
    validation = task.preprocess(examples, tokenizer, "validation")
    assert {"example_index", "offset_mapping", "null_index"} <= set(validation.column_names)
    assert "start_positions" not in validation.column_names
    assert task.window_reports["validation"].windows == len(validation) > 6
    batch = task.data_collator(tokenizer)([validation[i] for i in range(4)])
    lengths = [len(validation[i]["input_ids"]) for i in range(4)]
    for row, length in enumerate(lengths):  # real tokens first, padding after: logit k is token k
        assert batch["attention_mask"][row, :length].all() and not batch["attention_mask"][row, length:].any()
    assert set(batch) <= {"input_ids", "attention_mask", "token_type_ids"}
    train = task.preprocess(examples, tokenizer, "train")
    assert {"start_positions", "end_positions"} <= set(train.column_names)
