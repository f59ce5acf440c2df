"""SQuAD v1.1 extractive question-answering metrics: exact match and token F1 (0-100 scale).

``evaluate.load("squad")`` needs the Hub, so the official SQuAD v1.1 evaluation script is reproduced here:
:func:`normalize_answer`, :func:`f1_score`, :func:`exact_match_score` and the max over the reference
answers follow ``evaluate-v1.1.py`` line for line (lower-case, strip punctuation, drop the articles
a/an/the, collapse whitespace; F1 over bag-of-tokens overlap; unanswered questions score 0). This is the
only hand-written metric in the package because this normalisation *is* the metric's definition.

No SQuAD v2 "no answer" handling: every question needs at least one reference answer.
"""

from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["exact_match_score", "f1_score", "normalize_answer", "squad_metrics"]


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
    return (
        isinstance(items, Sequence) and len(items) > 0 and isinstance(items[0], Mapping) and "id" in items[0]
    )


def _to_id_dicts(
    predictions: Any, references: Any
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
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
        raise TypeError(
            "predictions and references must both be id-keyed (dict / HF records) or both be lists"
        )

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
