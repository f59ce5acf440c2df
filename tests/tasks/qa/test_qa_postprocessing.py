"""Post-processing on hand-built logits: n-best over windows, answer length, exact spans, the null answer."""

from __future__ import annotations

import numpy as np
import pytest

from transfuse.tasks.qa.postprocessing import answer_example, postprocess_predictions, window_candidates

CONTEXT = "Ada wrote code in London"
#          0   4     10   15 18
# tokens: 0 = null/CLS, 1 = question, 2.. = context words
WORDS = [(0, 3), (4, 9), (10, 14), (15, 17), (18, 24)]
OFFSETS = [None, None, *WORDS]


def logits(starts: dict[int, float], ends: dict[int, float], length: int = 7) -> tuple[np.ndarray, np.ndarray]:
    start, end = np.full(length, -10.0), np.full(length, -10.0)
    for position, value in starts.items():
        start[position] = value
    for position, value in ends.items():
        end[position] = value
    return start, end


def test_window_candidates_respect_order_length_and_context():
    start, end = logits({2: 5.0, 6: 4.0, 1: 9.0}, {2: 1.0, 4: 3.0, 1: 9.0})
    candidates = dict((span, score) for score, span in window_candidates(start, end, OFFSETS, 20, 30))
    assert candidates[(0, 14)] == pytest.approx(8.0)  # "Ada wrote code"
    assert (0, 3) in candidates and all(s <= e for s, e in candidates)
    assert not any(span[0] == 4 and span[1] == 3 for span in candidates)  # ends before it starts
    assert all(span[0] >= 0 for span in candidates)  # the question token (logit 9) is never a span end
    short = dict((span, score) for score, span in window_candidates(start, end, OFFSETS, 20, 2))
    assert (0, 14) not in short and (0, 3) in short  # three tokens > --max_answer_length 2
    # logits padded beyond the window (the evaluation loop pads with -100) are ignored
    padded = window_candidates(np.concatenate([start, [50.0]]), np.concatenate([end, [50.0]]), OFFSETS, 20, 30)
    assert max(score for score, _ in padded) == pytest.approx(8.0)


def test_best_span_over_windows_exact_characters_and_probabilities():
    # window 1 sees "Ada wrote code", window 2 "code in London" (tokens re-indexed); London wins in window 2
    second_offsets = [None, None, (10, 14), (15, 17), (18, 24)]
    w1 = (*logits({2: 2.0}, {2: 2.0}), OFFSETS[:5], 0)
    w2 = (*logits({4: 3.0, 2: 1.0}, {4: 3.0}, length=5), second_offsets, 0)
    answer = answer_example(CONTEXT, [w1, w2], n_best_size=3)
    assert answer["answer"] == "London" and answer["start"] == 18 and not answer["is_impossible"]
    assert CONTEXT[answer["start"] : answer["start"] + len(answer["answer"])] == "London"
    assert [c["answer"] for c in answer["n_best"]][:2] == ["London", "Ada"]
    assert len(answer["n_best"]) == 3 and sum(c["score"] for c in answer["n_best"]) == pytest.approx(1.0)
    assert answer["score"] == answer["n_best"][0]["score"] > 0.5


def test_a_span_seen_in_two_overlapping_windows_counts_once_with_its_best_score():
    shared = [None, None, (10, 14), (15, 17)]
    w1 = (*logits({2: 1.0}, {2: 1.0}, length=4), shared, 0)
    w2 = (*logits({2: 4.0}, {2: 4.0}, length=4), shared, 0)
    answer = answer_example(CONTEXT, [w1, w2], n_best_size=5)
    assert [c["answer"] for c in answer["n_best"]].count("code") == 1


def test_whitespace_in_offsets_is_trimmed():
    offsets = [None, (3, 9)]  # byte-level BPE: " wrote" with its leading space
    answer = answer_example(CONTEXT, [(*logits({1: 5.0}, {1: 5.0}, 2), offsets, 0)])
    assert answer["answer"] == "wrote" and answer["start"] == 4


def test_v2_null_answer_against_the_best_span_and_the_threshold():
    # null score (CLS) = 3 + 3 = 6, best span "London" = 2.5 + 2.5 = 5: difference 1
    window = (*logits({0: 3.0, 6: 2.5}, {0: 3.0, 6: 2.5}), OFFSETS, 0)
    v1 = answer_example(CONTEXT, [window])
    assert v1["answer"] == "London" and not v1["is_impossible"]  # v1.1 never answers "no answer"
    v2 = answer_example(CONTEXT, [window], version_2_with_negative=True, null_threshold=0.0)
    assert v2["answer"] == "" and v2["start"] is None and v2["is_impossible"]
    assert v2["null_score_diff"] == pytest.approx(1.0) and v2["best_span"] == "London"
    probabilities = np.exp([5.0, 6.0]) / np.exp([5.0, 6.0]).sum()
    assert v2["score"] == pytest.approx(probabilities[1], rel=1e-3)  # the null answer's probability
    lenient = answer_example(CONTEXT, [window], version_2_with_negative=True, null_threshold=1.5)
    assert lenient["answer"] == "London" and not lenient["is_impossible"]


def test_v2_null_score_is_the_smallest_over_windows():
    w1 = (*logits({0: 5.0, 2: 1.0}, {0: 5.0, 2: 1.0}), OFFSETS, 0)  # null 10
    w2 = (*logits({0: -1.0, 6: 1.5}, {0: -1.0, 6: 1.5}), OFFSETS, 0)  # null -2, span 3
    answer = answer_example(CONTEXT, [w1, w2], version_2_with_negative=True)
    assert answer["null_score_diff"] == pytest.approx(-2.0 - 3.0) and answer["answer"] == "London"


def test_postprocess_predictions_groups_windows_by_example_in_order():
    start_a, end_a = logits({2: 5.0}, {2: 5.0})
    start_b, end_b = logits({6: 5.0}, {6: 5.0})
    outputs = postprocess_predictions(
        np.stack([start_b, start_a, start_b]),
        np.stack([end_b, end_a, end_b]),
        example_indices=[1, 0, 1],
        offsets=[OFFSETS] * 3,
        null_indices=[0, 0, 0],
        contexts=[CONTEXT, CONTEXT],
    )
    assert [output["answer"] for output in outputs] == ["Ada", "London"]
    with pytest.raises(ValueError, match="out of step"):
        postprocess_predictions(np.stack([start_a]), np.stack([end_a]), [0, 0], [OFFSETS] * 2, [0, 0], [CONTEXT])
