"""SQuAD v1.1 metric: official normalisation, max over references, aggregation and input formats."""

from __future__ import annotations

import numpy as np
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


# ---- SQuAD v2.0 ------------------------------------------------------------------------------------------


def test_v2_scores_unanswerable_questions_and_splits(assert_plain_json) -> None:
    from transfuse.metrics import squad_v2_metrics

    # q1 answerable, right; q2 answerable, "" given (0); q3 unanswerable, "" given (1); q4 unanswerable, a span (0)
    preds = ["the red dog", "", "", "cat"]
    refs = [["red dog"], ["a cat"], [], ["", "  "]]  # answers that normalise to nothing make q4 unanswerable too
    out = squad_v2_metrics(preds, refs)
    assert out == pytest.approx(
        {
            "exact_match": 50.0,
            "f1": 50.0,
            "total": 4,
            "has_ans_exact_match": 50.0,
            "has_ans_f1": 50.0,
            "has_ans_total": 2,
            "no_ans_exact_match": 50.0,
            "no_ans_f1": 50.0,
            "no_ans_total": 2,
        }
    )
    assert_plain_json(out)


def test_v2_f1_differs_from_v1_only_on_empty_sides() -> None:
    from transfuse.metrics.qa import v2_f1_score

    assert v2_f1_score("", "") == 1.0 and f1_score("", "") == 0.0
    assert v2_f1_score("the", "") == 1.0  # "the" normalises to nothing: both sides empty
    assert v2_f1_score("dog", "") == 0.0
    assert v2_f1_score("the big red dog", "red dog") == pytest.approx(0.8)


def test_best_null_threshold_picks_the_f1_maximising_value_by_hand() -> None:
    from transfuse.metrics.qa import best_null_threshold

    # diffs sorted: -2 (has ans, span F1 1), -1 (no ans), 0.5 (has ans, span F1 0.5), 3 (no ans)
    diffs = [0.5, -2.0, 3.0, -1.0]
    span_f1 = [0.5, 1.0, 0.0, 0.0]
    has = [True, True, False, False]
    # answer nobody: 2 (the two NoAns); answer -2: 3; +(-1): 2; +(0.5): 2.5; +(3): 1.5 -> best 3/4 between -2 and -1
    threshold, best = best_null_threshold(diffs, span_f1, has)
    assert threshold == pytest.approx(-1.5) and best == pytest.approx(75.0)
    # brute force over a grid agrees
    grid = np.linspace(-4, 4, 801)
    scores = [
        np.mean([(s if d <= t else 0.0) if h else (0.0 if d <= t else 1.0) for d, s, h in zip(diffs, span_f1, has)])
        for t in grid
    ]
    assert max(scores) * 100 == pytest.approx(best)
    # all answerable with good spans: answer everything, threshold above the largest difference
    assert best_null_threshold([1.0, 2.0], [1.0, 1.0], [True, True]) == pytest.approx((3.0, 100.0))
    # ties move together: equal differences cannot be split by any threshold
    assert best_null_threshold([0.0, 0.0], [1.0, 0.0], [True, False])[1] == pytest.approx(50.0)


def test_v2_best_threshold_in_the_metrics() -> None:
    from transfuse.metrics import squad_v2_metrics

    refs = [["red dog"], []]
    out = squad_v2_metrics(["red dog", "cat"], refs, null_score_diffs=[-3.0, 1.0], best_spans=["red dog", "cat"])
    assert out["f1"] == pytest.approx(50.0) and out["best_f1"] == pytest.approx(100.0)
    assert -3.0 < out["best_f1_threshold"] < 1.0 and out["best_exact_match"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="both"):
        squad_v2_metrics(["a"], [["a"]], null_score_diffs=[0.0])
