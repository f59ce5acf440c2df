"""SQuAD extractive question-answering metrics: exact match and token F1 (0-100 scale), v1.1 and v2.0.

``evaluate.load("squad")`` needs the Hub, so the official SQuAD evaluation scripts are reproduced here:
:func:`normalize_answer`, :func:`f1_score`, :func:`exact_match_score` and the max over the reference
answers follow ``evaluate-v1.1.py`` line for line (lower-case, strip punctuation, drop the articles
a/an/the, collapse whitespace; F1 over bag-of-tokens overlap; unanswered questions score 0). This is the
only hand-written metric in the package because this normalisation *is* the metric's definition.

SQuAD v2.0 (:func:`squad_v2_metrics`) follows ``evaluate-v2.0.py``: a question without reference answers is
unanswerable and scores 1 only for the empty prediction; the scores are also split into HasAns / NoAns; and,
given each question's null-score difference and best span, :func:`best_null_threshold` finds the threshold
that maximises F1 (the script's ``find_best_thresh``, vectorised).
"""

from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "best_null_threshold",
    "exact_match_score",
    "f1_score",
    "normalize_answer",
    "squad_metrics",
    "squad_v2_metrics",
]


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (official SQuAD v1.1)."""

    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text: str) -> str:
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction: str, ground_truth: str) -> float:
    """Token-level F1 between one prediction and one reference after normalisation (0-1)."""
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> bool:
    """Whether prediction and reference are identical after normalisation."""
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def _answers_of(reference: Any) -> list[str]:
    """Reference answers as a list of strings: a str, a list of str, or HF ``{"answers": {"text": [...]}}``."""
    if isinstance(reference, str):
        return [reference]
    if isinstance(reference, Mapping):
        answers = reference.get("answers", reference)
        if isinstance(answers, Mapping):  # datasets' columnar form {"text": [...], "answer_start": [...]}
            return list(answers["text"])
        return [a["text"] if isinstance(a, Mapping) else a for a in answers]  # raw SQuAD json form
    return list(reference)


def _is_hf_records(items: Any) -> bool:
    return isinstance(items, Sequence) and len(items) > 0 and isinstance(items[0], Mapping) and "id" in items[0]


def _to_id_dicts(predictions: Any, references: Any) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """Turn HF ``[{"id", "prediction_text"}]`` / ``[{"id", "answers"}]`` records into id-keyed dicts."""
    if _is_hf_records(predictions):
        predictions = {str(p["id"]): p["prediction_text"] for p in predictions}
    if _is_hf_records(references):
        references = {str(r["id"]): r for r in references}
    return (
        predictions if isinstance(predictions, Mapping) else None,
        references if isinstance(references, Mapping) else None,
    )


def squad_metrics(predictions: Any, references: Any) -> dict[str, float]:
    """Official SQuAD v1.1 exact match and F1, each the max over a question's reference answers, in 0-100.

    Two input styles:

    * id-keyed: ``predictions: {id: text}``, ``references: {id: [answer, ...]}``. As in the official
      script, every reference id counts; a missing prediction scores 0 (with a warning) and predictions
      for unknown ids are ignored. Hugging Face records (``[{"id", "prediction_text"}]`` and
      ``[{"id", "answers": {"text": [...], ...}}]``, i.e. what ``evaluate``'s squad takes) are accepted too.
    * positional: ``predictions: [text, ...]``, ``references: [[answer, ...], ...]`` (or one string each).

    Returns:
        ``{"exact_match": float, "f1": float}`` on a 0-100 scale.
    """
    pred_dict, ref_dict = _to_id_dicts(predictions, references)
    if (pred_dict is None) != (ref_dict is None):
        raise TypeError("predictions and references must both be id-keyed (dict / HF records) or both be lists")

    pairs: list[tuple[str, list[str]] | None] = []
    if ref_dict is not None:
        assert pred_dict is not None
        missing = [qid for qid in ref_dict if qid not in pred_dict]
        if missing:
            warnings.warn(
                f"{len(missing)} unanswered question(s) will receive score 0, e.g. {missing[:3]}",
                stacklevel=2,
            )
        for qid, ref in ref_dict.items():
            pairs.append((pred_dict[qid], _answers_of(ref)) if qid in pred_dict else None)
    else:
        if len(predictions) != len(references):
            raise ValueError(
                f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
            )
        pairs = [(pred, _answers_of(ref)) for pred, ref in zip(predictions, references)]
    if not pairs:
        raise ValueError("no questions to score: references are empty")

    exact_match = f1 = 0.0
    for pair in pairs:
        if pair is None:
            continue
        prediction, ground_truths = pair
        if not ground_truths:
            raise ValueError("every question needs at least one reference answer (SQuAD v1.1)")
        exact_match += max(float(exact_match_score(prediction, gt)) for gt in ground_truths)
        f1 += max(f1_score(prediction, gt) for gt in ground_truths)
    total = len(pairs)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# ---------------------------------------------------------------------------------------------------------
# SQuAD v2.0: unanswerable questions and the null threshold
# ---------------------------------------------------------------------------------------------------------


def _v2_tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def v2_f1_score(prediction: str, ground_truth: str) -> float:
    """`evaluate-v2.0.py`'s `compute_f1`: as v1.1, except that an empty side scores 1 only against empty."""
    prediction_tokens, ground_truth_tokens = _v2_tokens(prediction), _v2_tokens(ground_truth)
    if not prediction_tokens or not ground_truth_tokens:
        return float(prediction_tokens == ground_truth_tokens)
    return f1_score(prediction, ground_truth)


def _v2_references(answers: Sequence[str]) -> list[str]:
    """The script's gold answers: those that normalise to something, else `[""]` (an unanswerable question)."""
    kept = [answer for answer in answers if normalize_answer(answer)]
    return kept or [""]


def _v2_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    exact, f1 = np.zeros(len(predictions)), np.zeros(len(predictions))
    for i, (prediction, answers) in enumerate(zip(predictions, references)):
        golds = _v2_references(answers)
        exact[i] = max(float(exact_match_score(prediction, gold)) for gold in golds)
        f1[i] = max(v2_f1_score(prediction, gold) for gold in golds)
    return exact, f1


def best_null_threshold(
    null_score_diffs: Sequence[float],
    span_scores: Sequence[float],
    has_answer: Sequence[bool],
    null_scores: Sequence[float] | None = None,
) -> tuple[float, float]:
    """The null-score threshold that maximises the mean score, and that score (0-100).

    A question is answered "no answer" when its `null_score_diff` (null score minus best span score) is above
    the threshold, and with its best span otherwise. `span_scores[i]` is what question i scores when its best
    span is given (EM or F1 against its references), `null_scores[i]` what it scores when the empty answer is
    given (default: 1 for an unanswerable question, 0 otherwise, as in SQuAD v2). The threshold returned lies
    halfway between two neighbouring differences (1 beyond the extremes), so that it separates the same
    questions on data scored slightly differently (bf16, another batch size); among equal scores the lowest
    threshold wins, as in `evaluate-v2.0.py`'s `find_best_thresh`.
    """
    diffs = np.asarray(null_score_diffs, dtype=np.float64)
    if diffs.size == 0:
        raise ValueError("best_null_threshold needs at least one question")
    answered = np.asarray(span_scores, dtype=np.float64)
    unanswered = (
        np.asarray(null_scores, dtype=np.float64)
        if null_scores is not None
        else 1.0 - np.asarray(has_answer, dtype=np.float64)
    )
    order = np.argsort(diffs, kind="stable")
    diffs, gains = diffs[order], (answered - unanswered)[order]
    # score after answering the k lowest-difference questions (k = 0..n); only whole groups of ties count
    totals = unanswered.sum() + np.concatenate([[0.0], np.cumsum(gains)])
    group_ends = np.concatenate([np.flatnonzero(diffs[1:] != diffs[:-1]) + 1, [diffs.size]])
    candidates = np.concatenate([[0], group_ends])
    best = candidates[int(np.argmax(totals[candidates]))]
    if best == 0:
        threshold = diffs[0] - 1.0
    elif best == diffs.size:
        threshold = diffs[-1] + 1.0
    else:
        threshold = (diffs[best - 1] + diffs[best]) / 2.0
    return float(threshold), float(100.0 * totals[best] / diffs.size)


def squad_v2_metrics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    null_score_diffs: Sequence[float] | None = None,
    best_spans: Sequence[str] | None = None,
) -> dict[str, float]:
    """Official SQuAD v2.0 exact match and F1 (0-100), overall and split into HasAns / NoAns.

    Args:
        predictions: the answer given for each question, `""` for "no answer".
        references: each question's reference answers; an empty list marks an unanswerable question.
        null_score_diffs, best_spans: each question's null score minus its best span score, and that best span
            (whatever the threshold decided); with both, `best_f1` / `best_exact_match` and their thresholds
            say what the best threshold would have scored on these questions.

    Returns:
        `exact_match`, `f1`, `total`, `has_ans_exact_match`, `has_ans_f1`, `has_ans_total`, `no_ans_*` (the
        split scores are absent when the split is empty) and, with the null scores, `best_exact_match`,
        `best_exact_match_threshold`, `best_f1`, `best_f1_threshold`.
    """
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    if not predictions:
        raise ValueError("no questions to score: references are empty")
    has_answer = np.array([any(normalize_answer(answer) for answer in answers) for answers in references])
    exact, f1 = _v2_scores(predictions, references)
    metrics: dict[str, float] = {
        "exact_match": float(100.0 * exact.mean()),
        "f1": float(100.0 * f1.mean()),
        "total": len(predictions),
    }
    for name, mask in (("has_ans", has_answer), ("no_ans", ~has_answer)):
        if mask.any():
            metrics[f"{name}_exact_match"] = float(100.0 * exact[mask].mean())
            metrics[f"{name}_f1"] = float(100.0 * f1[mask].mean())
            metrics[f"{name}_total"] = int(mask.sum())
    if (null_score_diffs is None) != (best_spans is None):
        raise ValueError("pass both null_score_diffs and best_spans (to tune the threshold), or neither")
    if null_score_diffs is not None:
        if not (len(null_score_diffs) == len(best_spans) == len(predictions)):
            raise ValueError("null_score_diffs and best_spans need one value per question")
        span_exact, span_f1 = _v2_scores(best_spans, references)
        null_exact, null_f1 = _v2_scores([""] * len(references), references)
        for name, span, null in (("exact_match", span_exact, null_exact), ("f1", span_f1, null_f1)):
            threshold, best = best_null_threshold(null_score_diffs, span, has_answer, null)
            metrics[f"best_{name}"], metrics[f"best_{name}_threshold"] = best, threshold
    return metrics
