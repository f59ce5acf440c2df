"""Small helpers shared by the metric modules: the length check of predictions against references, and
flattening nested results for loggers that keep only scalars.

Every public metric function in :mod:`transfuse.metrics` returns plain Python ``float`` / ``int`` /
``str`` / ``list`` / ``dict`` values (never numpy scalars), so results can go straight into
``json.dumps``, ``Trainer`` logs or a results file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_metrics(results: Mapping[str, Any], sep: str = "_") -> dict[str, Any]:
    """Flatten nested result dicts (e.g. ``per_class``) into ``{"per_class_pos_f1": ...}`` form.

    ``Trainer`` logging callbacks (TensorBoard, W&B) only keep scalar values; flatten a result before
    returning it from ``compute_metrics`` if the per-class numbers should be logged too.
    """
    flat: dict[str, Any] = {}
    for key, value in results.items():
        if isinstance(value, Mapping):
            for sub_key, sub_value in flatten_metrics(value, sep).items():
                flat[f"{key}{sep}{sub_key}"] = sub_value
        else:
            flat[str(key)] = value
    return flat


def check_same_length(predictions: Any, references: Any) -> None:
    """Raise a clear ``ValueError`` when predictions and references do not pair up one-to-one."""
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    if len(predictions) == 0:
        raise ValueError("predictions and references are empty")
