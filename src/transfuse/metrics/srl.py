"""Semantic-role-labelling metrics: span-level precision/recall/F1 over BIO tags, computed by seqeval.

Standard CoNLL-2005 scoring (``srl-eval.pl``) counts exact argument spans and leaves out the predicate
span ``V`` -- tagging the verb you were given is free, so counting it would inflate every score. seqeval
has no option to ignore a type, so :func:`srl_metrics` relabels the tags of excluded types to ``O`` in
both predictions and references (the spans of other roles are unchanged by this) and then takes the micro
average and the per-role report from ``seqeval.metrics.classification_report``.

Role types are whatever follows the ``B-``/``I-`` prefix, so continuation and reference roles
(``B-C-A1``, ``B-R-A0``) are roles of their own, as in CoNLL-2005.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

__all__ = ["srl_metrics"]


def _drop_types(tags: Sequence[str], excluded: frozenset[str]) -> list[str]:
    """Replace ``B-X``/``I-X`` by ``O`` for every excluded type ``X`` (seqeval's prefix convention)."""
    return ["O" if len(tag) > 2 and tag[1] == "-" and tag[2:] in excluded else tag for tag in tags]


def srl_metrics(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    exclude_labels: Iterable[str] = ("V",),
    strict: bool = False,
) -> dict[str, Any]:
    """Micro-averaged span precision/recall/F1 and a per-role report from BIO tag sequences.

    Args:
        predictions: one tag sequence per (sentence, predicate), e.g. ``["B-A0", "I-A0", "B-V", "O"]``.
        references: gold tag sequences, same lengths as ``predictions``.
        exclude_labels: span types left out of all counts (default ``("V",)``, the CoNLL-2005 convention;
            pass ``()`` for plain seqeval/conlleval scoring, e.g. NER).
        strict: ``False`` (default) decodes spans like conlleval (an ``I-X`` after ``O`` opens a span);
            ``True`` uses seqeval's strict IOB2 mode, where only well-formed ``B-X I-X*`` spans count.

    Returns:
        ``{"precision", "recall", "f1", "per_role"}`` with 0-1 floats; ``per_role`` maps each role seen in
        predictions or references to ``{"precision", "recall", "f1", "support"}``. With no spans at all
        the scores are 0.0.
    """
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        if len(pred) != len(ref):
            raise ValueError(f"example {i}: {len(pred)} predicted tags but {len(ref)} reference tags")
    excluded = frozenset(exclude_labels)
    y_pred = [_drop_types(list(seq), excluded) for seq in predictions]
    y_true = [_drop_types(list(seq), excluded) for seq in references]

    kwargs: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if strict else {}
    with warnings.catch_warnings():
        # numpy warns "Mean of empty slice" for the macro/weighted averages when there are no spans at all;
        # those rows are discarded below and the micro average then falls back to 0.0.
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(y_true, y_pred, output_dict=True, zero_division=0, **kwargs)
    per_role = {
        role: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for role, row in report.items()
        if not role.endswith(" avg")
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_role": per_role,
    }
