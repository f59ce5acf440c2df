"""Offline evaluation metrics for the transfuse task modules.

One module per application, each a set of plain functions over numpy arrays / Python lists (no torch)
that return JSON-serialisable dicts of plain Python numbers:

* :mod:`.classification` -- :func:`classification_metrics`, :func:`multilabel_metrics`,
  :func:`regression_metrics` (scikit-learn, scipy);
* :mod:`.qa` -- :func:`squad_metrics` and :func:`squad_v2_metrics`, the official SQuAD v1.1 / v2.0 exact
  match and F1 (v2: HasAns / NoAns and the F1-maximising null threshold);
* :mod:`.translation` -- :func:`translation_metrics`, corpus BLEU and chrF (sacrebleu);
* :mod:`.srl` -- :func:`srl_metrics`, span F1 from BIO tags with ``V`` excluded (seqeval), and
  :func:`conll05_metrics`, the same with the official ``srl-eval.pl`` conventions (``C-X`` joins its ``X``).

:mod:`.hf_evaluate` wraps them as ``evaluate.Metric`` subclasses (``ClassificationMetric``,
``MultilabelMetric``, ``RegressionMetric``, ``SquadMetric``, ``TranslationMetric``, ``SrlMetric``) that
work with ``evaluate.combine`` without the Hub, and :func:`load_metric` maps familiar ``evaluate`` names to
them. Everything here works offline, unlike ``evaluate.load(...)``.

Names are imported lazily on first access: the metric functions only pull in their own library, and the
``evaluate`` wrappers (whose import drags in transformers and torch, several seconds) load only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._common import flatten_metrics
    from .classification import classification_metrics, multilabel_metrics, regression_metrics
    from .hf_evaluate import (
        ClassificationMetric,
        MultilabelMetric,
        RegressionMetric,
        SquadMetric,
        SrlMetric,
        TranslationMetric,
        available_metrics,
        load_metric,
    )
    from .qa import normalize_answer, squad_metrics, squad_v2_metrics
    from .srl import conll05_metrics, srl_metrics
    from .translation import translation_metrics

_LAZY: dict[str, str] = {
    "flatten_metrics": "._common",
    "classification_metrics": ".classification",
    "multilabel_metrics": ".classification",
    "regression_metrics": ".classification",
    "normalize_answer": ".qa",
    "squad_metrics": ".qa",
    "squad_v2_metrics": ".qa",
    "translation_metrics": ".translation",
    "srl_metrics": ".srl",
    "conll05_metrics": ".srl",
    "ClassificationMetric": ".hf_evaluate",
    "MultilabelMetric": ".hf_evaluate",
    "RegressionMetric": ".hf_evaluate",
    "SquadMetric": ".hf_evaluate",
    "TranslationMetric": ".hf_evaluate",
    "SrlMetric": ".hf_evaluate",
    "available_metrics": ".hf_evaluate",
    "load_metric": ".hf_evaluate",
}

__all__ = [
    "ClassificationMetric",
    "MultilabelMetric",
    "RegressionMetric",
    "SquadMetric",
    "SrlMetric",
    "TranslationMetric",
    "available_metrics",
    "classification_metrics",
    "conll05_metrics",
    "flatten_metrics",
    "load_metric",
    "multilabel_metrics",
    "normalize_answer",
    "regression_metrics",
    "squad_metrics",
    "squad_v2_metrics",
    "srl_metrics",
    "translation_metrics",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
