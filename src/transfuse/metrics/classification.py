"""Sequence-level classification and regression metrics (GLUE-style tasks).

Thin, offline wrappers over scikit-learn and scipy so every task module reports the same keys:

* :func:`classification_metrics` -- single-label classification (accuracy, macro-F1, MCC, per-class report),
* :func:`multilabel_metrics` -- multi-label 0/1 indicator matrices (micro/macro F1, subset accuracy),
* :func:`regression_metrics` -- real-valued targets such as STS-B (Pearson, Spearman, MSE).

Nothing here is computed by hand: the numbers are exactly scikit-learn's / scipy's, converted to plain
Python floats so results are JSON-serialisable. Each function imports them when called: `predict` scores
nothing, and importing scikit-learn and scipy.stats costs every command about 0.6 s of start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import check_same_length

__all__ = ["classification_metrics", "multilabel_metrics", "regression_metrics"]


def _per_class_report(
    references: np.ndarray, predictions: np.ndarray, labels: Sequence[int], names: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """Per-label precision/recall/f1/support from sklearn's ``classification_report`` (aggregates dropped)."""
    from sklearn.metrics import classification_report

    report = classification_report(
        references,
        predictions,
        labels=list(labels),
        target_names=list(names),
        output_dict=True,
        zero_division=0,
    )
    return {
        name: {
            "precision": float(report[name]["precision"]),
            "recall": float(report[name]["recall"]),
            "f1": float(report[name]["f1-score"]),
            "support": int(report[name]["support"]),
        }
        for name in names
    }


def classification_metrics(
    predictions: Any, references: Any, label_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Accuracy, macro-F1, Matthews correlation and a per-class report for single-label classification.

    Args:
        predictions: predicted label ids, shape ``(n,)``. A 2-D array ``(n, num_labels)`` of scores/logits
            is accepted too and reduced with ``argmax`` over the last axis.
        references: gold label ids, shape ``(n,)``.
        label_names: optional names for label ids ``0..len(label_names)-1``. When given, the per-class
            report lists every name (classes absent from the data get zeros); ids outside that range raise.
            When omitted, the report covers the ids that occur, named ``str(id)``.

    Returns:
        ``{"accuracy", "f1_macro", "matthews_correlation", "per_class"}`` where ``per_class`` maps each label
        name to ``{"precision", "recall", "f1", "support"}``. ``f1_macro`` averages over the labels that occur
        in predictions or references (scikit-learn's default, as in ``evaluate``'s f1 with average="macro").
    """
    preds = np.asarray(predictions)
    refs = np.asarray(references)
    if preds.ndim == 2:
        preds = preds.argmax(axis=-1)
    preds = preds.reshape(-1)
    refs = refs.reshape(-1)
    check_same_length(preds, refs)

    if label_names is None:
        labels = [int(x) for x in np.unique(np.concatenate([refs, preds]))]
        names = [str(x) for x in labels]
    else:
        names = [str(x) for x in label_names]
        labels = list(range(len(names)))
        seen = np.unique(np.concatenate([refs, preds]))
        unknown = [int(x) for x in seen if int(x) not in set(labels)]
        if unknown:
            raise ValueError(f"label ids {unknown} are outside label_names (0..{len(names) - 1})")

    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    return {
        "accuracy": float(accuracy_score(refs, preds)),
        "f1_macro": float(f1_score(refs, preds, average="macro", zero_division=0)),
        "matthews_correlation": float(matthews_corrcoef(refs, preds)),
        "per_class": _per_class_report(refs, preds, labels, names),
    }


def multilabel_metrics(predictions: Any, references: Any, label_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Micro/macro F1, subset accuracy and a per-label report for multi-label 0/1 indicator matrices.

    Args:
        predictions: 0/1 matrix ``(n, num_labels)`` (threshold scores before calling).
        references: 0/1 matrix ``(n, num_labels)``.
        label_names: optional names of the ``num_labels`` columns (default ``"0"``, ``"1"``, ...).

    Returns:
        ``{"f1_micro", "f1_macro", "subset_accuracy", "per_class"}``; ``subset_accuracy`` is the fraction of
        rows whose whole label set is predicted exactly (sklearn ``accuracy_score`` on indicator matrices).
    """
    preds = np.asarray(predictions).astype(int)
    refs = np.asarray(references).astype(int)
    if preds.ndim != 2 or preds.shape != refs.shape:
        raise ValueError(
            f"multilabel predictions and references must be 2-D 0/1 matrices of equal shape, "
            f"got {preds.shape} and {refs.shape}"
        )
    check_same_length(preds, refs)
    n_labels = refs.shape[1]
    names = [str(i) for i in range(n_labels)] if label_names is None else [str(x) for x in label_names]
    if len(names) != n_labels:
        raise ValueError(f"got {len(names)} label_names for {n_labels} label columns")

    from sklearn.metrics import accuracy_score, f1_score

    return {
        "f1_micro": float(f1_score(refs, preds, average="micro", zero_division=0)),
        "f1_macro": float(f1_score(refs, preds, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(refs, preds)),
        "per_class": _per_class_report(refs, preds, list(range(n_labels)), names),
    }


def regression_metrics(predictions: Any, references: Any) -> dict[str, float]:
    """Pearson and Spearman correlation (scipy) and mean squared error (sklearn) for real-valued targets.

    ``predictions`` may be ``(n,)`` or ``(n, 1)`` (what a one-output regression head returns). Correlations
    are ``nan`` when either side is constant (scipy's behaviour); at least two examples are needed.

    Returns:
        ``{"pearson", "spearman", "mse"}`` as plain floats.
    """
    preds = np.asarray(predictions, dtype=float)
    refs = np.asarray(references, dtype=float)
    if preds.ndim == 2 and preds.shape[1] == 1:
        preds = preds[:, 0]
    if refs.ndim == 2 and refs.shape[1] == 1:
        refs = refs[:, 0]
    if preds.ndim != 1 or refs.ndim != 1:
        raise ValueError(f"regression predictions/references must be 1-D, got {preds.shape} and {refs.shape}")
    check_same_length(preds, refs)
    from scipy import stats
    from sklearn.metrics import mean_squared_error

    return {
        "pearson": float(stats.pearsonr(preds, refs).statistic),
        "spearman": float(stats.spearmanr(preds, refs).statistic),
        "mse": float(mean_squared_error(refs, preds)),
    }
