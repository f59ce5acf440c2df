"""From start/end logits over windows to one answer per question: plain functions over numpy arrays.

`run_qa.py` keeps this in `utils_qa.py`, and most QA projects copy that file. It is rebuilt here as small
functions that the task, the `question-answering` pipeline and the tests share, so that `transfuse predict`
and `pipeline()` give the same answer by construction:

* `window_candidates`: the best start/end pairs of one window (`n_best_size` starts x `n_best_size` ends, end
  not before start, at most `max_answer_length` tokens, both inside the context), as character spans;
* `answer_example`: the n-best spans over all windows of one question (a span seen in two overlapping windows
  counts once, with its best score), probabilities from a softmax over the candidates (and the null answer
  for SQuAD v2), and the decision: v1.1 answers with the best span; v2.0 answers "no answer" when the null
  score beats the best span score by more than the null threshold (`null_score_diff > threshold`);
* `postprocess_predictions`: every question of a split, in order.

Improvements over `utils_qa.py`: the spans are exact character spans of the original context with the
whitespace that some tokenizers' offsets include trimmed; duplicate spans from overlapping windows are merged
instead of filling the n-best list twice; the null threshold is an input, tuned on validation by the task
(`transfuse.metrics.qa.best_null_threshold`) rather than a fixed flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax

DEFAULT_N_BEST_SIZE = 20
DEFAULT_MAX_ANSWER_LENGTH = 30

Span = tuple[int, int]


def trim_span(context: str, start: int, end: int) -> Span:
    """`[start, end)` without leading and trailing whitespace."""
    while start < end and context[start].isspace():
        start += 1
    while end > start and context[end - 1].isspace():
        end -= 1
    return start, end


def window_candidates(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: Sequence[Span | None],
    n_best_size: int = DEFAULT_N_BEST_SIZE,
    max_answer_length: int = DEFAULT_MAX_ANSWER_LENGTH,
) -> list[tuple[float, Span]]:
    """`(start logit + end logit, (start_char, end_char))` of the valid pairs among the window's `n_best_size`
    best starts and ends. Logits may be longer than `offsets` (padding); only context tokens count."""
    length = len(offsets)
    context = np.array([span is not None for span in offsets], dtype=bool)
    if not context.any():
        return []
    start_logits = np.where(context, np.asarray(start_logits[:length], dtype=np.float64), -np.inf)
    end_logits = np.where(context, np.asarray(end_logits[:length], dtype=np.float64), -np.inf)
    k = min(n_best_size, int(context.sum()))
    starts = np.argsort(-start_logits, kind="stable")[:k]
    ends = np.argsort(-end_logits, kind="stable")[:k]
    s, e = np.meshgrid(starts, ends, indexing="ij")
    valid = (e >= s) & (e - s + 1 <= max_answer_length)
    scores = start_logits[s] + end_logits[e]
    return [(float(score), (offsets[i][0], offsets[j][1])) for i, j, score in zip(s[valid], e[valid], scores[valid])]


def answer_example(
    context: str,
    windows: Sequence[tuple[np.ndarray, np.ndarray, Sequence[Span | None], int]],
    version_2_with_negative: bool = False,
    null_threshold: float = 0.0,
    n_best_size: int = DEFAULT_N_BEST_SIZE,
    max_answer_length: int = DEFAULT_MAX_ANSWER_LENGTH,
) -> dict[str, Any]:
    """The answer to one question from its windows `(start_logits, end_logits, offsets, null_index)`.

    Returns `answer` (the text, `""` for no answer), `start` (its character offset, None for no answer),
    `score` (its probability), `is_impossible`, `null_score_diff` (the null score minus the best span score;
    what the threshold is compared with), `best_span` (the best span's text whatever the decision),
    `n_best` (up to `n_best_size` `{"answer", "start", "score"}`, best first), and what `decide` needs to decide
    again for another threshold (`null_probability`, `version_2_with_negative`).
    """
    spans: dict[Span, float] = {}
    null_score = np.inf
    for start_logits, end_logits, offsets, null_index in windows:
        null_score = min(null_score, float(start_logits[null_index] + end_logits[null_index]))
        candidates = window_candidates(start_logits, end_logits, offsets, n_best_size, max_answer_length)
        for score, (start, end) in candidates:
            span = trim_span(context, start, end)
            if span[1] > span[0] and score > spans.get(span, -np.inf):
                spans[span] = score
    ranked = sorted(spans.items(), key=lambda item: -item[1])[:n_best_size]
    scores = np.array([score for _, score in ranked] + ([null_score] if version_2_with_negative else []))
    probabilities = softmax(scores) if scores.size else scores
    n_best = [
        {"answer": context[start:end], "start": start, "score": float(p)}
        for ((start, end), _), p in zip(ranked, probabilities)
    ]
    null_score_diff = null_score - ranked[0][1] if ranked else np.inf
    answer = {
        "n_best": n_best,
        "null_probability": float(probabilities[-1]) if version_2_with_negative and scores.size else None,
        "null_score_diff": float(null_score_diff) if np.isfinite(null_score_diff) else None,
        "best_span": n_best[0]["answer"] if n_best else "",
        "version_2_with_negative": version_2_with_negative,
    }
    return decide(answer, null_threshold)


def decide(answer: dict[str, Any], null_threshold: float) -> dict[str, Any]:
    """`answer` (an `answer_example` result) with `answer`, `start`, `score` and `is_impossible` set for
    `null_threshold`: the best span, or, for SQuAD v2, "no answer" when `null_score_diff > null_threshold`
    (or when no span is possible at all)."""
    n_best, diff = answer["n_best"], answer["null_score_diff"]
    impossible = not n_best or (answer["version_2_with_negative"] and diff is not None and diff > null_threshold)
    if impossible and answer["version_2_with_negative"]:
        probability = answer["null_probability"]
        chosen = {"answer": "", "start": None, "score": 1.0 if probability is None else probability}
    elif n_best:
        chosen = dict(n_best[0])
    else:
        chosen = {"answer": "", "start": None, "score": 0.0}
    return {**answer, **chosen, "is_impossible": bool(impossible)}


def postprocess_predictions(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    example_indices: Sequence[int],
    offsets: Sequence[Sequence[Span | None]],
    null_indices: Sequence[int],
    contexts: Sequence[str],
    version_2_with_negative: bool = False,
    null_threshold: float = 0.0,
    n_best_size: int = DEFAULT_N_BEST_SIZE,
    max_answer_length: int = DEFAULT_MAX_ANSWER_LENGTH,
) -> list[dict[str, Any]]:
    """One `answer_example` result per context, in order, from the logits `(n_windows, length)` of all windows
    (`example_indices[w]` says which context window `w` belongs to)."""
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if start_logits.shape[0] != len(example_indices):
        raise ValueError(
            f"{start_logits.shape[0]} rows of logits for {len(example_indices)} windows: predictions and features "
            "are out of step"
        )
    by_example: list[list[int]] = [[] for _ in contexts]
    for window, example in enumerate(example_indices):
        by_example[example].append(window)
    return [
        answer_example(
            context,
            [
                (
                    start_logits[w],
                    end_logits[w],
                    [tuple(s) if s is not None else None for s in offsets[w]],
                    int(null_indices[w]),
                )
                for w in windows
            ],
            version_2_with_negative,
            null_threshold,
            n_best_size,
            max_answer_length,
        )
        for context, windows in zip(contexts, by_example)
    ]


__all__ = [
    "DEFAULT_MAX_ANSWER_LENGTH",
    "DEFAULT_N_BEST_SIZE",
    "answer_example",
    "decide",
    "postprocess_predictions",
    "trim_span",
    "window_candidates",
]
