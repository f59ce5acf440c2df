"""SQuAD v1.1 metric: official normalisation, max over references, aggregation and input formats."""

from __future__ import annotations

import pytest

from transfuse.metrics import normalize_answer, squad_metrics
from transfuse.metrics.qa import exact_match_score, f1_score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Cat!", "cat"),
        ("an apple a day", "apple day"),
        ("  Theater,  the   Athens  ", "theater athens"),  # articles only as whole words
        ("brown-fox's", "brownfoxs"),  # ASCII punctuation deleted, not replaced by a space
        ("A", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_pairwise_scores_by_hand() -> None:
    assert exact_match_score("The Eiffel Tower.", "eiffel tower")
    assert not exact_match_score("Eiffel", "eiffel tower")
    # pred {big, red, dog} vs {red, dog}: P=2/3 R=1 -> F1=0.8
    assert f1_score("the big red dog", "red dog") == pytest.approx(0.8)
    # token multiplicity counts: P=1/3 R=1 -> 0.5
    assert f1_score("dog dog dog", "dog") == pytest.approx(0.5)
    assert f1_score("", "") == 0.0  # v1.1: no common tokens -> 0 (SQuAD v2 would say 1)


def test_max_over_references_and_aggregation(assert_plain_json) -> None:
    # q1: exact after normalisation. q2: refs give F1 0.8 ({red,dog}) and 2/3 ({big,dog,barked}) -> max 0.8.
    preds = ["The cat", "the big red dog"]
    refs = [["a dog", "cat."], ["red dog", "a big dog barked"]]
    out = squad_metrics(preds, refs)
    assert out == pytest.approx({"exact_match": 50.0, "f1": 90.0})
    assert_plain_json(out)


def test_id_keyed_inputs_and_unanswered_questions() -> None:
    refs = {"q1": ["cat"], "q2": ["red dog"]}
    assert squad_metrics({"q1": "cat", "q2": "the big red dog", "extra": "x"}, refs) == pytest.approx(
        {"exact_match": 50.0, "f1": 90.0}
    )
    with pytest.warns(UserWarning, match="unanswered"):
        out = squad_metrics({"q1": "the cat"}, refs)  # q2 unanswered -> 0, still counted
    assert out == pytest.approx({"exact_match": 50.0, "f1": 50.0})


def test_hugging_face_squad_records() -> None:
    preds = [{"id": "a", "prediction_text": "Denver Broncos"}, {"id": "b", "prediction_text": "1990s"}]
    refs = [
        {"id": "a", "answers": {"text": ["Denver Broncos", "the Broncos"], "answer_start": [0, 4]}},
        {"id": "b", "answers": [{"text": "the 1980s", "answer_start": 3}]},
    ]
    assert squad_metrics(preds, refs) == pytest.approx({"exact_match": 50.0, "f1": 50.0})


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="same length"):
        squad_metrics(["a"], [["a"], ["b"]])
    with pytest.raises(TypeError):
        squad_metrics(["a"], {"q": ["a"]})
    with pytest.raises(ValueError, match="at least one reference"):
        squad_metrics(["a"], [[]])
